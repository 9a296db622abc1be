import { describe, expect, it } from 'vitest'
import {
  InvalidOptionError,
  RateLimitedError,
  createClient,
  explain,
  memoryStore,
  type CallRequest,
  type ShedEvent,
} from '../../src/index.ts'
import { track, virtualClient, type VirtualReply } from '../support/virtual-origin.ts'

const ok = (): VirtualReply => ({ status: 200, latency: 5 })

describe('rateLimit on virtual time, through the default stack', () => {
  it('lets an attempt wait for its slot within the deadline, and records the wait', async () => {
    const { clock, client, seen } = virtualClient(ok, { rateLimit: { rate: 10 } })
    const calls = Array.from({ length: 3 }, () => track(clock, client.request('/')))
    await clock.advance(300)
    expect(seen.map((s) => s.at)).toEqual([0, 100, 200])
    const last = calls[2]?.value
    expect(last?.attempts[0]?.rateLimitWait).toBe(200)
    expect(explain(last!)).toContain('waited 200 ms for the rate limit')
    expect(client.stats().rateLimits).toMatchObject([
      { key: 'http://virtual.test', store: 'memory', rate: 10, waited: 2, waitedMs: 300 },
    ])
  })

  it('refuses at once, sending nothing, when the slot would come after the deadline', async () => {
    const shed: ShedEvent[] = []
    const { clock, client, seen } = virtualClient(ok, {
      rateLimit: { rate: 1 },
      deadline: 500,
      onShed: (e) => shed.push(e),
    })
    track(clock, client.request('/'))
    const second = track(clock, client.request('/'))
    await clock.advance(0)
    const error = second.error as RateLimitedError
    expect(error).toBeInstanceOf(RateLimitedError)
    expect(error).toMatchObject({ code: 'NQ_RATE_LIMITED', local: true, retryAfter: 1000 })
    expect(error.message).toContain('next slot is in 1000 ms')
    expect(second.settledAt).toBe(0)
    await clock.advance(100)
    expect(seen).toHaveLength(1)
    expect(shed.map((e) => e.cause)).toEqual(['rate-limited'])
    expect(client.stats().origins[0]?.shed.rateLimited).toBe(1)
    expect(client.stats().rateLimits[0]?.rejected).toBe(1)
  })

  it('leaves the wait at once when the caller aborts, and sends nothing', async () => {
    const { clock, client, seen } = virtualClient(ok, { rateLimit: { rate: 1 } })
    track(clock, client.request('/'))
    const controller = new AbortController()
    const waiting = track(clock, client.request('/', { signal: controller.signal }))
    await clock.advance(100)
    expect(client.stats().rateLimits[0]?.waiting).toBe(1)
    controller.abort()
    await clock.advance(0)
    expect(waiting.settledAt).toBe(100)
    expect(waiting.error).toMatchObject({ name: 'AbortError', code: 'NQ_ABORTED' })
    await clock.advance(2000)
    expect(seen).toHaveLength(1)
    expect(client.stats().rateLimits[0]?.waiting).toBe(0)
  })

  it('keeps one schedule per key the key function names; undefined is not limited', async () => {
    const { clock, client, seen } = virtualClient(ok, {
      rateLimit: {
        rate: 1,
        key: (r: CallRequest) => (r.path === '/free' ? undefined : String(r.headers['x-tenant'])),
      },
    })
    for (const tenant of ['a', 'b', 'a']) {
      track(clock, client.request('/', { headers: { 'x-tenant': tenant } }))
    }
    track(clock, client.request('/free'))
    track(clock, client.request('/free'))
    await clock.advance(10)
    expect(seen).toHaveLength(4) // a, b, and both free calls; the second a waits
    await clock.advance(1000)
    expect(seen).toHaveLength(5)
    expect(
      client
        .stats()
        .rateLimits.map((k) => k.key)
        .sort(),
    ).toEqual(['a', 'b'])
  })

  it('fails the call with a typed error when the key function returns something else', async () => {
    const { clock, client } = virtualClient(ok, {
      rateLimit: { rate: 1, key: () => 42 as unknown as string },
    })
    const call = track(clock, client.request('/'))
    await clock.advance(0)
    expect(call.error).toBeInstanceOf(InvalidOptionError)
    expect((call.error as Error).message).toContain('rateLimit.key')
  })

  it('pauses the key for every client sharing the store when a 429 carries Retry-After', async () => {
    const store = memoryStore()
    let throttle = true
    const reply = (): VirtualReply =>
      throttle
        ? { status: 429, latency: 5, headers: { 'retry-after': '2' } }
        : { status: 200, latency: 5 }
    const a = virtualClient(reply, { rateLimit: { rate: 100, store }, retry: false })
    const first = track(a.clock, a.client.request('/'))
    await a.clock.advance(10)
    expect(first.value?.statusCode).toBe(429)
    throttle = false
    // Another client (another instance) on the same clock's time line, sharing the store.
    const b = virtualClient(reply, { rateLimit: { rate: 100, store }, deadline: 5000 })
    await b.clock.advance(10)
    const call = track(b.clock, b.client.request('/'))
    await b.clock.advance(1900)
    expect(b.seen).toHaveLength(0)
    await b.clock.advance(200)
    expect(call.value?.statusCode).toBe(200)
    expect(call.value?.attempts[0]?.rateLimitWait).toBeGreaterThanOrEqual(1950)
  })

  it('rejects bad options with the option named', () => {
    expect(() => createClient({ rateLimit: { rate: 0 } })).toThrow(/rateLimit\.rate/)
    expect(() => createClient({ rateLimit: { rate: 5, per: -1 } })).toThrow(/rateLimit\.per/)
    expect(() => createClient({ rateLimit: { learn: false } })).toThrow(/rateLimit\.rate/)
    expect(() => createClient({ rateLimit: { rate: 5, store: {} as never } })).toThrow(
      /rateLimit\.store/,
    )
    expect(() => createClient({ rateLimit: { rate: 5, bogus: 1 } as never })).toThrow(
      /rateLimit\.bogus/,
    )
  })
})

/** An origin that answers 429 above `limit` requests in any second (a sliding window). */
function slidingLimit(limit: number, now: () => number) {
  const accepted: number[] = []
  return (): VirtualReply => {
    const t = now()
    while (accepted.length > 0 && (accepted[0] as number) <= t - 1000) accepted.shift()
    if (accepted.length >= limit) return { status: 429, latency: 2 }
    accepted.push(t)
    return { status: 200, latency: 2 }
  }
}

/** An origin with fixed one-second windows of `limit` that says so in RateLimit headers. */
function fixedLimitWithHeaders(limit: number, now: () => number) {
  let windowStart = 0
  let used = 0
  return (): VirtualReply => {
    const t = now()
    if (t - windowStart >= 1000) {
      windowStart = t - ((t - windowStart) % 1000)
      used = 0
    }
    const headers = (remaining: number) => ({
      'ratelimit-limit': String(limit),
      'ratelimit-remaining': String(remaining),
      'ratelimit-reset': ((windowStart + 1000 - t) / 1000).toFixed(3),
    })
    if (used >= limit) return { status: 429, latency: 2, headers: headers(0) }
    used++
    return { status: 200, latency: 2, headers: headers(limit - used) }
  }
}

/** Offers 200 calls/s for 20 s; counts what the origin answered in seconds 10 to 20. */
async function offer(origin: (now: () => number) => () => VirtualReply) {
  const ref: { clock?: { now(): number } } = {}
  const answer = origin(() => ref.clock?.now() ?? 0)
  const counts = { sent: 0, throttled: 0, ok: 0 }
  const { clock, client } = virtualClient(
    () => {
      const reply = answer()
      if ((ref.clock?.now() ?? 0) >= 10_000) {
        counts.sent++
        if (reply.status === 429) counts.throttled++
        else counts.ok++
      }
      return reply
    },
    { rateLimit: true, deadline: 1000 },
  )
  ref.clock = clock
  for (let i = 0; i < 4000; i++) {
    void client.request('/').then(
      (r) => r.body.dump(),
      () => undefined,
    )
    await clock.advance(5)
  }
  return counts
}

describe('learned pacing on virtual time (an origin that allows 50 requests/s, offered 200/s)', () => {
  it('brings 429s under 5% within 10 s and keeps goodput at 0.9 × the limit or more', async () => {
    const { sent, throttled, ok: served } = await offer((now) => slidingLimit(50, now))
    expect(throttled / sent).toBeLessThan(0.05)
    expect(served / 10).toBeGreaterThanOrEqual(45)
  })

  it('with RateLimit headers, sends nearly no request the origin refuses', async () => {
    const { sent, throttled, ok: served } = await offer((now) => fixedLimitWithHeaders(50, now))
    expect(throttled / sent).toBeLessThan(0.01)
    expect(served / 10).toBeGreaterThanOrEqual(45)
  })

  it('without rate limit, the same origin refuses most of what is sent', async () => {
    const ref: { clock?: { now(): number } } = {}
    const answer = slidingLimit(50, () => ref.clock?.now() ?? 0)
    let sent = 0
    let throttled = 0
    const { clock, client } = virtualClient(
      () => {
        const r = answer()
        sent++
        if (r.status === 429) throttled++
        return r
      },
      { deadline: 1000 },
    )
    ref.clock = clock
    for (let i = 0; i < 2000; i++) {
      void client.request('/').then(
        (r) => r.body.dump(),
        () => undefined,
      )
      await clock.advance(5)
    }
    expect(throttled / sent).toBeGreaterThan(0.3)
  })
})
