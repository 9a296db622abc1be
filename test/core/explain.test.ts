import { describe, expect, it } from 'vitest'
import { createAttemptRecord } from '../../src/core/attempt-record.ts'
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

  it('copes with values that are not errors, and claims nothing it has no record of', () => {
    expect(explain(undefined)).toBe(
      "call failed with undefined; it carries no attempt record (not an error or response of netiquette's)",
    )
    // An error from elsewhere may well have sent requests: no record, no claim.
    expect(explain(new TypeError('fetch failed'))).not.toContain('before any attempt')
  })

  it('finds the record on a cause, as the global fetch and SDKs wrap our errors', () => {
    const inner = Object.assign(new Error('deadline exceeded'), {
      code: 'NQ_DEADLINE_EXCEEDED',
      attempts: [
        {
          number: 1,
          method: 'GET',
          origin: 'http://api.test',
          path: '/slow',
          start: 0,
          duration: 1000,
          error: 'NQ_ATTEMPT_TIMEOUT',
        },
      ],
    })
    const sdkError = new Error('Connection error.', {
      cause: new TypeError('fetch failed', { cause: inner }),
    })
    const text = explain(sdkError)
    expect(text).toMatch(
      /^GET http:\/\/api\.test\/slow failed with .*Connection error.*caused by NQ_DEADLINE_EXCEEDED .* after 1 attempt in 1000 ms/,
    )
    expect(text).toContain('#1 at +0.0 ms: NQ_ATTEMPT_TIMEOUT (total 1000 ms)')
    // A cycle in the chain ends the search rather than the process.
    const looped = new Error('loop') as Error & { cause?: unknown }
    looped.cause = looped
    expect(explain(looped)).toContain('no attempt record')
  })
})
