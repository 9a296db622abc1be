import { describe, expect, it } from 'vitest'
import { runAmplification, runThrottleRecovery } from '../../bench/resilience.ts'

// The scenarios `npm run bench` prints, on virtual time: exact for a seed, so the bounds hold on
// any machine. 200 calls/s for 10 s to an origin answering in 10 ms.
describe('retry amplification', () => {
  it('stays at most 1.15 attempts per call during a total outage with the default budget', async () => {
    const budgeted = await runAmplification({ failureRate: 1 })
    const unbudgeted = await runAmplification({ failureRate: 1, retry: { budget: false } })
    expect(budgeted.offered).toBe(2000)
    expect(budgeted.amplification).toBeLessThanOrEqual(1.15)
    expect(unbudgeted.amplification).toBeCloseTo(3, 5)
    expect(budgeted.retriesRefused).toBeGreaterThan(1500)
  })

  it('costs no availability when 20% of attempts fail: within one point of no budget', async () => {
    for (const seed of [1, 2, 3]) {
      const budgeted = await runAmplification({ failureRate: 0.2, seed })
      const unbudgeted = await runAmplification({
        failureRate: 0.2,
        seed,
        retry: { budget: false },
      })
      expect(unbudgeted.successRate).toBeGreaterThan(0.98)
      expect(Math.abs(budgeted.successRate - unbudgeted.successRate)).toBeLessThanOrEqual(0.01)
    }
  })
})

describe('adaptive throttling', () => {
  it('sends about a fifth of the calls during an outage, and lets traffic back within seconds', async () => {
    const { sentDuringOutage, recoveredAfter } = await runThrottleRecovery()
    expect(sentDuringOutage).toBeGreaterThan(0.15)
    expect(sentDuringOutage).toBeLessThan(0.25)
    expect(recoveredAfter).toBeDefined()
    expect(recoveredAfter).toBeLessThanOrEqual(6)
  })
})
