import { describe, expect, it } from 'vitest'
import { runBreakerRecovery } from '../../bench/resilience.ts'

// The scenario `npm run bench` prints, on virtual time: exact for a seed, so the bounds hold on
// any machine. 200 calls/s; every attempt 503 for 30 s, then a healthy origin.
describe('the breaker through an outage', () => {
  it('sends about one probe per open period, and lets traffic back within maxOpenDuration', async () => {
    const withBreaker = await runBreakerRecovery({})
    const without = await runBreakerRecovery(false)
    // 4000 calls in seconds 10-30: a probe every 0.5 to 1 s, against the 1.1 per call the
    // budget alone lets through (the breaker's test: the throttle is off here).
    expect(withBreaker.attemptsPerCallDuringOutage).toBeLessThan(0.01)
    expect(without.attemptsPerCallDuringOutage).toBeGreaterThan(1.05)
    // The open period is at most 1 s: the first probe after recovery closes the circuit.
    expect(withBreaker.recoveredAfter).toBeLessThanOrEqual(2)
    expect(without.recoveredAfter).toBe(1)
    // Virtual time: the timeout only has to cover a machine busy with other test files.
  }, 120_000)
})
