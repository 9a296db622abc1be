import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  backoffDelay,
  decorrelatedJitter,
  equalJitter,
  fullJitter,
  type BackoffStrategy,
} from '../../src/index.ts'
import { seededRandom } from '../../src/testing/index.ts'

const constant = (r: number) => () => r

describe('full jitter', () => {
  it('draws from [0, min(cap, base * 2^retry))', () => {
    expect(fullJitter(0, 100, 20_000, constant(0.5))).toBe(50)
    expect(fullJitter(3, 100, 20_000, constant(0.5))).toBe(400)
    expect(fullJitter(20, 100, 20_000, constant(0.5))).toBe(10_000)
    expect(fullJitter(0, 100, 20_000, constant(0))).toBe(0)
  })

  it('spreads retries over the whole range rather than bunching them', () => {
    const random = seededRandom(7)
    const draws = Array.from({ length: 10_000 }, () => fullJitter(2, 100, 20_000, random))
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length
    expect(mean).toBeGreaterThan(190)
    expect(mean).toBeLessThan(210)
    expect(Math.max(...draws)).toBeGreaterThan(390)
    expect(Math.min(...draws)).toBeLessThan(10)
  })
})

describe('equal and decorrelated jitter', () => {
  it('equal jitter keeps half of the exponential delay fixed', () => {
    expect(equalJitter(2, 100, 20_000, constant(0))).toBe(200)
    expect(equalJitter(2, 100, 20_000, constant(0.5))).toBe(300)
  })

  it('decorrelated jitter grows from the previous delay, between base and three times it', () => {
    expect(decorrelatedJitter(undefined, 100, 20_000, constant(0))).toBe(100)
    expect(decorrelatedJitter(undefined, 100, 20_000, constant(0.5))).toBe(200)
    expect(decorrelatedJitter(1000, 100, 20_000, constant(0.5))).toBe(1550)
    expect(decorrelatedJitter(15_000, 100, 20_000, constant(0.9))).toBe(20_000)
  })
})

describe('every strategy (property)', () => {
  const strategies = fc.constantFrom<BackoffStrategy>('full', 'equal', 'decorrelated')
  // Any double a random source could return, including broken ones.
  const randomValue = fc.oneof(
    fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
    fc.double(),
  )
  const input = fc
    .record({
      strategy: strategies,
      retry: fc.oneof(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 10_000 })),
      base: fc.double({ min: 0, max: 1e6, noNaN: true }),
      extra: fc.double({ min: 0, max: 1e9, noNaN: true }),
      previous: fc.option(fc.double({ min: 0, max: 1e9, noNaN: true }), { nil: undefined }),
      r: randomValue,
    })
    .map(({ base, extra, ...rest }) => ({ ...rest, base, cap: base + extra }))

  it('gives a finite delay within its bounds, never NaN or negative', () => {
    fc.assert(
      fc.property(input, ({ strategy, retry, base, cap, previous, r }) => {
        const delay = backoffDelay(strategy, { retry, previous, base, cap, random: () => r })
        expect(Number.isFinite(delay)).toBe(true)
        expect(delay).toBeGreaterThanOrEqual(0)
        expect(delay).toBeLessThanOrEqual(cap)
        const ceiling = Math.min(cap, base * 2 ** Math.min(retry, 64))
        if (strategy === 'full') expect(delay).toBeLessThanOrEqual(ceiling)
        if (strategy === 'equal') {
          expect(delay).toBeGreaterThanOrEqual(ceiling / 2)
          expect(delay).toBeLessThanOrEqual(ceiling)
        }
        if (strategy === 'decorrelated') expect(delay).toBeGreaterThanOrEqual(Math.min(base, cap))
      }),
      { numRuns: 10_000 },
    )
  })
})
