// Hedged requests on virtual time, through the client's real default stack ending in simulated
// origins (issue 20):
//
// 1. "The Tail at Scale" (Dean and Barroso, CACM 2013): reading 1,000 keys spread over 100
//    servers, a hedge after 10 ms cut the 99.9th percentile of the whole read from 1,800 ms to
//    74 ms for 2% more requests. Here each of 100 origins answers in a lognormal time (median
//    2 ms, 1.6% of answers past 10 ms) with a rare slow mode (1 answer in 100,000 takes 0.8 to
//    1.9 s, a pause), calibrated so that the unhedged read's p99.9 is about 1,800 ms. Each
//    attempt's latency is drawn afresh: a hedge lands on another replica, or the same one after
//    its pause. Reads run one after another; a read's latency is its slowest key's.
// 2. The same client against one origin at capacity: a fixed number of service slots and a
//    FIFO queue, offered as much as it can serve. Hedging must not add more than its share of
//    requests, nor make the p99 worse.
//
//   node bench/hedging.ts                 # also part of `npm run bench`
//   node bench/hedging.ts --fanouts 4000  # more reads: a steadier p99.9
//   node bench/hedging.ts --json
import { parseArgs } from 'node:util'
import { noteAttemptError, startAttempt } from '../src/core/attempt.ts'
import { simulatedOrigin, simulatedResponse } from './simulated-response.ts'
import {
  createClient,
  type CallResponse,
  type HedgeOptions,
  type Middleware,
} from '../src/index.ts'
import { VirtualClock, seededRandom, type Random } from '../src/testing/index.ts'

/** The paper's figures, for the table. */
export const PAPER = { unhedged: 1_800, hedged: 74, extra: 0.02 } as const

/** Latency of one answer from a fan-out server, in ms. */
export interface LatencyModel {
  /** Median of the lognormal body, in ms. @defaultValue 2 */
  median?: number
  /** Its sigma: 0.75 puts 1.6% of answers past 10 ms. @defaultValue 0.75 */
  sigma?: number
  /** Share of answers in the slow mode. @defaultValue 1e-5 */
  slowShare?: number
  /** The slow mode's range, uniform, in ms. @defaultValue [800, 1900] */
  slow?: readonly [number, number]
}

const DEFAULT_MODEL: Required<LatencyModel> = {
  median: 2,
  sigma: 0.75,
  slowShare: 1e-5,
  slow: [800, 1_900],
}

/** One run of the fan-out. */
export interface FanOutScenario {
  /** The client's `hedge` option. */
  hedge: HedgeOptions | false
  /** Reads measured, one after another. @defaultValue 2000 */
  fanouts?: number
  /**
   * Reads before those, not measured: a cold client knows no latency to hedge at, and its
   * hedge share (a share of calls so far) is still small. @defaultValue 50
   */
  warmup?: number
  /** Keys per read. @defaultValue 1000 */
  keys?: number
  /** Servers (origins) the keys are spread over. @defaultValue 100 */
  servers?: number
  model?: LatencyModel
  seed?: number
}

/** What a fan-out run measured. */
export interface FanOutResult {
  /** Percentiles of the whole read's latency (its slowest key), in ms. */
  p50: number
  p99: number
  p999: number
  /** Requests sent beyond one per key, as a share of keys read. */
  extra: number
  /** Keys that failed (should be none). */
  failed: number
  reads: number
}

/** Draws one answer's latency. */
export function drawLatency(random: Random, model: Required<LatencyModel>): number {
  if (random() < model.slowShare) {
    const [low, high] = model.slow
    return low + random() * (high - low)
  }
  // Box-Muller: one standard normal from two uniforms (1 - u keeps the log finite).
  const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
  return model.median * Math.exp(model.sigma * z)
}

function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number
}

/** Runs `fanouts` reads of `keys` keys over `servers` origins, one read after another. */
export async function runFanOut(scenario: FanOutScenario): Promise<FanOutResult> {
  const { hedge, fanouts = 2_000, warmup = 50, keys = 1_000, servers = 100, seed = 1 } = scenario
  const model = { ...DEFAULT_MODEL, ...scenario.model }
  const clock = new VirtualClock()
  const random = seededRandom(seed)
  const draws = seededRandom(seed + 1000)
  const counts = { attempts: 0 }
  const client = createClient({
    clock,
    random,
    hedge,
    maxOrigins: servers,
    middleware: (defaults) => [
      ...defaults,
      simulatedOrigin(() => {
        counts.attempts++
        return drawLatency(draws, model)
      }),
    ],
  })
  const urls = Array.from({ length: keys }, (_, k) => `http://server-${k % servers}.test/key/${k}`)
  const reads: number[] = []
  let failed = 0
  for (let f = -warmup; f < fanouts; f++) {
    if (f === 0) {
      counts.attempts = 0
      failed = 0
    }
    const start = clock.now()
    let left = keys
    let end = start
    const settle = () => {
      if (--left === 0) end = clock.now()
    }
    for (const url of urls) {
      client.request(url).then(settle, () => {
        failed++
        settle()
      })
    }
    while (left > 0) await clock.advance(50)
    if (f >= 0) reads.push(end - start)
  }
  await client.close()
  reads.sort((a, b) => a - b)
  return {
    p50: percentile(reads, 0.5),
    p99: percentile(reads, 0.99),
    p999: percentile(reads, 0.999),
    extra: counts.attempts / (fanouts * keys) - 1,
    failed,
    reads: fanouts,
  }
}

/** One run against an origin at capacity. */
export interface CapacityScenario {
  hedge: HedgeOptions | false
  /** Requests the origin serves at once. @defaultValue 20 */
  slots?: number
  /** Offered load as a share of what the origin can serve. @defaultValue 1 */
  load?: number
  /** @defaultValue 60000 */
  duration?: number
  seed?: number
}

/** What a run at capacity measured, from its second 10 on (the queue has formed). */
export interface CapacityResult {
  /** Requests the origin received per call offered. */
  requestsPerCall: number
  /** p99 of the calls that succeeded, in ms. */
  p99: number
  /** Share of calls that failed (deadline, queue). */
  failed: number
}

/**
 * An origin with `slots` service slots and a FIFO queue in front; each request takes a lognormal
 * service time (median 2 ms, sigma 0.75, mean 2.65 ms). A request cancelled while it waits
 * leaves the queue; one cancelled in service still holds its slot to the end (the work was
 * started), as on a real server that does not notice the closed connection.
 */
function queueingOrigin(
  slots: number,
  random: Random,
  counts: { attempts: number },
  warmup: number,
): Middleware {
  const waiting: (() => void)[] = []
  let busy = 0
  const model = { ...DEFAULT_MODEL, slowShare: 0 }
  return (request) => {
    const { clock, cancellation } = request
    if (cancellation.aborted) return Promise.reject(cancellation.reason as Error)
    const record = startAttempt(request)
    record.sent = true
    if (clock.now() >= warmup) counts.attempts++
    return new Promise<CallResponse>((resolve, reject) => {
      let timer: ReturnType<typeof clock.setTimer> | undefined
      let done = false
      const serve = () => {
        busy++
        const ms = drawLatency(random, model)
        timer = clock.setTimer(() => {
          busy--
          const next = waiting.shift()
          if (next !== undefined) next()
          if (done) return
          done = true
          off()
          record.timeToHeaders = clock.now() - request.startTime - record.start
          record.duration = record.timeToHeaders
          resolve(simulatedResponse(request, record, 200))
        }, ms)
      }
      const off = cancellation.onAbort((reason) => {
        if (done) return
        done = true
        if (timer === undefined) {
          const i = waiting.indexOf(serve)
          if (i !== -1) waiting.splice(i, 1)
        }
        record.duration = clock.now() - request.startTime - record.start
        record.error = (reason as { code?: string }).code ?? 'aborted'
        noteAttemptError(reason, record)
        reject(reason as Error)
      })
      if (busy < slots) serve()
      else waiting.push(serve)
    })
  }
}

/** Offers an origin at capacity Poisson arrivals at `load` × its service rate. */
export async function runAtCapacity(scenario: CapacityScenario): Promise<CapacityResult> {
  const { hedge, slots = 20, load = 1, duration = 60_000, seed = 1 } = scenario
  const warmup = 10_000
  const clock = new VirtualClock()
  const counts = { attempts: 0 }
  const meanService = 2 * Math.exp(0.75 ** 2 / 2)
  const rate = (load * slots * 1000) / meanService
  const client = createClient({
    origin: 'http://capacity.test',
    clock,
    random: seededRandom(seed),
    hedge,
    deadline: 1_000,
    middleware: (defaults) => [
      ...defaults,
      queueingOrigin(slots, seededRandom(seed + 1), counts, warmup),
    ],
  })
  const arrivals = seededRandom(seed + 2)
  const latencies: number[] = []
  let offered = 0
  let failed = 0
  const calls: Promise<void>[] = []
  for (let at = 0; at < duration; at += -Math.log(1 - arrivals()) * (1000 / rate)) {
    clock.setTimer(() => {
      const start = clock.now()
      const counted = start >= warmup
      if (counted) offered++
      calls.push(
        client.request('/').then(
          () => {
            if (counted) latencies.push(clock.now() - start)
          },
          () => {
            if (counted) failed++
          },
        ),
      )
    }, at)
  }
  await clock.advance(duration + 2_000)
  await Promise.all(calls)
  await client.close()
  latencies.sort((a, b) => a - b)
  return {
    requestsPerCall: counts.attempts / offered,
    p99: percentile(latencies, 0.99),
    failed: failed / offered,
  }
}

/**
 * A second latency shape the default percentile was not chosen on: a slower, tighter body and a
 * tail ten times as common and five times shorter (docs/hedging.md).
 */
export const SECOND_MODEL: Required<LatencyModel> = {
  median: 20,
  sigma: 0.4,
  slowShare: 2e-4,
  slow: [150, 400],
}

/** The percentiles compared on {@link SECOND_MODEL}. */
export const SECOND_POLICIES: readonly { name: string; hedge: HedgeOptions | false }[] = [
  { name: 'no hedging', hedge: false },
  { name: "hedge at 'p95'", hedge: { delay: 'p95' } },
  { name: "hedge at the default 'p97.5'", hedge: {} },
  { name: "hedge at 'p99'", hedge: { delay: 'p99' } },
]

/** The hedging policies the bench compares. */
export const POLICIES: readonly { name: string; hedge: HedgeOptions | false }[] = [
  { name: 'no hedging', hedge: false },
  { name: 'hedge after 10 ms (the paper)', hedge: { delay: 10 } },
  { name: "hedge at the default 'p97.5'", hedge: {} },
]

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      fanouts: { type: 'string', default: '2000' },
    },
  })
  const fanouts = Number(values.fanouts)
  const fan: Record<string, FanOutResult> = {}
  const second: Record<string, FanOutResult> = {}
  const capacity: Record<string, CapacityResult[]> = {}
  const wallStart = performance.now()
  for (const { name, hedge } of POLICIES) {
    fan[name] = await runFanOut({ hedge, fanouts })
    capacity[name] = []
    for (const seed of [1, 2, 3]) capacity[name].push(await runAtCapacity({ hedge, seed }))
  }
  for (const { name, hedge } of SECOND_POLICIES) {
    second[name] = await runFanOut({ hedge, fanouts, model: SECOND_MODEL })
  }
  const wall = (performance.now() - wallStart) / 1000
  if (values.json) {
    console.log(
      JSON.stringify({
        fanouts,
        paper: PAPER,
        fanOut: fan,
        secondShape: second,
        atCapacity: capacity,
      }),
    )
    return
  }
  console.log(
    `Fan-out: ${fanouts} reads of 1,000 keys over 100 servers, on virtual time through the default stack (${wall.toFixed(0)} s of wall time in all)`,
  )
  console.log('')
  console.log('| policy | read p50 | read p99 | read p99.9 | extra requests |')
  console.log('|---|---|---|---|---|')
  console.log(
    `| paper, no hedging | | | ${PAPER.unhedged} ms | |\n| paper, hedge after 10 ms | | | ${PAPER.hedged} ms | ${PAPER.extra * 100}% |`,
  )
  for (const [name, r] of Object.entries(fan)) {
    console.log(
      `| ${name} | ${r.p50.toFixed(0)} ms | ${r.p99.toFixed(0)} ms | ${r.p999.toFixed(0)} ms | ${(r.extra * 100).toFixed(2)}% |`,
    )
  }
  console.log('')
  console.log(
    `The same fan-out on a second latency shape the default was not chosen on (median ${SECOND_MODEL.median} ms, sigma ${SECOND_MODEL.sigma}, ${SECOND_MODEL.slowShare} of answers ${SECOND_MODEL.slow[0]}-${SECOND_MODEL.slow[1]} ms):`,
  )
  console.log('')
  console.log('| policy | read p50 | read p99 | read p99.9 | extra requests |')
  console.log('|---|---|---|---|---|')
  for (const [name, r] of Object.entries(second)) {
    console.log(
      `| ${name} | ${r.p50.toFixed(0)} ms | ${r.p99.toFixed(0)} ms | ${r.p999.toFixed(0)} ms | ${(r.extra * 100).toFixed(2)}% |`,
    )
  }
  console.log('')
  console.log(
    'At capacity: 20 service slots with a FIFO queue, offered all they can serve (seeds 1, 2, 3)',
  )
  console.log('')
  console.log('| policy | requests per call | p99 | failed |')
  console.log('|---|---|---|---|')
  const each = (runs: CapacityResult[], f: (r: CapacityResult) => string) => runs.map(f).join(', ')
  for (const [name, runs] of Object.entries(capacity)) {
    console.log(
      `| ${name} | ${each(runs, (r) => r.requestsPerCall.toFixed(3))} | ${each(runs, (r) => `${r.p99.toFixed(0)} ms`)} | ${each(runs, (r) => `${(r.failed * 100).toFixed(1)}%`)} |`,
    )
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
