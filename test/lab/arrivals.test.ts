import { describe, expect, it } from 'vitest'
import { poissonArrivals } from '../../tools/lab/arrivals.ts'
import { seededRandom } from '../../src/core/random.ts'

describe('poissonArrivals', () => {
  it('gives the same schedule for the same seed, and another for another seed', () => {
    const a = poissonArrivals(100, 10_000, seededRandom(7))
    expect(poissonArrivals(100, 10_000, seededRandom(7))).toEqual(a)
    expect(poissonArrivals(100, 10_000, seededRandom(8))).not.toEqual(a)
  })

  it('offers the rate asked for, in ascending order within the duration', () => {
    const times = poissonArrivals(200, 100_000, seededRandom(1))
    // 20,000 expected; a Poisson count's standard deviation is about 141.
    expect(times.length).toBeGreaterThan(19_400)
    expect(times.length).toBeLessThan(20_600)
    for (let i = 1; i < times.length; i++) {
      expect(times[i]).toBeGreaterThanOrEqual(times[i - 1] as number)
    }
    expect(times[0]).toBeGreaterThan(0)
    expect(times[times.length - 1]).toBeLessThan(100_000)
  })

  it('has exponential gaps: about 37% of them longer than the mean', () => {
    const times = poissonArrivals(100, 200_000, seededRandom(3))
    let long = 0
    for (let i = 1; i < times.length; i++)
      if ((times[i] as number) - (times[i - 1] as number) > 10) long++
    expect(long / (times.length - 1)).toBeCloseTo(Math.exp(-1), 1)
  })
})
