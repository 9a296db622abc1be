import { Readable } from 'node:stream'
import { recordChannel } from '../support/channel-events.ts'
import { afterEach, describe, expect, it } from 'vitest'
import {
  InvalidOptionError,
  RetryBudget,
  createClient,
  explain,
  type ClientOptions,
  type HedgeEvent,
} from '../../src/index.ts'
import { track, virtualClient, type VirtualReply } from '../support/virtual-origin.ts'

/** The first attempt of each call is slow (`slow` ms), every later one answers in `fast` ms. */
const slowFirst =
  (slow: number, fast: number, status = 200) =>
  (n: number): VirtualReply => ({ status, latency: n === 1 ? slow : fast })

// maxExtraLoad 1 lets a single call hedge: the default 5% needs 20 calls for the first hedge.
const EVERY_CALL = { delay: 20, maxExtraLoad: 1 } as const

const unsubscribe: (() => void)[] = []
afterEach(() => {
  for (const u of unsubscribe.splice(0)) u()
})

function hedgeEvents(): HedgeEvent[] {
  const { events, stop } = recordChannel<HedgeEvent>('netiquette:hedge')
  unsubscribe.push(stop)
  return events
}

describe('hedged requests on virtual time', () => {
  it('sends a hedge after the delay, takes the first answer and cancels the other attempt', async () => {
    const events = hedgeEvents()
    const { clock, client, seen } = virtualClient(slowFirst(100, 10), { hedge: EVERY_CALL })
    const call = track(clock, client.request('/'))
    await clock.advance(200)
    expect(call.value?.statusCode).toBe(200)
    // The hedge went out at 20 ms and answered at 30 ms; the call took it then, not at 100 ms.
    expect(seen.map((s) => s.at)).toEqual([0, 20])
    expect(call.settledAt).toBe(30)
    const [first, hedge] = call.value?.attempts ?? []
    expect(first).toMatchObject({
      hedge: false,
      error: 'NQ_SUPERSEDED',
      outcome: undefined,
      decision: { action: 'superseded', code: 'hedge-lost' },
    })
    // Cancelled the moment the hedge answered, not left to run to 100 ms.
    expect(first?.duration).toBe(30)
    expect(hedge).toMatchObject({ hedge: true, statusCode: 200, decision: { action: 'return' } })
    expect(explain(call.value)).toMatch(/#2 at \+20 ms \(hedge\): 200/)
    expect(explain(call.value)).toMatch(
      /#1 at \+0\.0 ms: NQ_SUPERSEDED .*superseded: attempt 2 \(a hedge\) answered first/,
    )
    expect(client.stats().origins[0]?.hedges).toMatchObject({ sent: 1, won: 1, refused: 0 })
    expect(events.map((e) => e.action)).toEqual(['sent', 'won'])
    expect(events[0]).toMatchObject({ at: 20, delay: 20, origin: 'http://virtual.test' })
    expect(clock.pendingTimers).toBe(0)
  })

  it('sends no hedge when the attempt answers within the delay, and leaves no timer', async () => {
    const { clock, client, seen } = virtualClient(slowFirst(15, 15), { hedge: EVERY_CALL })
    const call = track(clock, client.request('/'))
    await clock.advance(100)
    expect(call.value?.statusCode).toBe(200)
    expect(seen).toHaveLength(1)
    expect(clock.pendingTimers).toBe(0)
    expect(client.stats().origins[0]?.hedges).toMatchObject({ sent: 0, won: 0 })
  })

  it('keeps the first attempt when it answers before its hedge, and cancels the hedge', async () => {
    const { clock, client, seen } = virtualClient(slowFirst(30, 50), { hedge: EVERY_CALL })
    const call = track(clock, client.request('/'))
    await clock.advance(200)
    expect(call.settledAt).toBe(30)
    expect(seen).toHaveLength(2)
    const [first, hedge] = call.value?.attempts ?? []
    expect(first?.decision).toMatchObject({ action: 'return' })
    expect(hedge).toMatchObject({
      hedge: true,
      error: 'NQ_SUPERSEDED',
      duration: 10,
      decision: { action: 'superseded', code: 'hedge-lost' },
    })
    expect(client.stats().origins[0]?.hedges).toMatchObject({ sent: 1, won: 0 })
  })

  it('does not fail the call when a hedge fails while the first attempt still runs', async () => {
    const { clock, client } = virtualClient(
      (n) => (n === 1 ? { status: 200, latency: 100 } : { status: 503, latency: 5 }),
      { hedge: EVERY_CALL },
    )
    const call = track(clock, client.request('/'))
    await clock.advance(300)
    expect(call.value?.statusCode).toBe(200)
    expect(call.settledAt).toBe(100)
    const [first, hedge] = call.value?.attempts ?? []
    expect(hedge?.decision).toMatchObject({ action: 'superseded', code: 'hedge-pending' })
    expect(first?.decision).toMatchObject({ action: 'return' })
  })

  it('judges the round by its last failure when every attempt fails, and retries it', async () => {
    const { clock, client, seen } = virtualClient(
      (n) => (n <= 2 ? { status: 503, latency: n === 1 ? 40 : 30 } : { status: 200, latency: 5 }),
      { hedge: EVERY_CALL, retry: { budget: false } },
    )
    const call = track(clock, client.request('/'))
    await clock.advance(1000)
    expect(call.value?.statusCode).toBe(200)
    const [first, hedge, retry] = call.value?.attempts ?? []
    // #1 failed at 40 while the hedge ran; the hedge's 503 at 50 ended the round and was retried.
    expect(first?.decision).toMatchObject({ code: 'hedge-pending' })
    expect(hedge?.decision).toMatchObject({ action: 'retry', code: 'retryable' })
    expect(retry?.hedge).toBe(false)
    expect(seen).toHaveLength(3)
  })

  it('hedges at a live percentile of the origin latency, once it has enough samples', async () => {
    const events = hedgeEvents()
    // First attempts take 1..100 ms in turn, hedges 1 ms: the p95 is about 95 ms. The first
    // delay, read from the first 40 samples, is far too low; the 5% share keeps most slow calls
    // unhedged, so their full latency is recorded and the delay rises to the p95.
    let n = 0
    const { clock, client } = virtualClient(
      (attempt) => ({ status: 200, latency: attempt === 1 ? (n++ % 100) + 1 : 1 }),
      { hedge: { maxExtraLoad: 1, delay: 'p95' }, retry: { budget: false } },
    )
    for (let i = 0; i < 200; i++) {
      const call = track(clock, client.request('/'))
      await clock.advance(200)
      expect(call.value?.statusCode).toBe(200)
    }
    const stats = client.stats().origins[0]?.hedges
    expect(stats?.delay).toBeGreaterThan(80)
    expect(stats?.delay).toBeLessThan(95 * 1.07)
    const sent = events.filter((e) => e.action === 'sent')
    // Each hedge went out at the delay in force, and only calls slower than it sent one.
    expect(sent.length).toBeGreaterThan(5)
    expect(sent.length).toBeLessThan(30)
    for (const e of sent) expect(e.at).toBeCloseTo(e.delay, 6)
  })

  it('sends no hedge on a percentile before the origin has answered 20 attempts', async () => {
    const { clock, client, seen } = virtualClient(slowFirst(100, 10), {
      hedge: { maxExtraLoad: 1 },
    })
    for (let i = 0; i < 19; i++) {
      track(clock, client.request('/'))
      await clock.advance(200)
    }
    expect(seen).toHaveLength(19)
    expect(client.stats().origins[0]?.hedges?.delay).toBeUndefined()
  })

  it('holds hedges to maxExtraLoad of calls, refusing the rest', async () => {
    const { clock, client, seen } = virtualClient(slowFirst(100, 10), {
      hedge: { delay: 20 },
      retry: { budget: false },
      concurrency: false,
    })
    const calls = Array.from({ length: 200 }, () => track(clock, client.request('/')))
    await clock.advance(500)
    expect(calls.every((c) => c.value?.statusCode === 200)).toBe(true)
    const stats = client.stats().origins[0]?.hedges
    // 5% of 200 calls.
    expect(stats?.sent).toBe(10)
    expect(stats?.refused).toBe(190)
    expect(seen).toHaveLength(210)
  })

  it('lets hedges use at most half of the retry budget', async () => {
    // 20% of calls for retries and hedges, no floor: hedges get 10%.
    const budget = new RetryBudget({
      ratio: 0.2,
      minRetriesPerSecond: 0,
      minRetryConcurrency: 1000,
    })
    const { clock, client } = virtualClient(slowFirst(100, 10), {
      hedge: { delay: 20, maxExtraLoad: 1 },
      retry: { budget },
      concurrency: false,
    })
    const calls = Array.from({ length: 200 }, () => track(clock, client.request('/')))
    await clock.advance(500)
    expect(calls.every((c) => c.value?.statusCode === 200)).toBe(true)
    expect(client.stats().origins[0]?.hedges?.sent).toBe(20)
    // Every hedge that went out is charged, and what they left is the retries' half.
    expect(budget.describe(clock.now())).toMatch(/^20 failed and 0 pending retries of 40 allowed/)
  })

  it('stops hedging when failed retries have spent half the budget', async () => {
    const events = hedgeEvents()
    const budget = new RetryBudget({ ratio: 0.2, minRetriesPerSecond: 0 })
    // 100 calls allow 20 retries; 12 of them failed: more than half is spent.
    for (let i = 0; i < 100; i++) budget.recordCall(0)
    for (let i = 0; i < 12; i++) if (budget.tryRetry(0)) budget.retryEnded(0, true)
    const { clock, client, seen } = virtualClient(slowFirst(100, 10), {
      hedge: { delay: 20, maxExtraLoad: 1 },
      retry: { budget },
    })
    const calls = Array.from({ length: 10 }, () => track(clock, client.request('/')))
    await clock.advance(200)
    expect(calls.every((c) => c.value?.statusCode === 200)).toBe(true)
    expect(seen).toHaveLength(10)
    expect(client.stats().origins[0]?.hedges).toMatchObject({ sent: 0, refused: 10 })
    expect(events[0]?.reason).toMatch(/^the retry budget is more than half spent: 12 failed/)
    // The retries still have what hedges may not touch.
    expect(budget.canRetry(clock.now())).toBe(true)
  })

  it('sends no hedge that could not finish before the deadline minus minAttemptTime', async () => {
    const events = hedgeEvents()
    const { clock, client, seen } = virtualClient(slowFirst(100, 10), {
      hedge: { delay: 45, maxExtraLoad: 1 },
      deadline: 60,
      minAttemptTime: 10,
    })
    const call = track(clock, client.request('/'))
    await clock.advance(200)
    // 45 ms + a hedge with no latency known yet ends at 45, before 60 - 10: it goes out, and wins.
    expect(seen).toHaveLength(2)
    expect(call.settledAt).toBe(55)
    // With 40 ms of median latency on record, the same hedge would end past 50: none is sent.
    let calls = 0
    const {
      clock: clock2,
      client: client2,
      seen: seen2,
    } = virtualClient(() => ({ status: 200, latency: ++calls <= 40 ? 40 : 100 }), {
      hedge: { delay: 'p50', maxExtraLoad: 1 },
      deadline: 60,
      minAttemptTime: 10,
    })
    for (let i = 0; i < 40; i++) {
      track(clock2, client2.request('/'))
      await clock2.advance(100)
    }
    const late = track(clock2, client2.request('/'))
    await clock2.advance(200)
    expect(late.error).toMatchObject({ code: 'NQ_DEADLINE_EXCEEDED' })
    expect(seen2).toHaveLength(41)
    expect(events.filter((e) => e.action === 'sent')).toHaveLength(1)
  })

  it('hedges only calls that are safe to send twice', async () => {
    const { clock, client, seen } = virtualClient(slowFirst(100, 10), { hedge: EVERY_CALL })
    const post = track(clock, client.request('/', { method: 'POST', body: 'x' }))
    const stream = track(clock, client.request('/', { method: 'PUT', body: Readable.from(['x']) }))
    await clock.advance(200)
    expect(post.value?.attempts).toHaveLength(1)
    expect(stream.value?.attempts).toHaveLength(1)
    const keyed = track(
      clock,
      client.request('/', { method: 'POST', body: 'x', idempotencyKey: 'k1' }),
    )
    await clock.advance(200)
    expect(keyed.value?.attempts).toHaveLength(2)
    expect(seen).toHaveLength(4)
  })

  it('is off unless asked for, and a request can turn it on or off', async () => {
    const { clock, client, seen } = virtualClient(slowFirst(100, 10))
    track(clock, client.request('/'))
    await clock.advance(200)
    expect(seen).toHaveLength(1)
    const on = track(clock, client.request('/', { hedge: EVERY_CALL }))
    await clock.advance(200)
    expect(on.value?.attempts).toHaveLength(2)
    const hedged = virtualClient(slowFirst(100, 10), { hedge: EVERY_CALL })
    const off = track(hedged.clock, hedged.client.request('/', { hedge: false }))
    await hedged.clock.advance(200)
    expect(off.value?.attempts).toHaveLength(1)
    // retry: false sends the call once: no retry, no hedge.
    const once = track(hedged.clock, hedged.client.request('/', { retry: false }))
    await hedged.clock.advance(200)
    expect(once.value?.attempts).toHaveLength(1)
  })

  it('sends up to maxHedges hedges, each a delay after the one before', async () => {
    const { clock, client, seen } = virtualClient(
      (n) => ({ status: 200, latency: n <= 3 ? 100 : 10 }),
      { hedge: { delay: 20, maxHedges: 2, maxExtraLoad: 2 } },
    )
    const call = track(clock, client.request('/'))
    await clock.advance(300)
    expect(seen.map((s) => s.at)).toEqual([0, 20, 40])
    expect(call.settledAt).toBe(100)
    expect(call.value?.attempts.filter((a) => a.decision?.code === 'hedge-lost')).toHaveLength(2)
  })

  it('declines a hedge rather than queue it behind the concurrency limit', async () => {
    const events = hedgeEvents()
    const { clock, client, seen } = virtualClient(slowFirst(100, 10), {
      hedge: EVERY_CALL,
      concurrency: { limit: 1 },
    })
    const call = track(clock, client.request('/'))
    await clock.advance(200)
    expect(call.value?.statusCode).toBe(200)
    expect(call.settledAt).toBe(100)
    expect(seen).toHaveLength(1)
    expect(client.stats().origins[0]).toMatchObject({
      queued: 0,
      hedges: { sent: 0, refused: 1 },
    })
    expect(events.at(-1)).toMatchObject({
      action: 'refused',
      reason: expect.stringMatching(/concurrency limit of 1/),
    })
  })

  it("declines a hedge while the circuit is not closed: it never takes a probe's place", async () => {
    const events = hedgeEvents()
    let calls = 0
    const { clock, client, seen } = virtualClient(
      () => (++calls <= 2 ? { status: 500, latency: 1 } : { status: 200, latency: 100 }),
      { hedge: EVERY_CALL, breaker: { consecutiveFailures: 2, openDuration: 100 } },
    )
    // Two failures open the circuit; once its open period is over, the next call is the probe.
    for (let i = 0; i < 2; i++) {
      track(clock, client.request('/', { retry: false }))
      await clock.advance(10)
    }
    expect(client.stats().origins[0]?.circuit).toBe('open')
    await clock.advance(1_000)
    const probe = track(clock, client.request('/'))
    await clock.advance(200)
    expect(probe.value?.statusCode).toBe(200)
    expect(seen).toHaveLength(3)
    expect(client.stats().origins[0]?.hedges).toMatchObject({ sent: 0, refused: 1 })
    expect(events.at(-1)?.reason).toMatch(/circuit of http:\/\/virtual.test is half-open/)
  })

  it('validates its options', () => {
    const bad: unknown[] = [
      { delay: 0 },
      { delay: 'p100' },
      { delay: 'p40' },
      { delay: '95' },
      { maxHedges: 0 },
      { maxHedges: 5 },
      { maxExtraLoad: 0 },
      { maxExtraLoad: 4.5 },
      { typo: 1 },
      'yes',
    ]
    for (const hedge of bad) {
      expect(() => createClient({ hedge: hedge as ClientOptions['hedge'] }), String(hedge)).toThrow(
        InvalidOptionError,
      )
    }
    expect(() =>
      createClient({ hedge: { delay: 'p99.9', maxHedges: 2, maxExtraLoad: 0.01 } }),
    ).not.toThrow()
  })
})
