import { setTimeout as delay } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { createClient, type Client, type ConcurrencyOptions } from '../../src/index.ts'
import { createFaultServer, type FaultServer } from '../../src/testing/index.ts'

let server: FaultServer | undefined
let client: Client | undefined

afterEach(async () => {
  await client?.destroy()
  await server?.close()
})

interface Run {
  /** Per call: when it started (ms from the run's start), its latency, and whether it got a 200. */
  calls: { start: number; latency: number; ok: boolean }[]
  /** The limit every 100 ms. */
  limits: number[]
}

// 150 calls/s, open loop, to a fault server with 6 slots of about 20 ms (300/s); from 1.5 s to
// 5 s it has 2 slots (100/s), then 6 again until 6.5 s.
const RATE = 150
const DROP = [1_500, 5_000] as const
const END = 6_500

async function run(concurrency: ConcurrencyOptions): Promise<Run> {
  server = await createFaultServer({ capacity: 6 })
  server.route('/work', { latency: { min: 16, max: 24 } })
  client = createClient({
    origin: server.url,
    retry: false,
    breaker: false,
    deadline: 1_000,
    concurrency,
  })
  const calls: Run['calls'] = []
  const limits: number[] = []
  const started = performance.now()
  const pending: Promise<void>[] = []
  const sampler = setInterval(() => limits.push(client?.limiters?.get()?.limit ?? NaN), 100)
  let dropped = false
  let restored = false
  for (let i = 0; i < (END * RATE) / 1000; i++) {
    // Open loop: each call at its own time, whatever the earlier ones are doing.
    const at = (i * 1000) / RATE
    const wait = started + at - performance.now()
    if (wait > 0) await delay(wait)
    const now = performance.now() - started
    if (!dropped && now >= DROP[0]) {
      server.setCapacity(2)
      dropped = true
    }
    if (!restored && now >= DROP[1]) {
      server.setCapacity(6)
      restored = true
    }
    const start = performance.now()
    pending.push(
      client.request('/work').then(
        async (response) => {
          await response.body.dump()
          calls.push({ start: start - started, latency: performance.now() - start, ok: true })
        },
        () => {
          calls.push({ start: start - started, latency: performance.now() - start, ok: false })
        },
      ),
    )
  }
  await Promise.all(pending)
  clearInterval(sampler)
  await client.close()
  await server.close()
  client = undefined
  server = undefined
  return { calls, limits }
}

function p99(run: Run, from: number, to: number): number {
  const latencies = run.calls
    .filter((c) => c.ok && c.start >= from && c.start < to)
    .map((c) => c.latency)
    .sort((a, b) => a - b)
  return latencies[Math.floor(latencies.length * 0.99)] ?? NaN
}

function goodput(run: Run, from: number, to: number): number {
  return (
    (run.calls.filter((c) => c.ok && c.start >= from && c.start < to).length * 1000) / (to - from)
  )
}

describe('the concurrency limiter against a fault server whose capacity drops 3x', () => {
  it('keeps p99 low with the delay-based limit, where a fixed 64 queues at the origin', async () => {
    const fixed = await run({ limit: 64 })
    const adaptive = await run({ algorithm: 'delay' })
    // The steady part of the drop: calls sent from 1 s after it began until 1 s before its end
    // (later ones may wait out the rest of the drop in the queue and go when it is over).
    const during = [DROP[0] + 1_000, DROP[1] - 1_000] as const

    // A fixed 64 keeps sending: the origin's queue grows by 50 requests a second.
    expect(p99(fixed, ...during)).toBeGreaterThan(300)
    // The adaptive limit falls, keeps the origin's queue short, and its p99 well below.
    expect(p99(adaptive, ...during)).toBeLessThan(p99(fixed, ...during) / 2)
    expect(goodput(adaptive, ...during)).toBeGreaterThan(70) // of the origin's 100/s

    const limitAt = (t: number) => adaptive.limits[Math.floor(t / 100)] ?? NaN
    expect(Math.min(...adaptive.limits.slice(DROP[0] / 100 + 5, DROP[1] / 100))).toBeLessThan(
      limitAt(DROP[0] - 100),
    )
    // And climbs back once the capacity returns.
    const lowest = Math.min(...adaptive.limits.slice(DROP[0] / 100, DROP[1] / 100))
    expect(Math.max(...adaptive.limits.slice(DROP[1] / 100 + 5))).toBeGreaterThan(lowest)
  }, 30_000)
})
