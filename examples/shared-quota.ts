// A quota shared by a fleet: several worker processes (think: instances of one service) call one
// API whose quota is 100 requests/s for the whole fleet, through `rateLimit` with a Redis store.
// Each worker offers 100 calls/s; the fault server counts what arrives in each second. Run it with
// `node examples/shared-quota.ts` after `npm run build`, with a redis-server on REDIS_PORT
// (default 6379).
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { createClient } from 'netiquette'
import { redisStore } from 'netiquette/redis'
import { createFaultServer } from 'netiquette/testing'

/** How the run is shaped. */
export interface SharedQuotaOptions {
  processes?: number
  seconds?: number
  /** The fleet's quota, requests per second, and its burst. */
  rate?: number
  burst?: number
  /** Calls each worker offers per second. */
  offered?: number
  redisPort?: number
  /** Called at the start of each second of the run (the benchmark injects Redis faults here). */
  onSecond?: (second: number) => void | Promise<void>
}

/** What one worker reports when its calls have settled. */
interface WorkerReport {
  ok: number
  refused: number
  failed: number
  slowest: number
  fallback: boolean
}

/** Runs the example, writing what happens through `log`; returns what the server counted. */
export async function main(
  log: (line: string) => void = console.log,
  options: SharedQuotaOptions = {},
) {
  const {
    processes = 4,
    seconds = 3,
    rate = 100,
    burst = 10,
    offered = 100,
    redisPort = Number(process.env.REDIS_PORT ?? 6379),
  } = options
  const server = await createFaultServer()
  let start = Infinity // set once every worker is ready: all start their traffic at that moment
  const perSecond: number[] = Array(seconds).fill(0)
  server.route('/quota', () => {
    const second = Math.floor((Date.now() - start) / 1000)
    if (second >= 0 && second < seconds) perSecond[second] = (perSecond[second] ?? 0) + 1
    return 200
  })
  const settings = { url: server.url, seconds, rate, burst, offered, processes, redisPort }
  const workers = Array.from({ length: processes }, () =>
    fork(fileURLToPath(import.meta.url), ['--worker', JSON.stringify(settings)]),
  )
  // Each worker's messages: `ready` once its client and Redis connection are up, then its report.
  const messages = workers.map((worker) => {
    const next: ((message: unknown) => void)[] = []
    const failed = new Promise<never>((_, reject) =>
      worker.once('exit', (code) => reject(new Error(`a worker exited with ${code}`))),
    )
    failed.catch(() => undefined)
    worker.on('message', (message) => next.shift()?.(message))
    return () => Promise.race([new Promise<unknown>((resolve) => next.push(resolve)), failed])
  })
  const ready = messages.map((message) => message())
  const reports = messages.map((message) => message() as Promise<WorkerReport>)
  // A worker that starts slowly (a busy machine) must not start late and crowd its calls.
  await Promise.all(ready)
  start = Date.now() + 100
  for (const worker of workers) worker.send({ start })
  const ticks: Promise<void>[] = []
  for (let s = 0; s < seconds; s++) {
    const wait = start + s * 1000 - Date.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    ticks.push(Promise.resolve(options.onSecond?.(s)))
  }
  await Promise.all(ticks)
  const done = await Promise.all(reports)
  await server.close()
  log(
    `${processes} workers × ${offered} calls/s offered, sharing ${rate}/s (burst ${burst}) through Redis`,
  )
  log(`the API saw per second: ${perSecond.join(' ')}`)
  const sum = (f: (r: WorkerReport) => number) => done.reduce((n, r) => n + f(r), 0)
  log(
    `calls served ${sum((r) => r.ok)}, refused locally ${sum((r) => r.refused)} (RateLimitedError), failed ${sum((r) => r.failed)}; slowest call ${Math.round(Math.max(...done.map((r) => r.slowest)))} ms`,
  )
  return { perSecond, reports: done }
}

/** One worker: its own client and Redis connection, offering calls at a steady pace. */
async function worker(settings: {
  url: string
  seconds: number
  rate: number
  burst: number
  offered: number
  processes: number
  redisPort: number
}): Promise<WorkerReport> {
  const redis = new Redis({ port: settings.redisPort, host: '127.0.0.1', maxRetriesPerRequest: 1 })
  redis.on('error', () => undefined) // the store reports Redis trouble; a worker must not crash
  const client = createClient({
    origin: settings.url,
    deadline: 1000,
    retry: false,
    rateLimit: {
      rate: settings.rate,
      burst: settings.burst,
      store: redisStore(redis, { instances: settings.processes }),
    },
  })
  await redis.ping()
  const start = await new Promise<number>((resolve) => {
    process.once('message', (message) => resolve((message as { start: number }).start))
    process.send?.({ ready: true })
  })
  const report: WorkerReport = { ok: 0, refused: 0, failed: 0, slowest: 0, fallback: false }
  const calls: Promise<void>[] = []
  const total = settings.offered * settings.seconds
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 1000) / settings.offered - Date.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    const started = performance.now()
    calls.push(
      client.request('/quota').then(
        async (response) => {
          await response.body.dump()
          report.ok++
          report.slowest = Math.max(report.slowest, performance.now() - started)
        },
        (error: { code?: string }) => {
          if (error.code === 'NQ_RATE_LIMITED') report.refused++
          else report.failed++
          report.slowest = Math.max(report.slowest, performance.now() - started)
        },
      ),
    )
    if (client.stats().rateLimits[0]?.fallback === true) report.fallback = true
  }
  await Promise.all(calls)
  await client.close()
  redis.disconnect()
  return report
}

if (process.argv[2] === '--worker') {
  const report = await worker(JSON.parse(process.argv[3] as string))
  process.send?.(report, () => process.exit(0))
} else if (import.meta.main) {
  await main()
}
