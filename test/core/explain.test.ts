import { describe, expect, it } from 'vitest'
import { createAttemptRecord } from '../../src/core/attempt.ts'
import { QueueFullError, explain } from '../../src/index.ts'

describe('explain', () => {
  it('summarizes a response and each attempt with its decision', () => {
    const first = createAttemptRecord(1, 'GET', 'https://api', '/charges/42?token=secret', 0)
    Object.assign(first, {
      statusCode: 503,
      outcome: 'overload',
      timeToHeaders: 11,
      duration: 12,
      decision: { action: 'retry', reason: 'status 503 is retryable', delay: 87 },
    })
    const second = createAttemptRecord(2, 'GET', 'https://api', '/charges/42?token=secret', 99)
    Object.assign(second, { statusCode: 200, outcome: 'success', timeToHeaders: 20, duration: 25 })
    const text = explain({ statusCode: 200, attempts: [first, second] })
    expect(text).toBe(
      [
        'GET https://api/charges/42?… got 200 after 2 attempts in 124 ms',
        '  #1 at +0.0 ms: 503 [overload] (headers 11 ms, total 12 ms) -> retry in 87 ms: status 503 is retryable',
        '  #2 at +99 ms: 200 (headers 20 ms, total 25 ms)',
      ].join('\n'),
    )
    expect(text).not.toContain('secret')
  })

  it('says when nothing was sent', () => {
    expect(explain(new QueueFullError('queue full'))).toBe(
      'call failed with NQ_QUEUE_FULL (queue full) before any attempt was sent',
    )
  })

  it('copes with values that are not errors', () => {
    expect(explain(undefined)).toContain('before any attempt')
  })
})
