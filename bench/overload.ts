// Overload on virtual time: an open-loop client offers a fixed rate of GETs to an origin with a
// fixed number of service slots and a FIFO queue in front of them (like the fault server's
// `capacity` mode). Mid-run the origin's capacity drops 3x, then comes back. The client's
// concurrency limiter is the only policy (no retries, no breaker), with a 1 s deadline.
//
// It compares a fixed limit of 64 with the adaptive limits: goodput (calls answered within the
// deadline, per second) and p99 latency of those calls, before, during and after the drop (steady
// states: the second after and the second before each change are left out), and how soon the
// limit came within 20% of the reduced capacity's in-flight count, and back above it.
//
// It runs at four scales (SCALES): the 10 ms origin of the table in docs/concurrency.md, origins
// of 50 ms and 20 ms, and one with a 2 ms and a 200 ms route at half the calls each.
//
//   node bench/overload.ts            # also part of `npm run bench`
//   node bench/overload.ts --json --seeds 1,2,3
import { parseArgs } from 'node:util'
import { startAttempt } from '../src/core/attempt.ts'
import { simulatedResponse } from './simulated-response.ts'
import {
  createClient,
  type CallResponse,
  type ConcurrencyOptions,
  type Middleware,
} from '../src/index.ts'
import { VirtualClock, seededRandom, type Random } from '../src/testing/index.ts'

/** One run of the scenario. */
export interface OverloadScenario {
  /** The client's limiter. */
  concurrency: ConcurrencyOptions
  /** Offered calls per second. @defaultValue 600 */
  rate?: number
  /** Service time of one request, in ms (uniform within ±20%). @defaultValue 10 */
  serviceTime?: number
  /** Service slots before and after the drop. @defaultValue 9 (900 requests/s) */
  slots?: number
  /** Service slots during the drop. @defaultValue 3 (300 requests/s) */
  droppedSlots?: number
  /** When the drop starts and ends, in ms. @defaultValue [5000, 15000] */
  drop?: readonly [number, number]
  /** Length of the run, in ms. @defaultValue 25000 */
  duration?: number
  /**
   * Routes of one origin, each with its own service time (uniform within ±20%) and share of
   * the calls; `serviceTime` when none are given. @defaultValue none
   */
  routes?: readonly RouteLoad[]
  seed?: number
}

/** One route of a mixed origin. */
export interface RouteLoad {
  path: string
  /** Service time, in ms. */
  serviceTime: number
  /** Share of the offered calls. */
  share: number
}

/** One phase of a run: before, during or after the drop. */
export interface PhaseResult {
  /** Calls answered within the deadline, per second. */
  goodput: number
  /** p99 latency of those calls, in ms. */
  p99: number
  /** Share of offered calls that failed (shed, timed out in the queue, or past the deadline). */
  failed: number
}

/** What a run produced. */
export interface OverloadResult {
  /** The first second: a cold client, its limit still at its start. */
  start: PhaseResult
  before: PhaseResult
  during: PhaseResult
  after: PhaseResult
  /** Each route's phases, when the scenario has routes. */
  routes?: Record<string, { before: PhaseResult; during: PhaseResult; after: PhaseResult }>
  /** The limit every 100 ms. */
  limits: number[]
  /**
   * Time from the start of the drop until the limit first came within ±20% of the reduced
   * capacity × the service time (the in-flight count that keeps the origin busy without a
   * queue), in ms; `undefined` if it never did.
   */
  convergedAfter: number | undefined
  /**
   * Time from the end of the drop until the limit was back at the in-flight count the offered
   * load needs at the normal service time (rate × mean service time), so that it holds no call
   * back, in ms; `undefined` if it never was.
   */
  recoveredAfter: number | undefined
}

interface Done {
  path: string
  start: number
  latency: number
  ok: boolean
}

/** Runs one scenario on virtual time. */
export async function runOverload(scenario: OverloadScenario): Promise<OverloadResult> {
  const {
    rate = 600,
    serviceTime = 10,
    slots = 9,
    droppedSlots = 3,
    drop = [5_000, 15_000] as const,
    duration = 25_000,
    seed = 1,
    routes = [{ path: '/', serviceTime, share: 1 }],
  } = scenario
  const clock = new VirtualClock()
  const times = new Map(routes.map((r) => [r.path, r.serviceTime]))
  const origin = capacityOrigin(
    seededRandom(seed),
    (now) => (now >= drop[0] && now < drop[1] ? droppedSlots : slots),
    (path) => times.get(path) ?? serviceTime,
  )
  const pick = seededRandom(seed + 2)
  const pathOf = (): string => {
    let x = pick()
    for (const r of routes) if ((x -= r.share) < 0) return r.path
    return (routes.at(-1) as RouteLoad).path
  }
  const client = createClient({
    origin: 'http://origin.test',
    clock,
    random: seededRandom(seed + 1),
    deadline: 1_000,
    retry: false,
    breaker: false,
    concurrency: scenario.concurrency,
    middleware: (defaults) => [...defaults, origin],
  })
  const done: Done[] = []
  const limits: number[] = []
  const calls: Promise<void>[] = []
  const offered = Math.round((rate * duration) / 1000)
  for (let i = 0; i < offered; i++) {
    clock.setTimer(
      () => {
        const start = clock.now()
        const path = pathOf()
        calls.push(
          client.request(path).then(
            async (response) => {
              await response.body.dump()
              const ok = response.statusCode === 200
              done.push({ path, start, latency: clock.now() - start, ok })
            },
            () => {
              done.push({ path, start, latency: clock.now() - start, ok: false })
            },
          ),
        )
      },
      (i * 1000) / rate,
    )
  }
  for (let t = 0; t < duration; t += 100) {
    clock.setTimer(() => limits.push(client.limiters?.get()?.limit ?? NaN), t)
  }
  await clock.advance(duration + 2_000)
  await Promise.all(calls)
  await client.close()

  const phase = (from: number, to: number, path?: string): PhaseResult => {
    const inPhase = done.filter(
      (d) => d.start >= from && d.start < to && (path === undefined || d.path === path),
    )
    const good = inPhase.filter((d) => d.ok).map((d) => d.latency)
    good.sort((a, b) => a - b)
    return {
      goodput: (good.length * 1000) / (to - from),
      p99: good.length === 0 ? NaN : (good[Math.floor(good.length * 0.99)] ?? NaN),
      failed: inPhase.length === 0 ? 0 : 1 - good.length / inPhase.length,
    }
  }
  const target = droppedSlots // the in-flight count that keeps the dropped slots busy
  const index = (t: number) => Math.floor(t / 100)
  const converged = limits.findIndex(
    (l, i) => i >= index(drop[0]) && i < index(drop[1]) && Math.abs(l - target) <= 0.2 * target + 1,
  )
  const meanService = routes.reduce((sum, r) => sum + r.share * r.serviceTime, 0)
  const needed = Math.ceil((rate * meanService) / 1000)
  const recovered = limits.findIndex((l, i) => i >= index(drop[1]) && l >= needed)
  // Steady states only: each phase leaves out the second after a change (any limit is still
  // moving) and the second before one (calls sent then are still waiting when it comes).
  const phases = (path?: string) => ({
    before: phase(1_000, drop[0] - 1_000, path),
    during: phase(drop[0] + 1_000, drop[1] - 1_000, path),
    after: phase(drop[1] + 1_000, duration - 1_000, path),
  })
  return {
    start: phase(0, 1_000),
    ...phases(),
    ...(scenario.routes === undefined
      ? {}
      : { routes: Object.fromEntries(routes.map((r) => [r.path, phases(r.path)])) }),
    limits,
    convergedAfter: converged === -1 ? undefined : converged * 100 - drop[0],
    recoveredAfter: recovered === -1 ? undefined : recovered * 100 - drop[1],
  }
}

/**
 * A stand-in origin at the bottom of the stack with `slots(now)` service slots and an unbounded
 * FIFO queue. Like most servers it does not notice a client that gave up: an abandoned request
 * still takes its turn and its slot.
 */
function capacityOrigin(
  random: Random,
  slots: (now: number) => number,
  serviceTime: (path: string) => number,
): Middleware {
  let busy = 0
  const queue: (() => void)[] = []
  return (request) => {
    const { clock, cancellation } = request
    if (cancellation.aborted) return Promise.reject(cancellation.reason as Error)
    const record = startAttempt(request)
    return new Promise<CallResponse>((resolve, reject) => {
      let answered = false
      const onAbort = () => {
        answered = true
        reject(cancellation.reason as Error)
      }
      cancellation.signal.addEventListener('abort', onAbort, { once: true })
      const serve = () => {
        busy++
        void clock.sleep(serviceTime(request.path) * (0.8 + 0.4 * random())).then(() => {
          busy--
          while (queue.length > 0 && busy < slots(clock.now())) (queue.shift() as () => void)()
          if (answered) return
          answered = true
          cancellation.signal.removeEventListener('abort', onAbort)
          resolve(simulatedResponse(request, record, 200))
        })
      }
      if (busy < slots(clock.now())) serve()
      else queue.push(serve)
    })
  }
}

/** The contenders `npm run bench` compares. */
export const CONTENDERS: readonly (readonly [string, ConcurrencyOptions])[] = [
  ['fixed limit 64', { limit: 64 }],
  ["'aimd' (default before)", { algorithm: 'aimd' }],
  ['the defaults', {}],
]

/** A 2 ms route and a 200 ms route of one origin, half the calls each. */
export const MIXED_ROUTES: readonly RouteLoad[] = [
  { path: '/fast', serviceTime: 2, share: 0.5 },
  { path: '/slow', serviceTime: 200, share: 0.5 },
]

/**
 * The scales the bench runs: the table's 10 ms origin, 50 ms and 20 ms ones (issue 39), and one
 * origin with a fast and a slow route. Each drops 3x from 5 s to 15 s.
 */
export const SCALES: readonly (readonly [string, Omit<OverloadScenario, 'concurrency'>])[] = [
  ['10 ms, 9 -> 3 slots, 600 calls/s', {}],
  ['50 ms, 50 -> 17 slots, 600 calls/s', { serviceTime: 50, slots: 50, droppedSlots: 17 }],
  [
    '20 ms, 30 -> 10 slots, 1,000 calls/s',
    { serviceTime: 20, slots: 30, droppedSlots: 10, rate: 1000 },
  ],
  [
    '2 ms and 200 ms routes, 40 -> 13 slots, 300 calls/s',
    { routes: MIXED_ROUTES, rate: 300, slots: 40, droppedSlots: 13 },
  ],
]

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      seeds: { type: 'string', default: '1,2' },
    },
  })
  const seeds = values.seeds.split(',').map(Number)
  const rows: { scale: string; name: string; seed: number; result: OverloadResult }[] = []
  for (const [scale, scenario] of SCALES) {
    for (const seed of seeds) {
      for (const [name, concurrency] of CONTENDERS) {
        rows.push({
          scale,
          name,
          seed,
          result: await runOverload({ ...scenario, concurrency, seed }),
        })
      }
    }
  }
  if (values.json) {
    console.log(JSON.stringify(rows, null, 2))
    return
  }
  console.log(
    `\noverload: open-loop calls to an origin that queues; its capacity drops 3x from 5 s to 15 s; 1 s deadline, virtual time, seeds ${seeds.join(', ')}`,
  )
  const g = (p: PhaseResult) => p.goodput.toFixed(0).padStart(5)
  const p = (p: PhaseResult) => (Number.isNaN(p.p99) ? '-' : p.p99.toFixed(0)).padStart(5)
  const t = (ms: number | undefined) => (ms === undefined ? 'never' : `${(ms / 1000).toFixed(1)} s`)
  for (const [scale] of SCALES) {
    console.log(`\n${scale}`)
    console.log(
      'limiter                   seed  goodput/s before during after   p99 ms before during after  during/before  limit back',
    )
    for (const { name, seed, result: r } of rows.filter((row) => row.scale === scale)) {
      const ratio = (r.during.p99 / r.before.p99).toFixed(2).padStart(6)
      console.log(
        `${name.padEnd(26)}${String(seed).padStart(4)}  ${g(r.before)}  ${g(r.during)} ${g(r.after)}      ${p(r.before)}  ${p(r.during)} ${p(r.after)}      ${ratio}x     ${t(r.recoveredAfter)}`,
      )
      for (const [path, phases] of Object.entries(r.routes ?? {})) {
        console.log(
          `  ${path.padEnd(28)}  ${g(phases.before)}  ${g(phases.during)} ${g(phases.after)}      ${p(phases.before)}  ${p(phases.during)} ${p(phases.after)}`,
        )
      }
    }
  }
}

if (import.meta.main) await main()
