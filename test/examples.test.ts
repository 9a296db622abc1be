import { describe, expect, it } from 'vitest'
import { main as deadlines } from '../examples/deadlines.ts'
import { main as tour } from '../examples/tour.ts'
import { main as globalFetch } from '../examples/global-fetch.ts'
import { main as decompression } from '../examples/decompression.ts'
import { main as hedging } from '../examples/hedging.ts'
import { main as sharedQuota } from '../examples/shared-quota.ts'
import { main as fleet } from '../examples/fleet.ts'
import { main as gate } from '../examples/gate.ts'
import { haveRedis, startRedis } from './support/redis-server.ts'

// Examples are part of the docs: running them here keeps them from rotting.
describe('examples', () => {
  it('tour.ts runs and explains each call', async () => {
    const lines = await tour(() => {})
    const text = lines.join('\n')
    expect(text).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/charges\/42 got 200 after 1 attempt/)
    expect(text).toMatch(/flaky got 200 after 2 attempts/)
    expect(text).toMatch(/#1 at \+[\d.]+ ms: 503 \[overload\].*-> retry in [\d.]+ ms: status 503/)
    expect(text).toMatch(/POST .*\/charges got 503 after 1 attempt/)
    expect(text).toMatch(/-> return: .*POST is not idempotent and has no Idempotency-Key/)
    expect(text).toMatch(/POST .*\/charges got 201 after 2 attempts/)
    expect(text).toMatch(/the server saw the key [\w-]+ on both attempts: true/)
    expect(text).toMatch(/-> retry in 1000 ms: status 503 is retryable \(retry-after: 1\)/)
    // 3 attempts, and up to two more when the first met the reset on reused connections (each
    // retried at once as a keep-alive race).
    expect(text).toMatch(/\/reset failed with (ECONNRESET|UND_ERR_SOCKET).* after [345] attempts/)
    expect(text).toContain('rejected with NQ_CROSS_ORIGIN, nothing sent')
    expect(text).toMatch(/The server saw 1[123] requests/)
    expect(text).toContain('circuit closed -> open: 5 of 5 calls failed in the last 10 s')
    expect(text).toMatch(/call failed with NQ_CIRCUIT_OPEN \(the circuit for .* is open/)
    expect(text).toMatch(/100 more calls failed in \d+ µs each, none sent/)
    expect(text).toContain('the down origin saw 5 requests in all')
  })
})

describe('gate.ts', () => {
  it('counts calls in flight with a gate, beside a middleware, and leaves none counted', async () => {
    const text = (await gate(() => {})).join('\n')
    expect(text).toMatch(/at most 3 calls to one path were in flight at once/)
    expect(text).toContain('in flight now: 0')
    // Each /slow answer took its 50 ms of server latency.
    expect(text.match(/\/slow answered in \d+ ms/g)).toHaveLength(3)
    expect(text).toContain('the server saw x-example on every request: true')
  })
})

describe('deadlines.ts', () => {
  it('shows the frontend giving up on the backend within the caller’s deadline', async () => {
    const text = (await deadlines(() => {})).join('\n')
    // The caller's 300 ms less the 5 ms margin; then less again on the next hop.
    const sent = (who: string) =>
      Number(new RegExp(`${who}.* x-deadline-remaining-ms: (\\d+)`).exec(text)?.[1])
    expect(sent('frontend')).toBeLessThanOrEqual(295)
    expect(sent('backend')).toBeLessThan(sent('frontend'))
    expect(text).toMatch(
      /frontend: GET http:\/\/127\.0\.0\.1:\d+\/report failed with NQ_DEADLINE_EXCEEDED/,
    )
    expect(text).toMatch(/caller: (got 504|GET .* failed with NQ_DEADLINE_EXCEEDED)/)
  })
})

describe('global-fetch.ts', () => {
  it('shows a global fetch() retried through client.dispatcher, and the stats after', async () => {
    const text = (await globalFetch(() => {})).join('\n')
    expect(text).toMatch(/retrying GET \/inventory in \d+ ms: status 503 is retryable/)
    expect(text).toContain('fetch got 200: {"widgets":3}')
    expect(text).toContain('the server saw 2 requests')
    expect(text).toMatch(/stats: 1 call, 2 attempts, 1 retry allowed, circuit closed, limit 20/)
  })
})

describe('decompression.ts', () => {
  it("decompresses a page, and refuses a 32 KiB gzip bomb at the recipe's 8 MiB cap", async () => {
    const text = (await decompression(() => {})).join('\n')
    expect(text).toContain('/page: {"widgets":3}')
    expect(text).toMatch(
      /\/bomb: refused: Decompressed response size \(\d+\) exceeded maxSize \(8388608\)/,
    )
  })
})

describe('hedging.ts', () => {
  it('shows the paused read waited out without hedging, and answered by a hedge with it', async () => {
    const text = (await hedging(() => {})).join('\n')
    const slowest = (name: string) =>
      Number(new RegExp(`${name}: 10 reads in \\d+ ms, the slowest (\\d+) ms`).exec(text)?.[1])
    expect(slowest('without hedging')).toBeGreaterThanOrEqual(2_000)
    // A hedge after 50 ms answers in a few; a busy machine gets the benefit of the doubt.
    expect(slowest('with hedging')).toBeLessThan(1_500)
    expect(text).toMatch(/with hedging: .* 11 requests sent/)
    expect(text).toMatch(/#2 at \+\d+ ms \(hedge\): 200/)
    expect(text).toMatch(
      /#1 at .*NQ_SUPERSEDED.*-> superseded: attempt 2 \(a hedge\) answered first/,
    )
    expect(text).toContain('hedges sent 1, won 1, refused 0')
  })
})

describe.runIf(haveRedis || process.env.CI !== undefined)('shared-quota.ts', () => {
  it('shares one quota between worker processes through a real redis-server', async () => {
    const redis = await startRedis()
    try {
      const { perSecond } = await sharedQuota(() => {}, {
        processes: 2,
        seconds: 2,
        rate: 20,
        burst: 2,
        offered: 40,
        redisPort: redis.port,
      })
      // 2 × 40/s offered, 20/s shared: each second sees about 20 (the first, the burst too).
      for (const count of perSecond) expect(count).toBeLessThanOrEqual(20 + 2 + 2)
      expect(perSecond[1]).toBeGreaterThanOrEqual(15)
    } finally {
      await redis.stop()
    }
  }, 30_000)
})

describe('fleet.ts', () => {
  it('shows a wrapper stuck after a deploy and netiquette recovering', async () => {
    const text = (await fleet(() => {})).join('\n')
    expect(text).toMatch(
      /our wrapper: still down 31 s after the deploy; in the last 10 s [34]\.\d attempts per call, [0-5]% of calls succeeded/,
    )
    expect(text).toMatch(
      /netiquette: recovered [0-9] s after the deploy; in the last 10 s 1\.0 attempts per call, 100% of calls succeeded, 0% of the server's work/,
    )
  }, 120_000)
})
