import { describe, expect, it } from 'vitest'
import { AimdLimit, DEFAULT_AIMD } from '../../src/concurrency/aimd-limit.ts'
import { DEFAULT_DELAY, DelayLimit } from '../../src/concurrency/delay-limit.ts'
import { FixedLimit, type LimitAlgorithm } from '../../src/concurrency/limit-algorithm.ts'
import { MAX_ROUTES, RouteBaselines } from '../../src/concurrency/route-baselines.ts'
import { routeKey } from '../../src/concurrency/route-key.ts'

/** Feeds `n` samples; returns the limit after each. */
function feed(
  algorithm: LimitAlgorithm,
  n: number,
  sample: (i: number, limit: number) => { rtt: number; inFlight: number; dropped?: boolean },
): number[] {
  const limits: number[] = []
  for (let i = 0; i < n; i++) {
    const s = sample(i, algorithm.limit)
    limits.push(
      algorithm.update({ now: i, rtt: s.rtt, inFlight: s.inFlight, dropped: s.dropped ?? false }),
    )
  }
  return limits
}

describe('FixedLimit', () => {
  it('never changes', () => {
    const fixed = new FixedLimit(64)
    expect(feed(fixed, 5, () => ({ rtt: 1000, inFlight: 64, dropped: true }))).toEqual([
      64, 64, 64, 64, 64,
    ])
  })
})

describe('AimdLimit', () => {
  it('grows by one per sample while at least half the limit is in flight, up to maxLimit', () => {
    const aimd = new AimdLimit({ ...DEFAULT_AIMD, maxLimit: 23 })
    expect(feed(aimd, 5, (_, limit) => ({ rtt: 10, inFlight: limit }))).toEqual([
      21, 22, 23, 23, 23,
    ])
  })

  it('does not grow while the caller is app-limited', () => {
    const aimd = new AimdLimit()
    expect(feed(aimd, 3, () => ({ rtt: 10, inFlight: 9 }))).toEqual([20, 20, 20])
    expect(feed(aimd, 1, () => ({ rtt: 10, inFlight: 10 }))).toEqual([21])
  })

  it('multiplies by backoffRatio on a drop, never below minLimit', () => {
    const aimd = new AimdLimit({ ...DEFAULT_AIMD, initialLimit: 100, minLimit: 70 })
    expect(feed(aimd, 5, () => ({ rtt: 10, inFlight: 1, dropped: true }))).toEqual([
      90, 81, 72, 70, 70,
    ])
  })
})

describe('DelayLimit', () => {
  const options = { ...DEFAULT_DELAY, initialLimit: 20, minLimit: 1, maxLimit: 100, tolerance: 1.5 }

  /**
   * `n` answers of `rtt` ms, `spacing` ms apart from `start`, of `route` (a function of the
   * answer's index: a mix); returns the time after the last.
   */
  function answers(
    d: DelayLimit,
    start: number,
    n: number,
    rtt: number | ((i: number) => number),
    inFlight: (limit: number) => number = (limit) => limit,
    spacing = 1,
    route: (i: number) => string = () => '',
  ): number {
    let now = start
    for (let i = 0; i < n; i++, now += spacing) {
      const ms = typeof rtt === 'number' ? rtt : rtt(i)
      d.update({ now, rtt: ms, inFlight: inFlight(d.limit), dropped: false, route: route(i) })
    }
    return now
  }

  /**
   * Settles the route '' at 10 ms: its first 50 answers (and 30 ms) set its baseline, and the
   * next 20 make a first round, while app-limited, so that the limit stays. Returns the time
   * after.
   */
  function settled(d: DelayLimit): number {
    const limit = d.limit
    const now = answers(d, 0, 70, 10, () => 1)
    expect(d.baseline(now)).toBeCloseTo(10, 9)
    expect(d.limit).toBe(limit)
    return now
  }

  it('judges rounds of at least 20 answers and one RTT; grows by half per round in use while calm', () => {
    const d = new DelayLimit(options)
    let now = settled(d)
    now = answers(d, now, 19, 10)
    expect(d.limit).toBe(20) // the round is not over
    now = answers(d, now, 1, 10)
    expect(d.limit).toBe(30)
    answers(d, now, 20, 10)
    expect(d.limit).toBe(45)
    const big = new DelayLimit(options)
    answers(big, 0, 4000, 10)
    expect(big.limit).toBe(100)
  })

  it('rides out single slow answers, cuts in proportion when a round passes the target, then holds and grows by a tenth', () => {
    const d = new DelayLimit({ ...options, initialLimit: 40 })
    let now = settled(d)
    now = answers(d, now, 19, 10)
    now = answers(d, now, 1, 100) // one slow answer: the round's geometric mean is 1.12
    expect(d.limit).toBe(60)
    // 2.9x the baseline (which learnt the calm round with the slow answer): cut by
    // 0.8 x 1.4 / 2.9 = 39%.
    now = answers(d, now, 20, 30)
    expect(d.limit).toBe(36)
    // Under the target again (answers sent after the cut), but within 20 RTTs of it.
    now = answers(d, now + 30, 20, 10, undefined, 2)
    expect(d.limit).toBe(36)
    // After the hold, within 2 s of the cut: a tenth.
    now = answers(d, now + 300, 20, 10, undefined, 2)
    expect(d.limit).toBe(40)
    // Two seconds after it: half.
    answers(d, now + 2_000, 20, 10, undefined, 2)
    expect(d.limit).toBe(60)
  })

  it('does not learn a queue into its baseline while answers take longer than usual', () => {
    const d = new DelayLimit({ ...options, initialLimit: 100, minLimit: 50 })
    let now = settled(d)
    // 20 s of answers at 3x: the limit is cut to its floor, and the baseline stays.
    now = answers(d, now, 2_000, 30, undefined, 10)
    expect(d.limit).toBe(50)
    expect(d.baseline(now)).toBeCloseTo(10, 6)
    // Past 3 baseline windows (30 s), that is the origin's new normal, and it learns it.
    now = answers(d, now, 3_000, 30, undefined, 10)
    expect(d.baseline(now)).toBeGreaterThan(25)
  })

  it('judges each answer against its own route: a changing mix of 2 ms and 200 ms routes is no queue', () => {
    const route = (i: number) => (i % 2 === 0 ? 'GET /fast' : 'GET /slow')
    const rtt = (i: number) => (i % 2 === 0 ? 2 : 200)
    // Mostly fast answers, then mostly slow ones: each round's mean moves 20-fold.
    const fast = (i: number) => (i % 10 === 0 ? 'GET /slow' : 'GET /fast')
    const slow = (i: number) => (i % 10 === 0 ? 'GET /fast' : 'GET /slow')
    const rttOf = (routeOf: (i: number) => string) => (i: number) =>
      routeOf(i) === 'GET /fast' ? 2 : 200
    const d = new DelayLimit({ ...options, initialLimit: 40, maxLimit: 1_000_000 })
    let now = answers(d, 0, 1000, rtt, undefined, 1, route)
    const settledLimit = d.limit
    expect(settledLimit).toBeGreaterThan(40)
    now = answers(d, now, 400, rttOf(fast), undefined, 1, fast)
    now = answers(d, now, 400, rttOf(slow), undefined, 1, slow)
    expect(d.limit).toBeGreaterThan(10 * settledLimit) // grown every round, never cut
    // The same queue of 150 ms on both routes is seen.
    const before = d.limit
    answers(d, now, 40, (i) => rtt(i) + 150, undefined, 10, route)
    expect(d.limit).toBeLessThan(before)
  })

  it('weighs a queue by what it adds to the origin’s work, not by how many times a fast answer it is', () => {
    const d = new DelayLimit({ ...options, initialLimit: 100, maxLimit: 100 })
    const route = (i: number) => (i % 2 === 0 ? 'GET /fast' : 'GET /slow')
    const now = answers(d, 0, 1000, (i) => (i % 2 === 0 ? 2 : 200), undefined, 1, route)
    expect(d.limit).toBe(100)
    // 10 ms more for each: 6x the fast answers, 1.05x the slow ones; about 1.1x the work.
    answers(d, now, 40, (i) => (i % 2 === 0 ? 12 : 210), undefined, 10, route)
    expect(d.limit).toBe(100)
  })

  it('starts at the demand it sees, until its first round is judged', () => {
    const d = new DelayLimit(options)
    // 20 in flight and 130 waiting: the limit goes to 150 at once, within maxLimit.
    d.update({ now: 0, rtt: 10, inFlight: 20, dropped: false, queued: 130 })
    expect(d.limit).toBe(100)
    const e = new DelayLimit({ ...options, maxLimit: 200 })
    e.update({ now: 0, rtt: 10, inFlight: 20, dropped: false, queued: 130 })
    expect(e.limit).toBe(150)
    const now = answers(e, 1, 100, 10, () => 150) // settles, then a round is judged: 225
    expect(e.limit).toBe(200)
    e.update({ now, rtt: 10, inFlight: 200, dropped: false, queued: 500 })
    expect(e.limit).toBe(200)
    const f = new DelayLimit({ ...options, maxLimit: 1_000 })
    answers(f, 0, 110, 10)
    f.update({ now: 110, rtt: 10, inFlight: 20, dropped: false, queued: 500 })
    expect(f.limit).toBeLessThan(500)
  })

  it('takes a tenth off on a timeout or reset, once per RTT, and never learns its baseline from one', () => {
    const d = new DelayLimit({ ...options, initialLimit: 40 })
    // An attempt cut short by its deadline after 2 ms: a drop, not a 2 ms service time.
    expect(d.update({ now: 100, rtt: 2, inFlight: 40, dropped: true })).toBe(36)
    expect(d.update({ now: 101, rtt: 2, inFlight: 36, dropped: true })).toBe(36)
    expect(d.update({ now: 102, rtt: 2, inFlight: 36, dropped: true })).toBe(32)
    expect(d.baseline(102)).toBe(Infinity)
  })

  it('leaves a 429 or 503 to the throttle', () => {
    const d = new DelayLimit({ ...options, initialLimit: 40 })
    for (let now = 0; now < 100; now++) {
      d.update({ now, rtt: 1, inFlight: 40, dropped: true, nack: true })
    }
    expect(d.limit).toBe(40)
    expect(d.baseline(100)).toBe(Infinity)
  })

  it('neither grows nor cuts while app-limited, and never goes below minLimit', () => {
    const d = new DelayLimit({ ...options, minLimit: 5, initialLimit: 8 })
    let now = answers(d, 0, 60, 10, () => 1)
    expect(d.limit).toBe(8)
    now = answers(d, now, 100, 500, () => 1, 25) // slow, but not of its making
    expect(d.limit).toBe(8)
    answers(d, now, 200, 500, (limit) => limit, 25)
    expect(d.limit).toBe(5)
  })

  it('does not read answers that waited on its own busy process as a queue at the origin', () => {
    /**
     * Settles the route at 10 ms on a process that waits for I/O all the time, then sends 100
     * answers at 3x, in use, 10 ms apart, on a process busy for `busy` of the time (the reader
     * of its idle time is read at round ends only).
     */
    const run = (d: DelayLimit, busy: number) => {
      let now = 0
      let idle = 0
      for (; now < 70; now++, idle++) {
        d.update({ now, rtt: 10, inFlight: 1, dropped: false }, () => idle)
      }
      expect(d.baseline(now)).toBeCloseTo(10, 9)
      for (let i = 0; i < 100; i++, now += 10, idle += 10 * (1 - busy)) {
        d.update({ now, rtt: 30, inFlight: d.limit, dropped: false }, () => idle)
      }
      return { now, idle }
    }
    // Busy throughout (a client parsing bodies as fast as it can, a long collection): the
    // answers waited on the process, so no cut, and the baseline learns none of it.
    const busy = new DelayLimit({ ...options, initialLimit: 40 })
    const { now, idle } = run(busy, 0.95)
    expect(busy.limit).toBe(40)
    expect(busy.baseline(now)).toBeCloseTo(10, 6)
    // Nor does it learn answers within the target that waited on the process, busy throughout.
    for (let i = 0, t = now; i < 100; i++, t += 10) {
      busy.update({ now: t, rtt: 11, inFlight: busy.limit, dropped: false }, () => idle)
    }
    expect(busy.baseline(now + 1_000)).toBeCloseTo(10, 6)
    // The same answers while the process mostly waits: a queue at the origin, cut.
    const waiting = new DelayLimit({ ...options, initialLimit: 40 })
    run(waiting, 0.5)
    expect(waiting.limit).toBeLessThan(20)
    // Without idle readings (a virtual clock), every delay is the origin's.
    const virtual = new DelayLimit({ ...options, initialLimit: 40 })
    answers(virtual, settled(virtual), 100, 30, undefined, 10)
    expect(virtual.limit).toBeLessThan(20)
  })
})

describe('RouteBaselines', () => {
  it('trusts a route after 50 answers and three of its RTTs, then learns a round only when it is calm', () => {
    const b = new RouteBaselines(10_000)
    // While new, it learns every answer at once.
    for (let i = 0; i < 50; i++) expect(b.judge('GET /', i / 10, 10)).toBeUndefined()
    expect(b.judge('GET /', 25, 10)).toBeUndefined() // 50 answers, within 30 ms of the first
    expect(b.judge('GET /', 31, 10)).toBeCloseTo(10, 9)
    expect(b.baseline('GET /other', 31)).toBe(Infinity)
    b.endRound(31, true)
    // Rounds of a queue that are not calm leave the baseline where it was.
    for (let t = 40; t < 20_000; t += 10) {
      b.judge('GET /', t, 30)
      if (t % 200 === 0) b.endRound(t, false)
    }
    expect(b.baseline('GET /', 20_000)).toBeCloseTo(10, 6)
    // Calm ones are learnt, over about 10 s.
    for (let t = 20_000; t < 30_000; t += 10) {
      b.judge('GET /', t, 30)
      if (t % 200 === 0) b.endRound(t, true)
    }
    const after10s = b.baseline('GET /', 30_000)
    expect(after10s).toBeGreaterThan(20)
    expect(after10s).toBeLessThan(30)
  })

  it('takes the geometric mean, which one slow answer moves little', () => {
    const b = new RouteBaselines(10_000)
    for (let i = 0; i < 99; i++) b.judge('GET /', i, 10)
    b.judge('GET /', 99, 1_000)
    b.endRound(99, true)
    expect(b.baseline('GET /', 100)).toBeLessThan(10.5) // an arithmetic mean: 19.9
  })

  it('keeps at most 256 routes, forgetting the first seen', () => {
    const b = new RouteBaselines(10_000)
    for (let r = 0; r <= MAX_ROUTES; r++) {
      for (let i = 0; i < 50; i++) b.judge(`GET /${r}`, i * 10, 1)
    }
    expect(b.size).toBe(MAX_ROUTES)
    expect(b.baseline('GET /0', 500)).toBe(Infinity)
    expect(b.baseline(`GET /${MAX_ROUTES}`, 500)).toBe(1)
  })
})

describe('routeKey', () => {
  it('is the method and the path without its query, ids templated out', () => {
    expect(routeKey('GET', '/users/123/orders?page=2')).toBe('GET /users/:/orders')
    expect(routeKey('GET', '/v1/items/0f8fad5b-d9cb-469f-a165-70867728950e')).toBe(
      'GET /v1/items/:',
    )
    expect(routeKey('POST', '/blobs/9f86d081884c7d65')).toBe('POST /blobs/:')
    expect(routeKey('GET', '/')).toBe('GET /')
    expect(routeKey('GET', '/v2/users')).toBe('GET /v2/users')
  })
})
