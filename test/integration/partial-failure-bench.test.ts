import { describe, expect, it } from 'vitest'
import {
  runConnectionCap,
  runOutage,
  runRateLimited,
  runRestart,
} from '../../bench/partial-failure.ts'

// Issue 18's goals with the client's defaults, on virtual time (exact for a seed): what
// `npm run bench` prints, held as assertions. test/integration/partial-failure.test.ts shows
// the same on loopback.
describe('partial failure, on virtual time', () => {
  it.each([
    [1 / 3, 429, 'none'],
    [1 / 10, 503, 'retry-after'],
  ] as const)(
    'a rate-limited origin serving %f of the load (%i, %s): goodput is what it serves, under 1.2 requests per call',
    async (fraction, status, headers) => {
      const r = await runRateLimited({ fraction, status, headers })
      expect(r.goodput).toBeGreaterThanOrEqual(0.95)
      expect(r.requestsPerCall).toBeLessThanOrEqual(1.2)
    },
  )

  it.each(['503', 'refused'] as const)(
    'a total outage (%s): at most 0.05 requests per call after 2 s, 99 percent succeed within 2 s of recovery',
    async (kind) => {
      const r = await runOutage(kind)
      expect(r.requestsPerCall).toBeLessThanOrEqual(0.05)
      expect(r.recoveredAfter).toBeLessThanOrEqual(2)
    },
  )

  it.each(['GET', 'POST'] as const)(
    'a 2-connection cap under 8 parallel %s calls: every call succeeds',
    async (method) => {
      expect((await runConnectionCap(method)).succeeded).toBe(1)
    },
  )

  it('a port closed for 0.5 s under 100 calls/s with a 2 s deadline: at most 1% fail', async () => {
    expect((await runRestart()).failed).toBeLessThanOrEqual(0.01)
  })
})
