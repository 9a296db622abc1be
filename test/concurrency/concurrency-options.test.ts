import { describe, expect, it } from 'vitest'
import {
  AbortedError,
  InvalidOptionError,
  concurrencyLayer,
  createClient,
  type ClientOptions,
  type LimitChangeEvent,
} from '../../src/index.ts'
import { resolveConcurrencyOptions } from '../../src/concurrency/concurrency-options.ts'
import { VirtualClock } from '../../src/testing/index.ts'
import { track, virtualOrigin } from '../support/virtual-origin.ts'

describe('concurrency options', () => {
  it('is on unless false: AIMD from 20 to 200, a queue of 10,000, 1 s while struggling', () => {
    expect(resolveConcurrencyOptions('concurrency', false)).toBe(false)
    for (const option of [undefined, true, {}]) {
      const resolved = resolveConcurrencyOptions('concurrency', option)
      expect(resolved).toMatchObject({ maxQueue: 10_000, maxQueueWait: 1000, maxLimit: 200 })
      expect(resolved && resolved.createLimit().limit).toBe(20)
    }
    const fixed = resolveConcurrencyOptions('concurrency', { limit: 64 })
    expect(fixed && [fixed.maxLimit, fixed.createLimit().limit]).toEqual([64, 64])
    const delay = resolveConcurrencyOptions('concurrency', { algorithm: 'delay' })
    expect(delay && [delay.maxLimit, delay.createLimit().limit]).toEqual([200, 20])
  })

  it.each([
    ['concurrency', 'on'],
    ['concurrency.limit', { limit: 0 }],
    ['concurrency.algorithm', { limit: 5, algorithm: 'aimd' }],
    ['concurrency.minLimit', { limit: 5, minLimit: 2 }],
    ['concurrency.algorithm', { algorithm: 'vegas' }],
    ['concurrency.backoffRatio', { algorithm: 'delay', backoffRatio: 0.5 }],
    ['concurrency.tolerance', { algorithm: 'delay', tolerance: 1 }],
    ['concurrency.backoffRatio', { backoffRatio: 1 }],
    ['concurrency.rttTolerance', { rttTolerance: 2 }],
    ['concurrency.maxLimit', { minLimit: 50, maxLimit: 10 }],
    ['concurrency.maxQueueWait', { maxQueueWait: 0 }],
  ])('rejects a bad %s, naming it', (name, value) => {
    expect(() => createClient({ concurrency: value } as ClientOptions)).toThrow(InvalidOptionError)
    expect(() => createClient({ concurrency: value } as ClientOptions)).toThrow(
      `invalid option ${name}:`,
    )
  })

  it('rejects a bad onLimitChange', () => {
    expect(() => createClient({ onLimitChange: 1 } as never)).toThrow(
      'invalid option onLimitChange',
    )
    expect(() => concurrencyLayer({ onLimitChange: 1 } as never)).toThrow(
      'invalid option onLimitChange',
    )
  })
})

describe('the concurrency layer in the client', () => {
  it('takes its place back from a layer below that throws synchronously', async () => {
    const clock = new VirtualClock()
    let broken = true
    const client = createClient({
      origin: 'http://virtual.test',
      clock,
      middleware: () => [
        concurrencyLayer({ limit: 1 }),
        (request, next) => {
          if (broken) throw new TypeError('a bug below the limiter')
          return next(request)
        },
        virtualOrigin(() => ({ status: 200, latency: 1 })),
      ],
    })
    const first = track(clock, client.request('/'))
    await clock.advance(0)
    expect(first.error).toBeInstanceOf(TypeError)
    broken = false
    const second = track(clock, client.request('/'))
    await clock.advance(1)
    expect(second.value?.statusCode).toBe(200)
    await client.close()
  })

  it('lets calls in flight end when their origin’s state is evicted, and starts it afresh', async () => {
    // The breaker and the limiter find a first attempt's circuit and limiter again in the origin's
    // state when it ends: after an eviction there is none, and nothing is given back.
    const clock = new VirtualClock()
    const client = createClient({
      clock,
      maxOrigins: 1,
      middleware: (defaults) => [
        ...defaults,
        virtualOrigin((_attempt, request) => ({
          status: 200,
          latency: request.origin === 'http://a.test' ? 100 : 1,
        })),
      ],
    })
    const answered = track(clock, client.request('http://a.test/'))
    const caller = new AbortController()
    const aborted = track(clock, client.request('http://a.test/', { signal: caller.signal }))
    const other = track(clock, client.request('http://b.test/'))
    await clock.advance(1)
    expect(other.value?.statusCode).toBe(200)
    expect(client.limiters?.list().map((l) => l.origin)).toEqual(['http://b.test'])
    caller.abort(new Error('gave up'))
    await clock.advance(100)
    expect(answered.value?.statusCode).toBe(200)
    expect(aborted.error).toBeInstanceOf(AbortedError)
    const again = track(clock, client.request('http://a.test/'))
    await clock.advance(100)
    expect(again.value?.statusCode).toBe(200)
    expect(client.limiters?.get('http://a.test')?.inFlight).toBe(0)
    expect(client.circuits?.get('http://a.test').state).toBe('closed')
    await client.close()
  })

  it('reports each change of an adaptive limit to onLimitChange', async () => {
    const clock = new VirtualClock()
    const changes: LimitChangeEvent[] = []
    const client = createClient({
      origin: 'http://virtual.test',
      clock,
      retry: false,
      concurrency: { initialLimit: 2, minLimit: 1, maxLimit: 3 },
      onLimitChange: (e) => changes.push(e),
      middleware: (defaults) => [...defaults, virtualOrigin(() => ({ status: 200, latency: 10 }))],
    })
    const calls = Array.from({ length: 4 }, () => track(clock, client.request('/')))
    await clock.advance(100)
    expect(calls.every((c) => c.value?.statusCode === 200)).toBe(true)
    expect(changes).toEqual([{ origin: 'http://virtual.test', from: 2, to: 3 }])
    await client.close()
  })
})
