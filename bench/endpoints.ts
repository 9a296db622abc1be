import { ATTEMPT_ENDPOINT } from '../src/core/attempt-keys.ts'
// Balancing over an origin's addresses on virtual time, through the client's real default stack
// ending in simulated endpoints (issue 21): Buoyant's "Beyond Round Robin" (Linkerd, 2016).
// 11 endpoints answer in a lognormal time (median 167 ms); 1,000 calls/s for 60 s with a 1 s
// timeout (the call's deadline); from second 10 to second 40 one endpoint takes 2 s per answer,
// so every attempt sent to it then times out. Linkerd measured success about 95% with round
// robin, 99% least loaded and 99.9% peak EWMA. Round robin and least loaded (the power of two
// choices over attempts in flight, Finagle's default) are bench middleware in the place of the
// endpoints layer; "peak EWMA" is the `endpoints` option.
//
//   node bench/endpoints.ts            # also part of `npm run bench`
//   node bench/endpoints.ts --json
import { parseArgs } from 'node:util'
import { simulatedOrigin } from './simulated-response.ts'
import { createClient, type CallRequest, type Middleware } from '../src/index.ts'
import { Endpoint } from '../src/endpoints/endpoint.ts'
import { DEFAULT_EJECTION } from '../src/endpoints/endpoints-options.ts'
import { canEject, countOutcome, eject, sweep } from '../src/endpoints/outlier-ejection.ts'
import { VirtualClock, seededRandom, type Random } from '../src/testing/index.ts'

/** Linkerd's figures ("Beyond Round Robin", 2016), for the table. */
export const PUBLISHED = { 'round robin': 0.95, 'least loaded': 0.99, 'peak EWMA': 0.999 } as const

/** The balancers compared. */
export type Balancer = 'round robin' | 'least loaded' | 'peak EWMA'

export interface BalancerScenario {
  balancer: Balancer
  /** Whether one endpoint is stuck at 2 s for 30 s (`false`: the healthy baseline). @defaultValue true */
  stuck?: boolean
  /** Calls per second. @defaultValue 1000 */
  rate?: number
  /** Length of the run, in ms. @defaultValue 60000 */
  duration?: number
  seed?: number
  /** The client's concurrency limiter: off as in Linkerd's test, or the default. @defaultValue false */
  limiter?: boolean
  /**
   * Outlier ejection (5 failures in a row, or a failure rate well above the others', for 30 s):
   * the endpoints layer's own for peak EWMA, the same rules applied in the bench's middleware for
   * round robin and least loaded.
   * @defaultValue true for peak EWMA (the `endpoints` option's default), false for the others
   *   (Linkerd's experiment had none)
   */
  ejection?: boolean
}

export interface BalancerResult {
  /** Share of calls that got a 200 within the deadline. */
  success: number
  /** Percentiles of all calls' latency, a failed call counted at its time (the 1 s deadline). */
  p50: number
  p99: number
  /** Attempts sent to the stuck endpoint while it was stuck. */
  toStuck: number
  calls: number
  /** Failed calls by error code. */
  errors: Record<string, number>
}

const ENDPOINTS = 11
const MEDIAN = 167
const SIGMA = 0.3
const STUCK = '10.0.0.7'
const STUCK_LATENCY = 2_000
const STUCK_FROM = 10_000
const STUCK_UNTIL = 40_000
const DEADLINE = 1_000
const ADDRESSES = Array.from({ length: ENDPOINTS }, (_, i) => `10.0.0.${i + 1}`)

function lognormal(random: Random, median: number, sigma: number): number {
  const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
  return median * Math.exp(sigma * z)
}

/**
 * Round robin or least loaded in the place of the endpoints layer, for the comparison; with
 * `ejection`, the endpoints layer's own outlier rules (`outlier-ejection.ts`, its defaults) skip
 * ejected addresses, so that every balancer can be read with and without ejection.
 */
function baselineBalancer(
  balancer: 'round robin' | 'least loaded',
  random: Random,
  clock: VirtualClock,
  ejection: boolean,
): Middleware {
  const endpoints = ADDRESSES.map(
    (address) => new Endpoint(address, new URL('http://svc.test'), 10_000, 0),
  )
  const rules = DEFAULT_EJECTION
  let next = 0
  let nextSweep = rules.interval
  const choose = (now: number): Endpoint => {
    if (ejection && now >= nextSweep) {
      nextSweep = now + rules.interval
      sweep(endpoints, now, rules)
    }
    const live = ejection ? endpoints.filter((e) => !e.ejected(now)) : endpoints
    if (balancer === 'round robin') return live[next++ % live.length]!
    const i = Math.floor(random() * live.length)
    let j = Math.floor(random() * (live.length - 1))
    if (j >= i) j++
    const a = live[i]!
    const b = live[j]!
    return b.inFlight < a.inFlight ? b : a
  }
  return async (request: CallRequest, nextHandler) => {
    const endpoint = choose(clock.now())
    endpoint.inFlight++
    let failed = true
    try {
      const response = await nextHandler(ATTEMPT_ENDPOINT.with(request, endpoint))
      failed = response.statusCode >= 500
      return response
    } finally {
      endpoint.inFlight--
      const now = clock.now()
      if (
        ejection &&
        countOutcome(endpoint, failed, rules) &&
        canEject(endpoints, now, rules.maxShare)
      ) {
        eject(endpoint, now, rules)
      }
    }
  }
}

function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number
}

/** One run: `rate` calls per second for `duration` ms, evenly spaced. */
export async function runBalancer(scenario: BalancerScenario): Promise<BalancerResult> {
  const { balancer, stuck = true, rate = 1_000, duration = 60_000, seed = 1 } = scenario
  const ejection = scenario.ejection ?? balancer === 'peak EWMA'
  const limiter = scenario.limiter ?? false
  const clock = new VirtualClock()
  const draws = seededRandom(seed + 1_000)
  const counts = { toStuck: 0 }
  const latency = (address: string, now: number) =>
    stuck && address === STUCK && now >= STUCK_FROM && now < STUCK_UNTIL
      ? STUCK_LATENCY
      : lognormal(draws, MEDIAN, SIGMA)
  // The endpoints: 200 after a lognormal time, the stuck one after 2 s while stuck.
  const origin = simulatedOrigin((request) => {
    const address = ATTEMPT_ENDPOINT.get(request)?.address ?? 'none'
    const ms = latency(address, clock.now())
    if (ms === STUCK_LATENCY) counts.toStuck++
    return ms
  })
  const peak = balancer === 'peak EWMA'
  const client = createClient({
    origin: 'http://svc.test',
    clock,
    random: seededRandom(seed),
    deadline: DEADLINE,
    // Linkerd's clients had no concurrency limit: at 1,000 calls/s × 167 ms a cold limiter
    // (initial limit 20) queues calls while it grows, whichever balancer runs under it.
    concurrency: limiter,
    endpoints: peak
      ? { resolve: () => ADDRESSES, ...(ejection ? {} : { ejection: false }) }
      : false,
    middleware: (defaults) =>
      peak
        ? [...defaults, origin]
        : [
            ...defaults,
            baselineBalancer(balancer, seededRandom(seed + 2), clock, ejection),
            origin,
          ],
  })
  const latencies: number[] = []
  let ok = 0
  let calls = 0
  const errors: Record<string, number> = {}
  const interval = 1_000 / rate
  const pending: Promise<void>[] = []
  const tick = () => {
    if (clock.now() >= duration) return
    const start = clock.now()
    calls++
    pending.push(
      client.request('/').then(
        async (response) => {
          await response.body.dump()
          latencies.push(clock.now() - start)
          if (response.statusCode === 200) ok++
        },
        (error: unknown) => {
          latencies.push(clock.now() - start)
          const code = (error as { code?: string }).code ?? 'error'
          errors[code] = (errors[code] ?? 0) + 1
        },
      ),
    )
    clock.setTimer(tick, interval)
  }
  clock.setTimer(tick, 0)
  await clock.advance(duration + 2 * DEADLINE)
  await Promise.all(pending)
  await client.close()
  latencies.sort((a, b) => a - b)
  return {
    success: ok / calls,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    toStuck: counts.toStuck,
    calls,
    errors,
  }
}

export const BALANCERS: readonly Balancer[] = ['round robin', 'least loaded', 'peak EWMA']

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      seeds: { type: 'string', default: '1,2,3' },
    },
  })
  const seeds = values.seeds.split(',').map(Number)
  const wallStart = performance.now()
  type Row = { balancer: Balancer; ejection: boolean; runs: BalancerResult[] }
  const tables: Record<string, { healthy: BalancerResult[]; rows: Row[] }> = {}
  for (const limiter of [false, true]) {
    const healthy = []
    for (const seed of seeds) {
      healthy.push(await runBalancer({ balancer: 'peak EWMA', stuck: false, limiter, seed }))
    }
    const rows: Row[] = []
    for (const balancer of BALANCERS) {
      for (const ejection of [false, true]) {
        const runs = []
        for (const seed of seeds)
          runs.push(await runBalancer({ balancer, limiter, ejection, seed }))
        rows.push({ balancer, ejection, runs })
      }
    }
    tables[limiter ? 'default limiter' : 'no limiter'] = { healthy, rows }
  }
  const wall = (performance.now() - wallStart) / 1000
  if (values.json) {
    console.log(JSON.stringify({ published: PUBLISHED, seeds, ...tables }))
    return
  }
  console.log(
    `"Beyond Round Robin": 11 endpoints (median ${MEDIAN} ms), 1,000 calls/s for 60 s, 1 s deadline; one endpoint at 2 s from second 10 to 40. Virtual time, default stack, seeds ${seeds.join(', ')} (${wall.toFixed(0)} s of wall time)`,
  )
  const span = (xs: number[], f: (x: number) => string) => {
    const lo = Math.min(...xs)
    const hi = Math.max(...xs)
    return lo === hi ? f(lo) : `${f(lo)}-${f(hi)}`
  }
  for (const [name, { healthy, rows }] of Object.entries(tables)) {
    console.log('')
    console.log(
      name === 'no limiter'
        ? "Without a concurrency limiter, as in Linkerd's test:"
        : 'With the default concurrency limiter (cold at the start; attempts stuck on the slow endpoint hold its places):',
    )
    console.log('')
    console.log(
      '| balancer | ejection | success (Linkerd) | success (here) | p99 | p99 / healthy | attempts to the stuck endpoint |',
    )
    console.log('|---|---|---|---|---|---|---|')
    const healthyP99 = healthy.map((r) => r.p99)
    console.log(
      `| healthy run (peak EWMA) | on | | ${span(
        healthy.map((r) => r.success * 100),
        (x) => `${x.toFixed(2)}%`,
      )} | ${span(healthyP99, (x) => `${x.toFixed(0)} ms`)} | | |`,
    )
    for (const { balancer, ejection, runs } of rows) {
      const ratios = runs.map((r, i) => r.p99 / (healthyP99[i] as number))
      const published = ejection ? '' : `${(PUBLISHED[balancer] * 100).toFixed(1)}%`
      console.log(
        `| ${balancer} | ${ejection ? 'on' : 'off'} | ${published} | ${span(
          runs.map((r) => r.success * 100),
          (x) => `${x.toFixed(2)}%`,
        )} | ${span(
          runs.map((r) => r.p99),
          (x) => `${x.toFixed(0)} ms`,
        )} | ${span(ratios, (x) => x.toFixed(2))} | ${span(
          runs.map((r) => r.toStuck),
          (x) => String(x),
        )} |`,
      )
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
