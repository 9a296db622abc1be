import diagnosticsChannel from 'node:diagnostics_channel'
import { Redis } from 'ioredis'
import { createClient as createNodeRedis } from 'redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { gcraRule } from '../../src/rate-limit/gcra.ts'
import {
  createClient,
  memoryStore,
  type RateLimitStore,
  type RateLimitStoreEvent,
} from '../../src/index.ts'
import { redisStore } from '../../src/redis/index.ts'
import { createFaultServer, type FaultServer } from '../../src/testing/index.ts'
import { haveRedis, startRedis, type TestRedis } from '../support/redis-server.ts'

// Without redis-server the suite is skipped on a developer's machine; CI installs it, and there a
// missing server fails the run rather than skipping it.
const run = haveRedis || process.env.CI !== undefined ? describe : describe.skip
if (!haveRedis && process.env.CI === undefined) {
  console.warn(
    'rate-limit-redis.test.ts SKIPPED: no redis-server on this machine (apt-get install redis-server); CI installs it and never skips',
  )
}

run('rate-limit stores: the same behaviour in memory and on a real redis-server', () => {
  let redis: TestRedis
  let io: Redis
  let nodeRedis: ReturnType<typeof createNodeRedis>
  beforeAll(async () => {
    redis = await startRedis()
    io = new Redis({ port: redis.port, host: '127.0.0.1' })
    io.on('error', () => undefined)
    nodeRedis = createNodeRedis({ socket: { port: redis.port, host: '127.0.0.1' } })
    nodeRedis.on('error', () => undefined)
    await nodeRedis.connect()
  })
  afterAll(async () => {
    io.disconnect()
    await nodeRedis.quit()
    await redis.stop()
  })

  const stores: [string, () => RateLimitStore][] = [
    ['memory', () => memoryStore()],
    ['redis (ioredis)', () => redisStore(io, { instances: 1 })],
    ['redis (node-redis)', () => redisStore(nodeRedis, { instances: 1 })],
  ]
  // Redis runs on its own clock: waits it computes differ from the local ones by the time the
  // commands took, well under this on loopback even on a loaded machine.
  const slack = 50

  for (const [name, make] of stores) {
    describe(name, () => {
      it('lets burst + 1 go at once, then spaces requests at the rate', async () => {
        const store = make()
        const key = `burst-${name}-${Math.random()}`
        const rule = gcraRule(10, 1000, 2)
        const waits = []
        for (let i = 0; i < 5; i++)
          waits.push((await store.reserve(key, rule, 10_000, performance.now())).wait)
        expect(waits.slice(0, 3)).toEqual([0, 0, 0])
        expect(waits[3]).toBeGreaterThan(100 - slack)
        expect(waits[3]).toBeLessThanOrEqual(100)
        expect(waits[4]).toBeGreaterThan(200 - slack)
        expect(waits[4]).toBeLessThanOrEqual(200)
      })

      it('refuses without reserving when the wait exceeds maxWait, and says how long', async () => {
        const store = make()
        const key = `refuse-${name}-${Math.random()}`
        const rule = gcraRule(1, 1000, 0)
        expect((await store.reserve(key, rule, 0, performance.now())).allowed).toBe(true)
        const refused = await store.reserve(key, rule, 100, performance.now())
        expect(refused.allowed).toBe(false)
        expect(refused.wait).toBeGreaterThan(1000 - slack)
        // Nothing was reserved: the next answer is the same slot.
        const again = await store.reserve(key, rule, 10_000, performance.now())
        expect(again.allowed).toBe(true)
        expect(again.wait).toBeLessThanOrEqual(1000)
      })

      it('holds a paused key until the pause ends', async () => {
        const store = make()
        const key = `pause-${name}-${Math.random()}`
        const rule = gcraRule(100, 1000, 5)
        await store.pause(key, rule, 2000, performance.now())
        const r = await store.reserve(key, rule, 10_000, performance.now())
        expect(r.wait).toBeGreaterThan(2000 - slack)
        expect(r.wait).toBeLessThanOrEqual(2000)
      })
    })
  }

  it('keeps the key out of Redis: a hash in a Cluster hash tag', async () => {
    const store = redisStore(io, { instances: 1 })
    await store.reserve('sk-live-secret-token', gcraRule(1, 1000, 0), 0, 0)
    const keys = await io.keys('netiquette:rate:*')
    expect(keys.length).toBeGreaterThan(0)
    for (const key of keys) {
      expect(key).toMatch(/^netiquette:rate:\{[\w-]{22}\}$/)
      expect(key).not.toContain('secret')
    }
  })

  it('shares one quota between two clients through Redis', async () => {
    const server = await createFaultServer()
    const store = redisStore(io, { instances: 2 })
    const options = { origin: server.url, deadline: 1000, rateLimit: { rate: 20, store } }
    const clients = [createClient(options), createClient(options)]
    try {
      const started = performance.now()
      const settled = await Promise.allSettled(
        clients.flatMap((c) =>
          Array.from({ length: 30 }, () => c.request('/').then((r) => r.body.dump())),
        ),
      )
      const took = performance.now() - started
      const served = settled.filter((s) => s.status === 'fulfilled').length
      // 20/s shared: about 20 × 0.9 s served, the rest refused; two limits of their own would
      // serve twice that.
      expect(served).toBeLessThanOrEqual(22)
      expect(server.stats.requests).toBe(served)
      expect(server.stats.requests).toBeLessThanOrEqual(Math.ceil((took / 1000) * 20) + 1)
    } finally {
      await Promise.all(clients.map((c) => c.close()))
      await server.close()
    }
  })
})

run('the Redis store when Redis fails', () => {
  let server: FaultServer
  let redis: TestRedis
  const events: RateLimitStoreEvent[] = []
  const listen = (message: unknown) => events.push(message as RateLimitStoreEvent)
  beforeAll(async () => {
    server = await createFaultServer()
    redis = await startRedis()
    diagnosticsChannel.subscribe('netiquette:rate-limit', listen)
  })
  afterAll(async () => {
    diagnosticsChannel.unsubscribe('netiquette:rate-limit', listen)
    await redis.stop()
    await server.close()
  })

  /** Calls at 40/s for `ms`, each with a 500 ms deadline; returns each call's duration. */
  async function traffic(client: ReturnType<typeof createClient>, ms: number) {
    const durations: Promise<number>[] = []
    const end = performance.now() + ms
    while (performance.now() < end) {
      const started = performance.now()
      durations.push(
        client.request('/').then(
          async (r) => {
            await r.body.dump()
            return performance.now() - started
          },
          () => performance.now() - started,
        ),
      )
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    return Promise.all(durations)
  }

  for (const fault of ['killed', 'paused (SIGSTOP)'] as const) {
    it(`falls back to rate / instances when Redis is ${fault}, and resumes sharing when it is back`, async () => {
      const io = new Redis({ port: redis.port, host: '127.0.0.1', maxRetriesPerRequest: 1 })
      io.on('error', () => undefined)
      const store = redisStore(io, { instances: 4, timeout: 100, retryInterval: 200 })
      await io.ping()
      const client = createClient({
        origin: server.url,
        deadline: 500,
        rateLimit: { rate: 40, store },
        retry: false,
      })
      events.length = 0
      try {
        expect((await traffic(client, 300)).length).toBeGreaterThan(0)
        expect(client.stats().rateLimits[0]?.fallback).toBe(false)
        if (fault === 'killed') await redis.kill()
        else redis.pause()
        server.resetStats()
        const during = await traffic(client, 1500)
        // No call waited past its deadline (plus the time a loaded machine takes to notice).
        expect(Math.max(...during)).toBeLessThan(500 + 400)
        expect(client.stats().rateLimits[0]?.fallback).toBe(true)
        expect(events.map((e) => e.event)).toContain('fallback')
        // The local limit: 40 / 4 = 10/s, so about 15 in 1.5 s (and the calls that were waiting
        // for Redis when it went), not the 60 offered.
        expect(server.stats.requests).toBeLessThanOrEqual(1.5 * 10 + 8)
        if (fault === 'killed') await redis.restart()
        else redis.resume()
        await expect
          .poll(
            async () => {
              await traffic(client, 250)
              return client.stats().rateLimits[0]?.fallback
            },
            { timeout: 10_000, interval: 50 },
          )
          .toBe(false)
        expect(events.map((e) => e.event)).toContain('recovered')
      } finally {
        await client.close()
        io.disconnect()
      }
    })
  }
})
