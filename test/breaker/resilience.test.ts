import { describe, expect, it } from 'vitest'
import { runBreakerRecovery } from '../../bench/resilience.ts'

// The scenario `npm run bench` prints, on virtual time: exact for a seed, so the bounds hold on
// any machine. 200 calls/s; every attempt 503 for 30 s, then a healthy origin.
describe('the breaker through an outage', () => {
  it('sends about one probe per open period, and lets traffic back within maxOpenDuration', async () => {
    const withBreaker = await runBreakerRecovery({})
    const without = await runBreakerRecovery(false)
    // 4000 calls in seconds 10-30: a handful of probes, against the budget's 1.1 per call.
    expect(withBreaker.attemptsPerCallDuringOutage).toBeLessThan(0.002)
    expect(without.attemptsPerCallDuringOutage).toBeGreaterThan(1.05)
    // The open period is at most 10 s: the first probe after recovery closes the circuit.
    expect(withBreaker.recoveredAfter).toBeLessThanOrEqual(11)
    expect(without.recoveredAfter).toBe(1)
  })
})
