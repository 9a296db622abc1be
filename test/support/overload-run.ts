import { setTimeout as delay } from 'node:timers/promises'
import { createClient, type ClientOptions, type ConcurrencyOptions } from '../../src/index.ts'
import type { FaultServer } from '../../src/testing/index.ts'

/** One open-loop run through a capacity drop, in real time. */
export interface OverloadRun {
  /** Per call: when it started (ms from the run's start), its latency, and whether it got a 200. */
  calls: { start: number; latency: number; ok: boolean }[]
  /** The limit every 100 ms. */
  limits: number[]
}

// 150 calls/s, open loop, to an origin with 6 slots of about 20 ms (300/s); from 1.5 s to 5 s it
// has 2 slots (100/s), then 6 again until 6.5 s.
export const RATE = 150
export const DROP = [1_500, 5_000] as const
export const END = 6_500

/**
 * Calls `url` + `/work` at {@link RATE} with `concurrency` (and `agent`, for a TLS origin's CA),
 * cutting `server`'s capacity from 6 to 2 slots during {@link DROP}. No retries, no breaker, a
 * 1 s deadline.
 */
export async function runThroughDrop(
  server: FaultServer,
  url: string,
  concurrency: ConcurrencyOptions,
  agent?: ClientOptions['agent'],
): Promise<OverloadRun> {
  server.setCapacity(6)
  const client = createClient({
    origin: url,
    retry: false,
    breaker: false,
    deadline: 1_000,
    concurrency,
    ...(agent === undefined ? {} : { agent }),
  })
  const calls: OverloadRun['calls'] = []
  const limits: number[] = []
  const started = performance.now()
  const pending: Promise<void>[] = []
  const sampler = setInterval(() => limits.push(client.limiters?.get()?.limit ?? NaN), 100)
  let dropped = false
  let restored = false
  try {
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
            const ok = response.statusCode === 200
            calls.push({ start: start - started, latency: performance.now() - start, ok })
          },
          () => {
            calls.push({ start: start - started, latency: performance.now() - start, ok: false })
          },
        ),
      )
    }
    await Promise.all(pending)
  } finally {
    clearInterval(sampler)
    await client.destroy()
  }
  return { calls, limits }
}

/** p99 latency of the successful calls sent in [from, to). */
export function p99(run: OverloadRun, from: number, to: number): number {
  const latencies = run.calls
    .filter((c) => c.ok && c.start >= from && c.start < to)
    .map((c) => c.latency)
    .sort((a, b) => a - b)
  return latencies[Math.floor(latencies.length * 0.99)] ?? NaN
}

/** Successful calls sent in [from, to), per second. */
export function goodput(run: OverloadRun, from: number, to: number): number {
  return (
    (run.calls.filter((c) => c.ok && c.start >= from && c.start < to).length * 1000) / (to - from)
  )
}

/** The steady part of each phase: the second before the drop, and the drop less its first and last second. */
export const BEFORE = [DROP[0] - 1_000, DROP[0]] as const
export const DURING = [DROP[0] + 1_000, DROP[1] - 1_000] as const
