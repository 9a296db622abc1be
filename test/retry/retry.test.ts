import { describe, expect, it } from 'vitest'
import {
  AbortedError,
  DeadlineExceededError,
  createClient,
  type Middleware,
} from '../../src/index.ts'
import { VirtualClock, seededRandom } from '../../src/testing/index.ts'
import { noteAttemptError, startAttempt } from '../../src/core/attempt.ts'
import { track, virtualClient, virtualOrigin, type SeenAttempt } from '../support/virtual-origin.ts'

const statuses =
  (...list: number[]) =>
  (n: number) => ({
    status: list[Math.min(n, list.length) - 1] as number,
    latency: 10,
  })

describe('retries on virtual time', () => {
  it('retries a GET that gets 503, 503, 200 after full-jitter waits within their bounds', async () => {
    const { clock, client, seen } = virtualClient(statuses(503, 503, 200))
    const call = track(clock, client.request('/'))
    await clock.advance(1000)
    expect(call.value?.statusCode).toBe(200)
    const [first, second] = call.value?.attempts ?? []
    expect(first?.decision).toMatchObject({ action: 'retry', code: 'retryable' })
    expect(first?.decision?.delay).toBeLessThan(100)
    expect(second?.decision?.delay).toBeLessThan(200)
    // Each attempt starts when the previous one ended plus its wait, to the ms.
    expect(seen.map((s) => s.at)).toEqual([
      0,
      10 + (first?.decision?.delay ?? NaN),
      20 + (first?.decision?.delay ?? NaN) + (second?.decision?.delay ?? NaN),
    ])
    expect(clock.pendingTimers).toBe(0)
  })

  it('replays the same waits from the same seed', async () => {
    const delays = async () => {
      const { clock, client } = virtualClient(statuses(503), { random: seededRandom(42) })
      const call = track(clock, client.request('/'))
      await clock.advance(5000)
      return call.value?.attempts.map((a) => a.decision?.delay)
    }
    const first = await delays()
    expect(first).toHaveLength(3)
    expect(await delays()).toEqual(first)
  })

  it('hands over the last 503 when no retries are left, saying so', async () => {
    const { clock, client, seen } = virtualClient(statuses(503), { retry: { maxRetries: 1 } })
    const call = track(clock, client.request('/'))
    await clock.advance(1000)
    expect(call.value?.statusCode).toBe(503)
    expect(seen).toHaveLength(2)
    expect(call.value?.attempts[1]?.decision).toMatchObject({
      action: 'return',
      code: 'retries-exhausted',
    })
  })

  it('waits exactly as long as Retry-After: 2 asks', async () => {
    const { clock, client, seen } = virtualClient((n) =>
      n === 1
        ? { status: 503, latency: 10, headers: { 'retry-after': '2' } }
        : { status: 200, latency: 10 },
    )
    const call = track(clock, client.request('/'))
    await clock.advance(2009)
    expect(seen).toHaveLength(1)
    await clock.advance(1)
    expect(seen.map((s) => s.at)).toEqual([0, 2010])
    await clock.advance(10)
    expect(call.value?.statusCode).toBe(200)
    expect(call.value?.attempts[0]?.decision).toMatchObject({
      action: 'retry',
      delay: 2000,
      delaySource: 'server',
    })
  })

  it('honours an HTTP-date hint against the wall clock', async () => {
    const clock = new VirtualClock()
    const at = new Date(clock.wallNow() + 3000).toUTCString()
    const { client, seen } = virtualClient(
      (n) =>
        n === 1
          ? { status: 429, latency: 0, headers: { 'retry-after': at } }
          : { status: 200, latency: 0 },
      { clock },
    )
    track(clock, client.request('/'))
    await clock.advance(5000)
    expect(seen.map((s) => s.at)).toEqual([0, 3000])
  })

  it('hands the response back at once when Retry-After is longer than the time left', async () => {
    const { clock, client, seen } = virtualClient(
      () => ({ status: 503, latency: 100, headers: { 'retry-after': '60' } }),
      { deadline: 5000 },
    )
    const call = track(clock, client.request('/'))
    await clock.advance(10_000)
    expect(call.settledAt).toBe(100)
    expect(call.error).toBeUndefined()
    const response = call.value as NonNullable<typeof call.value>
    expect(response.statusCode).toBe(503)
    expect(response.headers['retry-after']).toBe('60')
    expect(response.attempts[0]?.decision).toEqual({
      action: 'return',
      code: 'deadline',
      reason:
        'status 503 is retryable, but the deadline is too near: the server asks to wait 60000 ms (retry-after: 60), and 4900 ms are left for it and an attempt of at least 10 ms',
    })
    await response.body.dump()
    expect(seen).toHaveLength(1)
    expect(clock.pendingTimers).toBe(0)
  })

  it('hands over the last response at once when the backoff does not fit the deadline', async () => {
    const { clock, client } = virtualClient(statuses(503), {
      deadline: 1000,
      retry: { delay: () => 5000 },
    })
    const call = track(clock, client.request('/'))
    await clock.advance(2000)
    expect(call.settledAt).toBe(10)
    expect(call.value?.statusCode).toBe(503)
    expect(call.value?.attempts[0]?.decision?.code).toBe('deadline')
  })

  it('ends the wait at once when the caller aborts, clears its timer and sends nothing more', async () => {
    const { clock, client, seen } = virtualClient(statuses(503), {
      retry: { delay: () => 10_000 },
    })
    const controller = new AbortController()
    const call = track(clock, client.request('/', { signal: controller.signal }))
    await clock.advance(100)
    expect(call.settledAt).toBeUndefined()
    controller.abort()
    await clock.advance(0)
    expect(call.error).toBeInstanceOf(AbortedError)
    expect(call.settledAt).toBe(100)
    expect(clock.pendingTimers).toBe(0)
    await clock.advance(20_000)
    expect(seen).toHaveLength(1)
    const { attempts } = call.error as AbortedError
    expect(attempts[0]?.decision).toMatchObject({ action: 'fail', code: 'aborted' })
    expect(attempts[0]?.decision?.reason).toContain('aborted during the 10000 ms wait')
  })

  it('does not retry a call aborted as its retryable response arrived: the abort is the answer', async () => {
    const clock = new VirtualClock()
    const seen: SeenAttempt[] = []
    const controller = new AbortController()
    // Aborts just after the 503 arrives, before the retry policy sees it.
    const abortOnResponse: Middleware = (request, next) =>
      next(request).then((response) => {
        controller.abort()
        return response
      })
    let asked = 0
    const client = createClient({
      origin: 'http://virtual.test',
      clock,
      retry: { shouldRetry: () => void asked++ },
      middleware: (defaults) => [
        // Just below the retry layer (after the deadline and the throttle).
        ...defaults.slice(0, 3),
        abortOnResponse,
        ...defaults.slice(3),
        virtualOrigin(statuses(503), seen),
      ],
    })
    const call = track(clock, client.request('/', { signal: controller.signal }))
    await clock.advance(1000)
    expect(call.settledAt).toBe(10)
    expect(call.error).toBeInstanceOf(AbortedError)
    expect(seen).toHaveLength(1)
    // Nothing is judged once the call is over.
    expect(asked).toBe(0)
    expect((call.error as AbortedError).attempts[0]?.decision?.reason).toBe('the caller aborted')
  })

  it('asks shouldRetry about every outcome, and records a declined retry', async () => {
    const asked: number[] = []
    const { clock, client } = virtualClient(statuses(404, 200, 503), {
      retry: {
        shouldRetry: ({ response }) => {
          asked.push(response?.statusCode ?? 0)
          return response?.statusCode === 404 ? true : undefined
        },
      },
    })
    const first = track(clock, client.request('/'))
    await clock.advance(1000)
    expect(asked).toEqual([404, 200])
    expect(first.value?.attempts.map((a) => a.decision?.reason)).toEqual([
      expect.stringMatching(/^shouldRetry chose to retry \(status 404 is not retryable\)/),
      'response handed to the caller',
    ])
  })

  it('lets a request turn retries off, or change them, for itself', async () => {
    // Nine 503s in a row would open the circuit: the retries alone are under test.
    const { clock, client, seen } = virtualClient(statuses(503), { breaker: false })
    track(clock, client.request('/', { retry: false }))
    await clock.advance(1000)
    expect(seen).toHaveLength(1)
    track(clock, client.request('/', { retry: { maxRetries: 4, delay: () => 1 } }))
    await clock.advance(1000)
    expect(seen).toHaveLength(6)
    // A background job's 10 retries, with the budget off (it would refuse most of them).
    const job = track(
      clock,
      client.request('/', { retry: { maxRetries: 10, delay: () => 1, budget: false } }),
    )
    await clock.advance(1000)
    expect(seen).toHaveLength(17)
    expect(job.value?.attempts.at(-1)?.decision?.code).toBe('retries-exhausted')
  })

  it('lets a request turn retries on when the client has them off', async () => {
    const { clock, client, seen } = virtualClient(statuses(503), { retry: false })
    track(clock, client.request('/', { retry: {} }))
    await clock.advance(1000)
    expect(seen).toHaveLength(3)
  })
})

describe('the error that ends a call names what its attempts met (issue 34 C)', () => {
  it("a deadline after refused connects carries the last attempt's ECONNREFUSED as its cause", async () => {
    const clock = new VirtualClock()
    // Every attempt is refused after 40 ms, as a far port refuses a connect: never sent. The
    // deadline passes during the last one.
    const refused: Middleware = async (request) => {
      const record = startAttempt(request)
      record.sent = false
      let error: unknown = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
        code: 'ECONNREFUSED',
      })
      try {
        await request.clock.sleep(40, request.cancellation.signal)
      } catch (reason) {
        error = reason
      }
      record.duration = request.clock.now() - request.startTime - record.start
      record.error = (error as { code: string }).code
      noteAttemptError(error, record)
      throw error
    }
    const client = createClient({
      origin: 'http://virtual.test',
      clock,
      random: seededRandom(1),
      deadline: 300,
      middleware: (defaults) => [...defaults, refused],
    })
    const call = track(clock, client.request('/'))
    await clock.advance(1_000)
    const error = call.error as DeadlineExceededError
    expect(error).toBeInstanceOf(DeadlineExceededError)
    expect(error.message).toMatch(
      /^the call's deadline of 300 ms passed; 4 attempts made; attempt 3 failed with ECONNREFUSED \(connect ECONNREFUSED 127\.0\.0\.1:1\)$/,
    )
    expect((error.cause as { code?: string }).code).toBe('ECONNREFUSED')
  })
})
