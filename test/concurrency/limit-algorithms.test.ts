import { describe, expect, it } from 'vitest'
import { AimdLimit, DEFAULT_AIMD } from '../../src/concurrency/aimd-limit.ts'
import { DEFAULT_DELAY, DelayLimit } from '../../src/concurrency/delay-limit.ts'
import { FixedLimit, type LimitAlgorithm } from '../../src/concurrency/limit-algorithm.ts'
import { WindowedMin } from '../../src/concurrency/windowed-min.ts'

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

describe('WindowedMin', () => {
  it('keeps the smallest value of the window and forgets older ones', () => {
    const w = new WindowedMin(1000) // 10 buckets of 100 ms
    expect(w.min(0)).toBe(Infinity)
    w.add(0, 50)
    w.add(450, 70)
    expect(w.min(900)).toBe(50)
    expect(w.min(1000)).toBe(70) // the first bucket has left the window
    expect(w.min(1450)).toBe(Infinity)
  })
})

describe('DelayLimit', () => {
  const options = { ...DEFAULT_DELAY, initialLimit: 20, minLimit: 1, maxLimit: 100 }

  /** `n` answers of `rtt` ms, `spacing` ms apart from `start`; returns the time after the last. */
  function answers(
    d: DelayLimit,
    start: number,
    n: number,
    rtt: number,
    inFlight: (limit: number) => number = (limit) => limit,
    spacing = 1,
  ): number {
    let now = start
    for (let i = 0; i < n; i++, now += spacing) {
      d.update({ now, rtt, inFlight: inFlight(d.limit), dropped: false })
    }
    return now
  }

  it('judges rounds of at least 20 answers and one RTT: grows by a tenth (at least one) per round in use', () => {
    const d = new DelayLimit(options)
    let now = answers(d, 0, 19, 10)
    expect(d.limit).toBe(20) // the round is not over
    now = answers(d, now, 1, 10)
    expect(d.limit).toBe(22)
    answers(d, now, 20, 10)
    expect(d.limit).toBe(24) // 22 + 2.2
    const small = new DelayLimit({ ...options, initialLimit: 3 })
    answers(small, 0, 20, 10)
    expect(small.limit).toBe(4)
    const big = new DelayLimit(options)
    answers(big, 0, 4000, 10)
    expect(big.limit).toBe(100)
  })

  it('rides out single slow answers, cuts in proportion when a round’s mean passes 1.5x the baseline, then holds 20 RTTs', () => {
    const d = new DelayLimit({ ...options, initialLimit: 40 })
    let now = answers(d, 0, 20, 10) // baseline 10, target 15; 40 -> 44
    expect(d.baseline(now)).toBe(10)
    now = answers(d, now, 19, 10)
    now = answers(d, now, 1, 100) // one slow answer: the mean is 14.5
    expect(d.limit).toBe(48)
    now = answers(d, now, 20, 30) // mean 30: cut by 0.8 x 15 / 30 = 40%
    expect(d.limit).toBe(29)
    answers(d, now, 20, 10, undefined, 2) // under the target again, but within 20 RTTs of the cut
    expect(d.limit).toBe(29)
    answers(d, 300, 20, 10, undefined, 2)
    expect(d.limit).toBe(31)
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
    let now = answers(d, 0, 40, 10, () => 1)
    expect(d.limit).toBe(8)
    now = answers(d, now, 100, 500, () => 1, 25) // slow, but not of its making
    expect(d.limit).toBe(8)
    answers(d, now, 200, 500, (limit) => limit, 25)
    expect(d.limit).toBe(5)
  })
})
