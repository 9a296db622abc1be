import { describe, expect, it } from 'vitest'
import { AimdLimit, DEFAULT_AIMD } from '../../src/pool/aimd-limit.ts'
import { FixedLimit, type LimitAlgorithm } from '../../src/pool/limit-algorithm.ts'

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
