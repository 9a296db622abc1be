import { describe, expect, it } from 'vitest'
import { AimdLimit, DEFAULT_AIMD } from '../../src/pool/aimd-limit.ts'
import { DEFAULT_DELAY, DelayLimit } from '../../src/pool/delay-limit.ts'
import { FixedLimit, type LimitAlgorithm } from '../../src/pool/limit-algorithm.ts'
import { WindowedMin } from '../../src/pool/windowed-min.ts'

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

  it('grows by a tenth per RTT (at least one) while RTT stays under the target and in use', () => {
    const d = new DelayLimit(options)
    // 20 samples at limit 20: about one RTT's worth, +2.
    const limits = feed(d, 20, (_, limit) => ({ rtt: 10, inFlight: limit }))
    expect(limits.at(-1)).toBe(22)
    const small = new DelayLimit({ ...options, initialLimit: 3 })
    // Three samples at limit 3: one RTT, +1.
    expect(feed(small, 3, (_, limit) => ({ rtt: 10, inFlight: limit })).at(-1)).toBe(3)
    expect(feed(small, 1, (_, limit) => ({ rtt: 10, inFlight: limit })).at(-1)).toBe(4)
    expect(feed(d, 2000, (_, limit) => ({ rtt: 10, inFlight: limit })).at(-1)).toBe(100)
  })

  it('cuts in proportion to the excess over the target, once per RTT', () => {
    const d = new DelayLimit({ ...options, initialLimit: 40 })
    feed(d, 10, () => ({ rtt: 10, inFlight: 10 })) // app-limited: a 10 ms baseline, no growth
    expect(d.baseline(10)).toBe(10)
    // RTT 40 ms against a 20 ms target: cut by 0.8 × 20 / 40 = 40%, once within the RTT.
    let now = 100
    const cut = d.update({ now, rtt: 40, inFlight: 40, dropped: false })
    expect(cut).toBe(24)
    expect(d.update({ now: now + 39, rtt: 40, inFlight: 24, dropped: false })).toBe(24)
    now += 40
    expect(d.update({ now, rtt: 40, inFlight: 24, dropped: false })).toBe(14)
  })

  it('halves on a drop, and never learns its baseline from a failed attempt', () => {
    const d = new DelayLimit({ ...options, initialLimit: 40 })
    feed(d, 10, () => ({ rtt: 50, inFlight: 10 }))
    // An attempt cut short by its deadline after 2 ms: a drop, not a 2 ms service time.
    expect(d.update({ now: 100, rtt: 2, inFlight: 40, dropped: true })).toBe(20)
    expect(d.baseline(100)).toBe(50)
  })

  it('never goes below minLimit and does not grow while app-limited', () => {
    const d = new DelayLimit({ ...options, minLimit: 5, initialLimit: 8 })
    feed(d, 10, () => ({ rtt: 10, inFlight: 1 }))
    expect(d.limit).toBe(8)
    for (let i = 0; i < 10; i++)
      d.update({ now: 100 + i * 1000, rtt: 500, inFlight: 8, dropped: false })
    expect(d.limit).toBe(5)
  })
})
