import { describe, expect, it } from 'vitest'
import { InvalidOptionError } from '../../src/index.ts'
import { AdaptiveThrottle } from '../../src/throttle/adaptive-throttle.ts'

function feed(t: AdaptiveThrottle, now: number, requests: number, accepts: number): void {
  for (let i = 0; i < requests; i++) t.record(now, i < accepts)
}

describe('AdaptiveThrottle', () => {
  it('rejects with probability (requests - k * accepts) / (requests + 1)', () => {
    const t = new AdaptiveThrottle({ maxRejection: 1 })
    feed(t, 0, 100, 30)
    expect(t.rejectionProbability(0)).toBeCloseTo((100 - 60) / 101, 12)
  })

  it('rejects nothing while the origin accepts at least one call in k', () => {
    const t = new AdaptiveThrottle()
    feed(t, 0, 100, 50)
    expect(t.rejectionProbability(0)).toBe(0)
    const strict = new AdaptiveThrottle({ k: 1.1 })
    feed(strict, 0, 100, 50)
    expect(strict.rejectionProbability(0)).toBeCloseTo((100 - 55) / 101, 12)
  })

  it('caps the probability at maxRejection', () => {
    const t = new AdaptiveThrottle()
    feed(t, 0, 100, 0)
    expect(t.rejectionProbability(0)).toBe(0.8)
  })

  it('rejects nothing below minRequests', () => {
    const t = new AdaptiveThrottle({ maxRejection: 1 })
    feed(t, 0, 9, 0)
    expect(t.rejectionProbability(0)).toBe(0)
    feed(t, 0, 1, 0)
    expect(t.rejectionProbability(0)).toBeCloseTo(10 / 11, 12)
  })

  it('returns to zero once the overloaded requests leave the window', () => {
    const t = new AdaptiveThrottle({ window: 10_000 })
    feed(t, 0, 100, 0)
    expect(t.rejectionProbability(9_000)).toBe(0.8)
    expect(t.rejectionProbability(10_000)).toBe(0)
  })

  it.each([
    ['throttle.k', { k: 0.5 }],
    ['throttle.maxRejection', { maxRejection: 1.5 }],
    ['throttle.window', { window: -1 }],
    ['throttle.minRequests', { minRequests: -1 }],
    ['throttle.K', { K: 2 }],
  ])('rejects a bad %s', (option, options) => {
    try {
      new AdaptiveThrottle(options as never)
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidOptionError)
      expect((error as InvalidOptionError).option).toBe(option)
    }
  })
})
