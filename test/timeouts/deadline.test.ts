import { describe, expect, it } from 'vitest'
import {
  AbortedError,
  AttemptTimeoutError,
  DeadlineExceededError,
  createClient,
  withDeadline,
  type ClientOptions,
  type Middleware,
} from '../../src/index.ts'
import { VirtualClock } from '../../src/testing/index.ts'
import {
  retryEverything,
  track,
  virtualOrigin,
  type SeenAttempt,
  type VirtualReply,
} from '../support/virtual-origin.ts'

/**
 * A client on virtual time whose stack is the default deadline layers around a test retry loop
 * (instead of the retry policy), ending in a virtual origin.
 */
function virtualClient(
  reply: (attempt: number) => VirtualReply,
  options: ClientOptions & { retryDelay?: number } = {},
) {
  const clock = new VirtualClock()
  const seen: SeenAttempt[] = []
  const { retryDelay, ...clientOptions } = options
  const client = createClient({
    origin: 'http://virtual.test',
    clock,
    // The deadline alone: no circuit may open, no throttle shed and no limiter queue, under what these tests
    // script; the positions below assume the default stack without them.
    breaker: false,
    throttle: false,
    concurrency: false,
    ...clientOptions,
    middleware: (defaults) => {
      // The client's retry layer is left out: these tests pin the deadline's behaviour under a
      // fixed-delay retry loop, whatever the retry policy would decide.
      const [deadline, , attempt] = defaults as [Middleware, Middleware, Middleware]
      const retry = retryDelay === undefined ? [] : [retryEverything(retryDelay)]
      return [deadline, ...retry, attempt, virtualOrigin(reply, seen)]
    },
  })
  return { clock, client, seen }
}

const header = (seen: SeenAttempt[]) =>
  seen.map((s) => Number(s.headers['x-deadline-remaining-ms']))

describe('the deadline', () => {
  it('ends a call whose attempts take 400 ms each at 1 s, after 3 attempts', async () => {
    const { clock, client } = virtualClient(() => ({ status: 503, latency: 400 }), {
      deadline: 1000,
      retryDelay: 0,
    })
    const call = track(clock, client.request('/'))
    await clock.advance(2000)
    expect(call.error).toBeInstanceOf(DeadlineExceededError)
    expect(call.settledAt).toBe(1000)
    const error = call.error as DeadlineExceededError
    expect(error.message).toBe(
      "the call's deadline of 1000 ms passed; 3 attempts made; attempt 2 got status 503",
    )
    expect(error.attempts.map((a) => a.start)).toEqual([0, 400, 800])
    expect(error.attempts[2]?.decision?.reason).toContain('deadline passed during this attempt')
    expect(clock.pendingTimers).toBe(0)
  })

  it('ends a backoff sleep at the deadline and clears both timers', async () => {
    const { clock, client, seen } = virtualClient(() => ({ status: 503, latency: 100 }), {
      deadline: 1000,
      retryDelay: 5000,
    })
    const call = track(clock, client.request('/'))
    await clock.advance(10_000)
    expect(call.error).toBeInstanceOf(DeadlineExceededError)
    expect(call.settledAt).toBe(1000)
    expect(seen).toHaveLength(1)
    expect(clock.pendingTimers).toBe(0)
  })

  it('clears its timer when the response has been received', async () => {
    const { clock, client } = virtualClient(() => ({ status: 200, latency: 10 }))
    const call = track(clock, client.request('/'))
    await clock.advance(10)
    expect(call.value?.statusCode).toBe(200)
    expect(clock.pendingTimers).toBe(0)
  })

  it('sends nothing when a Date deadline has already passed', async () => {
    const { clock, client, seen } = virtualClient(() => ({ status: 200, latency: 10 }))
    const past = new Date(clock.wallNow() - 1)
    const error = await client.request('/', { deadline: past }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DeadlineExceededError)
    expect((error as DeadlineExceededError).attempts).toEqual([])
    expect(seen).toHaveLength(0)
    expect(clock.pendingTimers).toBe(0)
  })

  it('takes a Date as an absolute deadline on the wall clock', async () => {
    const { clock, client } = virtualClient(() => ({ status: 200, latency: 10_000 }))
    const call = track(clock, client.request('/', { deadline: new Date(clock.wallNow() + 750) }))
    await clock.advance(1000)
    expect(call.error).toBeInstanceOf(DeadlineExceededError)
    expect(call.settledAt).toBe(750)
  })

  it('lets a request replace the client deadline', async () => {
    const { clock, client } = virtualClient(() => ({ status: 200, latency: 10_000 }), {
      deadline: 100,
    })
    const call = track(clock, client.request('/', { deadline: 2000 }))
    await clock.advance(5000)
    expect(call.settledAt).toBe(2000)
  })

  it('reads the clock again when a layer above it waited first', async () => {
    // The deadline and attempt layers take the call's own start as "now" while the call's first
    // step runs; a user's layer that waits above them must not leave them that stale reading.
    const clock = new VirtualClock()
    const seen: SeenAttempt[] = []
    const waitFirst: Middleware = (request, next) => clock.sleep(300).then(() => next(request))
    const client = createClient({
      origin: 'http://virtual.test',
      clock,
      deadline: 1000,
      middleware: (defaults) => [
        waitFirst,
        ...defaults.filter((layer) => ['deadline', 'attemptTimeout'].includes(layer.name)),
        virtualOrigin(() => ({ status: 200, latency: 5000 }), seen),
      ],
    })
    const call = track(clock, client.request('/'))
    await clock.advance(2000)
    expect(call.error).toBeInstanceOf(DeadlineExceededError)
    expect(call.settledAt).toBe(1000)
    expect(header(seen)).toEqual([695]) // 1000 - 300 waited - the 5 ms margin
  })
})

describe('the caller aborting', () => {
  it('during a backoff sleep rejects at once and leaves no timer', async () => {
    const { clock, client, seen } = virtualClient(() => ({ status: 503, latency: 50 }), {
      retryDelay: 10_000,
    })
    const controller = new AbortController()
    const call = track(clock, client.request('/', { signal: controller.signal }))
    await clock.advance(100)
    expect(call.settledAt).toBeUndefined()
    controller.abort()
    await clock.advance(0)
    expect(call.error).toBeInstanceOf(AbortedError)
    expect(call.settledAt).toBe(100)
    expect(seen).toHaveLength(1)
    expect(clock.pendingTimers).toBe(0)
  })
})

describe('the attempt timeout', () => {
  it('stops a slow attempt so the retry policy can try again within the deadline', async () => {
    const { clock, client, seen } = virtualClient(
      (n) => (n === 1 ? { status: 200, latency: 5000 } : { status: 200, latency: 50 }),
      { deadline: 1000, attemptTimeout: 300, retryDelay: 0 },
    )
    const call = track(clock, client.request('/'))
    await clock.advance(1000)
    expect(call.value?.statusCode).toBe(200)
    expect(call.settledAt).toBe(350)
    expect(seen.map((s) => s.at)).toEqual([0, 300])
    expect(call.value?.attempts[0]?.error).toBe('NQ_ATTEMPT_TIMEOUT')
    // Each attempt is told its own budget, the attempt timeout, less the margin.
    expect(header(seen)).toEqual([295, 295])
    expect(clock.pendingTimers).toBe(0)
  })

  it('fails the attempt with AttemptTimeoutError when nothing retries', async () => {
    const { clock, client } = virtualClient(() => ({ status: 200, latency: 5000 }), {
      deadline: 1000,
      attemptTimeout: 300,
    })
    const call = track(clock, client.request('/'))
    await clock.advance(1000)
    expect(call.error).toBeInstanceOf(AttemptTimeoutError)
    expect((call.error as AttemptTimeoutError).message).toBe(
      'attempt 1 got no response headers within its attempt timeout of 300 ms',
    )
    expect(call.settledAt).toBe(300)
    expect((call.error as AttemptTimeoutError).attempts).toHaveLength(1)
  })

  it('is ignored at or above the time left: the deadline ends the attempt, finally', async () => {
    const { clock, client, seen } = virtualClient(() => ({ status: 200, latency: 5000 }), {
      deadline: 500,
      attemptTimeout: 800,
      retryDelay: 0,
    })
    const call = track(clock, client.request('/'))
    await clock.advance(1000)
    expect(call.error).toBeInstanceOf(DeadlineExceededError)
    expect(call.settledAt).toBe(500)
    expect(seen).toHaveLength(1)
    expect(header(seen)).toEqual([495])
  })

  it('gives later attempts the time left once it is below the attempt timeout', async () => {
    const { clock, client, seen } = virtualClient(() => ({ status: 200, latency: 5000 }), {
      deadline: 1000,
      attemptTimeout: 400,
      retryDelay: 0,
    })
    const call = track(clock, client.request('/'))
    await clock.advance(2000)
    expect(seen.map((s) => s.at)).toEqual([0, 400, 800])
    expect(header(seen)).toEqual([395, 395, 195])
    expect(call.error).toBeInstanceOf(DeadlineExceededError)
    expect(call.settledAt).toBe(1000)
  })
})

describe('propagation out', () => {
  it('sends a remaining time that shrinks from attempt to attempt and is never negative', async () => {
    const { clock, client, seen } = virtualClient(() => ({ status: 503, latency: 130 }), {
      deadline: 1000,
      retryDelay: 70,
    })
    const call = track(clock, client.request('/'))
    await clock.advance(2000)
    expect(call.error).toBeInstanceOf(DeadlineExceededError)
    const sent = header(seen)
    expect(sent).toEqual([995, 795, 595, 395, 195])
    for (const value of sent) expect(value).toBeGreaterThanOrEqual(0)
  })

  it('starts no attempt with less than minAttemptTime left', async () => {
    const { clock, client, seen } = virtualClient(() => ({ status: 503, latency: 496 }), {
      deadline: 1000,
      retryDelay: 0,
    })
    const call = track(clock, client.request('/'))
    await clock.advance(2000)
    expect(seen.map((s) => s.at)).toEqual([0, 496])
    // At 992 only 8 ms were left: the call failed then, before the deadline, sending nothing.
    expect(call.settledAt).toBe(992)
    expect((call.error as Error).message).toBe(
      "the call's deadline of 1000 ms left 8 ms for another attempt, less than minAttemptTime (10 ms); 2 attempts made; the last attempt got status 503",
    )
    expect(clock.pendingTimers).toBe(0)
  })

  it('uses the configured header, in gRPC format for grpc-timeout', async () => {
    const { clock, client, seen } = virtualClient(() => ({ status: 200, latency: 1 }), {
      deadline: 2000,
      propagation: { header: 'grpc-timeout', margin: 0 },
    })
    track(clock, client.request('/'))
    await clock.advance(1)
    expect(seen[0]?.headers['grpc-timeout']).toBe('2000m')
    expect(seen[0]?.headers['x-deadline-remaining-ms']).toBeUndefined()
  })

  it('sends nothing with propagation: false', async () => {
    const { clock, client, seen } = virtualClient(() => ({ status: 200, latency: 1 }), {
      propagation: false,
    })
    track(clock, client.request('/'))
    await clock.advance(1)
    expect(Object.keys(seen[0]?.headers ?? {})).toEqual([])
  })
})

describe('an inherited deadline', () => {
  it('applies when it is sooner than the call’s own', async () => {
    const { clock, client, seen } = virtualClient(() => ({ status: 200, latency: 5000 }), {
      deadline: 1000,
    })
    const call = track(
      clock,
      withDeadline(200, () => client.request('/'), { clock }),
    )
    await clock.advance(1000)
    expect(header(seen)).toEqual([195])
    expect(call.settledAt).toBe(200)
    expect((call.error as Error).message).toBe(
      "the call's deadline of 200 ms (inherited from the incoming request) passed; 1 attempt made",
    )
  })

  it('does not extend the call’s own deadline', async () => {
    const { clock, client } = virtualClient(() => ({ status: 200, latency: 5000 }), {
      deadline: 100,
    })
    const call = track(
      clock,
      withDeadline(10_000, () => client.request('/'), { clock }),
    )
    await clock.advance(1000)
    expect(call.settledAt).toBe(100)
  })

  it('is ignored with propagation.inherit: false', async () => {
    const { clock, client } = virtualClient(() => ({ status: 200, latency: 5000 }), {
      deadline: 1000,
      propagation: { inherit: false },
    })
    const call = track(
      clock,
      withDeadline(100, () => client.request('/'), { clock }),
    )
    await clock.advance(2000)
    expect(call.settledAt).toBe(1000)
  })
})
