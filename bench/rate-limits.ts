// Rate limits shared through Redis (issue 22): a real redis-server of its own, 4 worker processes
// sharing 100 requests/s (burst 10), each offering 100/s for 10 s (examples/shared-quota.ts), and
// the same run with Redis killed and restarted, and paused (SIGSTOP) and resumed, mid-run. Then the
// Redis store's added latency per reservation on loopback. `npm run build` first (the workers load
// the built package); `node bench/rate-limits.ts [--seconds 10]`.
import { Redis } from 'ioredis'
import { main as sharedQuota } from '../examples/shared-quota.ts'
import { gcraRule } from '../src/rate-limit/gcra.ts'
import { memoryStore } from '../src/index.ts'
import { redisStore } from '../src/redis/index.ts'
import { startRedis } from '../test/support/redis-server.ts'

const argSeconds = process.argv.indexOf('--seconds')
const seconds = argSeconds > 0 ? Number(process.argv[argSeconds + 1]) : 10
const redis = await startRedis()
const quiet = () => {}

function verdict(perSecond: number[], from: number, to: number) {
  const window = perSecond.slice(from, to)
  return `after the burst: max ${Math.max(...window)}, min ${Math.min(...window)} per second`
}

try {
  const exact = await sharedQuota(quiet, { processes: 4, seconds, redisPort: redis.port })
  console.log(`exactness, 4 processes × 100/s offered, 100/s shared (burst 10), ${seconds} s`)
  console.log(`  per second: ${exact.perSecond.join(' ')}`)
  console.log(`  ${verdict(exact.perSecond, 1, seconds)}`)

  for (const fault of ['killed', 'paused'] as const) {
    const run = await sharedQuota(quiet, {
      processes: 4,
      seconds,
      redisPort: redis.port,
      async onSecond(s) {
        if (s === 3) {
          if (fault === 'killed') await redis.kill()
          else redis.pause()
        }
        if (s === 6) {
          if (fault === 'killed') await redis.restart()
          else redis.resume()
        }
      },
    })
    const slowest = Math.max(...run.reports.map((r) => r.slowest))
    const failed = run.reports.reduce((n, r) => n + r.failed, 0)
    console.log(`Redis ${fault} at second 3, back at second 6`)
    console.log(`  per second: ${run.perSecond.join(' ')}`)
    console.log(
      `  slowest call ${Math.round(slowest)} ms (deadline 1000), calls failed other than refused: ${failed}, fell back: ${run.reports.filter((r) => r.fallback).length} of 4 workers`,
    )
  }

  // The store's added latency: one reservation (one EVALSHA) at a time, on loopback.
  const io = new Redis({ port: redis.port, host: '127.0.0.1' })
  const stores = [
    ['memory', memoryStore()],
    ['redis', redisStore(io, { instances: 1 })],
  ] as const
  const rule = gcraRule(1e9, 1000, 0)
  for (const [name, store] of stores) {
    const times: number[] = []
    for (let i = 0; i < 5000; i++) {
      const t = performance.now()
      await store.reserve(`k${i % 100}`, rule, 1000, t)
      if (i >= 500) times.push((performance.now() - t) * 1000)
    }
    times.sort((a, b) => a - b)
    const q = (p: number) => (times[Math.floor(p * (times.length - 1))] as number).toFixed(1)
    console.log(`${name} store, one reservation: median ${q(0.5)} µs, p99 ${q(0.99)} µs`)
  }
  io.disconnect()
} finally {
  await redis.stop()
}
