import { createClient, type Client } from '../../src/index.ts'
import { seededRandom } from '../../src/testing/index.ts'
import {
  checkKnownKeys,
  intInRange,
  isPlainObject,
  numberInRange,
  optionalFunction,
} from '../tool-options.ts'
import { VirtualClock } from '../../src/testing/index.ts'
import { InvalidOptionError } from '../../src/index.ts'
import { quantile } from '../lab/summarize.ts'
import {
  BEHAVIOUR_NAMES,
  BEHAVIOURS,
  type BehaviourName,
  type FleetBehaviour,
} from './fleet-behaviours.ts'
import { SimDispatcher, type Balancer } from './sim-dispatcher.ts'
import { SimServer, type SimServerOptions } from './sim-server.ts'

/** A scripted cut of server capacity. */
export interface FleetTrigger {
  /** When it starts, in ms of virtual time. */
  at: number
  /** How long it lasts, in ms. */
  duration: number
  /** Share of capacity taken away, 0 to 1: 0.8 leaves the server a fifth of its speed. */
  cut: number
  /** The server it hits (0-based); every server when absent. @defaultValue every server */
  server?: number
}

/** When a run counts as recovered after its last trigger. */
export interface RecoveryRule {
  /** Share of the offered calls that must succeed in each second. @defaultValue 0.9 */
  goodput?: number
  /** Seconds in a row that must meet it. @defaultValue 5 */
  hold?: number
}

/** Options of {@link runFleet}. */
export interface FleetOptions {
  /**
   * How every client calls the server: a built-in behaviour's name or your own.
   * @defaultValue 'netiquette'
   */
  behaviour?: BehaviourName | FleetBehaviour
  /**
   * Clients in the fleet, each a netiquette client of its own (its own budget, breaker, limiter),
   * 1 to 10,000. Calls arrive at random clients.
   * @defaultValue 1000
   */
  clients?: number
  /**
   * Calls offered per second across the fleet, open loop (Poisson arrivals), 1 to 1,000,000.
   * @defaultValue 6200, the paper's load
   */
  rate?: number
  /**
   * Virtual time the run lasts, in ms, 1 s to 1 h.
   * @defaultValue 60000
   */
  duration?: number
  /**
   * Each server's model.
   * @defaultValue {@link PAPER_SERVER}, calibrated so that the paper's client reproduces its table
   */
  server?: SimServerOptions
  /** Servers behind the balancer, 1 to 100, each with `server`'s settings. @defaultValue 1 */
  servers?: number
  /** How attempts are spread over several servers. @defaultValue 'round-robin' */
  balancer?: Balancer
  /**
   * Capacity cuts. Each sets its server's speed at its start and restores full speed at its end;
   * where two overlap on one server, the later change wins.
   * @defaultValue none
   */
  triggers?: readonly FleetTrigger[]
  /** Seed of arrivals, client choice, service times and every client's jitter. @defaultValue 1 */
  seed?: number
  /** When the run counts as recovered after its last trigger. @defaultValue `{ goodput: 0.9, hold: 5 }` */
  recovery?: RecoveryRule
  /**
   * End the run as soon as it has recovered after its last trigger, rather than at `duration`:
   * what a phase diagram needs, which only asks whether and when.
   * @defaultValue false
   */
  stopWhenRecovered?: boolean
  /** Called after each second of virtual time. @defaultValue none */
  onProgress?: (progress: FleetProgress) => void
}

/** What {@link runFleet} reports after each second of virtual time. */
export interface FleetProgress {
  /** Virtual ms done, and of how many. */
  at: number
  duration: number
  /** Calls in flight across the fleet. */
  inFlight: number
  /** Requests queued or being served, over every server. */
  queue: number
}

/** One second of a run. */
export interface FleetSecond {
  /** Start of the second, in ms of virtual time. */
  at: number
  /** Calls that arrived. */
  offered: number
  /** Attempts the clients sent to the servers. */
  attempts: number
  /** Calls that ended with a 2xx. */
  goodput: number
  /** Calls that ended otherwise (an error, a non-2xx, shed locally). */
  failed: number
  /** Requests the servers finished for a client still waiting. */
  served: number
  /** Requests the servers finished after their client had given up. */
  wasted: number
  /** Requests queued or being served at the end of the second, over every server. */
  queue: number
  /** 99th percentile latency of the calls that succeeded in this second, in ms; null if none. */
  p99: number | null
  /** Servers' mean speed at the end of the second (1 = full capacity). */
  speed: number
}

/** Mean rates over a stretch of a run, per second. */
export interface FleetRates {
  offered: number
  attempts: number
  goodput: number
  /** attempts / offered. */
  amplification: number
  /** goodput / offered. */
  goodputShare: number
  /** Requests the servers finished, for waiting clients or not. */
  throughput: number
  /** Share of that throughput served after its client had given up. */
  wastedShare: number
  /** Mean queue length at the end of each second. */
  queue: number
}

/** The outcome of {@link runFleet}. */
export interface FleetRun {
  behaviour: { name: string; setup: string }
  settings: {
    clients: number
    rate: number
    duration: number
    server: Required<SimServerOptions>
    servers: number
    balancer: Balancer
    triggers: FleetTrigger[]
    seed: number
    recovery: Required<RecoveryRule>
  }
  seconds: FleetSecond[]
  /** Rates before the first trigger (after a 2 s warm-up), or over the whole run without one. */
  before: FleetRates
  /** Rates over the last 10 s of the run (or its last half, if shorter). */
  end: FleetRates
  /**
   * Ms from the end of the last trigger to the start of the first run of `hold` seconds meeting
   * the recovery rule; null when the run ended without one (stuck). 0 without triggers, if the
   * run met the rule at all.
   */
  recoveredAfter: number | null
  /**
   * Calls and attempts in the whole run; `latency` is the sum of the successful calls'
   * latencies in ms (over `ok`, their mean).
   */
  totals: {
    calls: number
    ok: number
    latency: number
    attempts: number
    served: number
    wasted: number
  }
  /** Wall time of the run, ms; timers the simulation fired; and those per wall second. */
  wall: { ms: number; events: number; eventsPerSecond: number }
}

/**
 * The server the reproduction uses: one CPU serving 16,600 requests/s FIFO, everything queued,
 * abandoned work served anyway. Calibrated so that the paper's client at 6,200 calls/s stays
 * stuck after an 80% x 10 s cut and recovers after 78% x 10 s, 80% x 9 s, and at 4,200 calls/s:
 * every capacity from 16,250 to 17,000 does (`docs/fleet.md`).
 */
export const PAPER_SERVER: Readonly<Required<SimServerOptions>> = Object.freeze({
  capacity: 16_600,
  service: 'fixed',
  queueLimit: Infinity,
  dropAbandoned: false,
})

const KNOWN = [
  'behaviour',
  'clients',
  'rate',
  'duration',
  'server',
  'servers',
  'balancer',
  'triggers',
  'seed',
  'recovery',
  'stopWhenRecovered',
  'onProgress',
]
const BALANCERS: readonly Balancer[] = ['round-robin', 'random', 'shortest-queue']
const ORIGIN = 'http://server.fleet'
/**
 * Timers due within this many ms fire together before the clients' code reacts (see
 * `VirtualClock.advance`): a client may react up to 1 ms late, two orders of magnitude below the
 * timeouts and backoffs the runs are about.
 */
const TICK = 1

/**
 * Runs a fleet of netiquette clients against simulated servers on virtual time: open-loop
 * arrivals at `rate`, capacity cuts from `triggers`, one row per second of what was offered,
 * sent, served and won. Deterministic for a seed. While it runs, `Error.stackTraceLimit` is 0
 * (restored after): errors made meanwhile in the same process carry no stack, so run it in a
 * process of its own.
 *
 * @example
 * ```ts
 * const run = await runFleet({
 *   behaviour: 'paper',
 *   triggers: [{ at: 10_000, duration: 10_000, cut: 0.8 }],
 * })
 * run.recoveredAfter // null: stuck
 * ```
 */
export async function runFleet(options: FleetOptions = {}): Promise<FleetRun> {
  const settings = resolveFleetOptions(options)
  // A stuck run makes millions of timeout errors nobody reads the stack of; capturing them was
  // a tenth of the CPU. Restored after the run, whatever happens.
  const stackTraceLimit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return await simulate(settings)
  } finally {
    Error.stackTraceLimit = stackTraceLimit
  }
}

async function simulate(settings: ResolvedFleetOptions): Promise<FleetRun> {
  const { clients: clientCount, rate, duration, seed, triggers, behaviour } = settings
  const started = performance.now()
  const clock = new VirtualClock(0)
  const random = seededRandom(seed)
  // Separate streams, so that changing one part (how many clients) leaves the others' draws alone.
  const arrivalRandom = seededRandom(seed ^ 0x5eed_0001)
  const serviceRandom = seededRandom(seed ^ 0x5eed_0002)
  const servers = Array.from(
    { length: settings.servers },
    () => new SimServer(settings.server, clock, serviceRandom),
  )
  const dispatcher = new SimDispatcher(servers, settings.balancer, random)
  const clients: Client[] = []
  for (let i = 0; i < clientCount; i++) {
    clients.push(
      createClient({
        ...behaviour.options,
        origin: ORIGIN,
        dispatcher,
        clock,
        random: seededRandom((seed * 10_007 + i) >>> 0),
      }),
    )
  }

  for (const trigger of triggers) {
    const hit = trigger.server === undefined ? servers : [servers[trigger.server] as SimServer]
    clock.setTimer(() => {
      for (const server of hit) server.setSpeed(1 - trigger.cut)
    }, trigger.at)
    clock.setTimer(() => {
      for (const server of hit) server.setSpeed(1)
    }, trigger.at + trigger.duration)
  }

  const lastEnd = Math.max(0, ...triggers.map((t) => t.at + t.duration))
  const secondsCount = Math.ceil(duration / 1000)
  const offered = new Array<number>(secondsCount).fill(0)
  const good = new Array<number>(secondsCount).fill(0)
  const failed = new Array<number>(secondsCount).fill(0)
  const latencies: number[][] = Array.from({ length: secondsCount }, () => [])
  let inFlight = 0
  let calls = 0
  let ok = 0
  let latencySum = 0

  const call = async (client: Client, start: number) => {
    let success: boolean
    try {
      const response = await client.request('/')
      await response.body.dump()
      success = response.statusCode >= 200 && response.statusCode < 300
    } catch {
      success = false
    }
    inFlight--
    const now = clock.now()
    const second = Math.floor(now / 1000)
    if (second >= secondsCount) return
    if (success) {
      ok++
      latencySum += now - start
      bump(good, second)
      ;(latencies[second] as number[]).push(now - start)
    } else {
      bump(failed, second)
    }
  }

  const meanGap = 1000 / rate
  const arrive = () => {
    const now = clock.now()
    if (now >= duration) return
    const client = clients[Math.floor(arrivalRandom() * clientCount)] as Client
    bump(offered, Math.floor(now / 1000))
    calls++
    inFlight++
    void call(client, now)
    clock.setTimer(arrive, -Math.log(1 - arrivalRandom()) * meanGap)
  }
  clock.setTimer(arrive, -Math.log(1 - arrivalRandom()) * meanGap)

  const seconds: FleetSecond[] = []
  let sentBefore = 0
  let servedBefore = 0
  let wastedBefore = 0
  for (let s = 0; s < secondsCount; s++) {
    await clock.advance(Math.min(1000, duration - s * 1000), TICK)
    let served = 0
    let wasted = 0
    let queue = 0
    let speed = 0
    for (const server of servers) {
      const totals = server.totals()
      served += totals.served
      wasted += totals.wasted
      queue += server.queueLength
      speed += server.speed
    }
    const sorted = (latencies[s] as number[]).sort((a, b) => a - b)
    seconds.push({
      at: s * 1000,
      offered: offered[s] as number,
      attempts: dispatcher.sent - sentBefore,
      goodput: good[s] as number,
      failed: failed[s] as number,
      served: served - servedBefore,
      wasted: wasted - wastedBefore,
      queue,
      p99: sorted.length === 0 ? null : round(quantile(sorted, 0.99)),
      speed: speed / servers.length,
    })
    latencies[s] = []
    sentBefore = dispatcher.sent
    servedBefore = served
    wastedBefore = wasted
    settings.onProgress({ at: (s + 1) * 1000, duration, inFlight, queue })
    if (
      settings.stopWhenRecovered &&
      recoveredAfter(seconds, lastEnd, settings.recovery) !== null
    ) {
      break
    }
  }
  const events = clock.firedTimers
  await Promise.all(clients.map((client) => client.destroy()))
  await clock.advance(0)

  const firstTrigger = Math.min(...triggers.map((t) => t.at))
  const warm = Math.min(2, Math.floor(secondsCount / 4))
  const beforeEnd = triggers.length === 0 ? secondsCount : Math.floor(firstTrigger / 1000)
  const ran = seconds.length
  const tail = Math.min(10, Math.max(1, Math.floor(ran / 2)))
  const wallMs = performance.now() - started
  return {
    behaviour: { name: behaviour.name, setup: behaviour.setup },
    settings: {
      clients: clientCount,
      rate,
      duration,
      server: settings.server,
      servers: settings.servers,
      balancer: settings.balancer,
      triggers: triggers.map((t) => ({ ...t })),
      seed,
      recovery: settings.recovery,
    },
    seconds,
    before: ratesOver(seconds.slice(warm, Math.max(warm + 1, beforeEnd))),
    end: ratesOver(seconds.slice(ran - tail)),
    recoveredAfter: recoveredAfter(seconds, lastEnd, settings.recovery),
    totals: {
      calls,
      ok,
      latency: round(latencySum),
      attempts: dispatcher.sent,
      served: servedBefore,
      wasted: wastedBefore,
    },
    wall: { ms: round(wallMs), events, eventsPerSecond: Math.round(events / (wallMs / 1000)) },
  }
}

/** Mean rates over `seconds`. */
export function ratesOver(seconds: readonly FleetSecond[]): FleetRates {
  const n = Math.max(1, seconds.length)
  let offered = 0
  let attempts = 0
  let goodput = 0
  let queue = 0
  let served = 0
  let wasted = 0
  for (const s of seconds) {
    offered += s.offered
    attempts += s.attempts
    goodput += s.goodput
    queue += s.queue
    served += s.served
    wasted += s.wasted
  }
  return {
    offered: offered / n,
    attempts: attempts / n,
    goodput: goodput / n,
    amplification: offered === 0 ? 0 : attempts / offered,
    goodputShare: offered === 0 ? 0 : goodput / offered,
    throughput: (served + wasted) / n,
    wastedShare: served + wasted === 0 ? 0 : wasted / (served + wasted),
    queue: queue / n,
  }
}

/**
 * Ms from `after` to the first second (starting at or after it) that begins `hold` seconds in a
 * row where calls that succeeded reached `goodput` of those offered; null if none does.
 */
export function recoveredAfter(
  seconds: readonly FleetSecond[],
  after: number,
  rule: Required<RecoveryRule>,
): number | null {
  const first = Math.ceil(after / 1000)
  for (let s = first; s + rule.hold <= seconds.length; s++) {
    let all = true
    for (let k = s; k < s + rule.hold; k++) {
      const second = seconds[k] as FleetSecond
      if (second.goodput < rule.goodput * second.offered) {
        all = false
        s = k
        break
      }
    }
    if (all) return s * 1000 - after
  }
  return null
}

/** The settings of a run, validated, every default filled in. */
export type ResolvedFleetOptions = FleetRun['settings'] & {
  behaviour: FleetBehaviour
  stopWhenRecovered: boolean
  onProgress: (progress: FleetProgress) => void
}

/** Validates {@link FleetOptions} and fills in every default. */
export function resolveFleetOptions(options: FleetOptions = {}): ResolvedFleetOptions {
  const raw: unknown = options
  if (!isPlainObject(raw)) throw new InvalidOptionError('options', options, 'an object')
  checkKnownKeys('', raw, KNOWN)
  const duration = numberInRange('duration', options.duration, 1_000, 3_600_000, 60_000)
  const servers = intInRange('servers', options.servers, 1, 100, 1)
  const balancer = options.balancer ?? 'round-robin'
  if (!BALANCERS.includes(balancer)) {
    throw new InvalidOptionError('balancer', balancer, `one of ${BALANCERS.join(', ')}`)
  }
  const server = resolveServer(options.server)
  const triggers = resolveTriggers(options.triggers, servers)
  const recovery = options.recovery ?? {}
  if (!isPlainObject(recovery)) {
    throw new InvalidOptionError('recovery', recovery, 'an object { goodput, hold }')
  }
  checkKnownKeys('recovery', recovery, ['goodput', 'hold'])
  return {
    behaviour: resolveBehaviour(options.behaviour),
    clients: intInRange('clients', options.clients, 1, 10_000, 1_000),
    rate: numberInRange('rate', options.rate, 1, 1_000_000, 6_200),
    duration,
    server,
    servers,
    balancer,
    triggers,
    seed: intInRange('seed', options.seed, 0, 0xffff_ffff, 1),
    recovery: {
      goodput: numberInRange('recovery.goodput', recovery.goodput, 0, 1, 0.9),
      hold: intInRange('recovery.hold', recovery.hold, 1, 600, 5),
    },
    stopWhenRecovered: options.stopWhenRecovered === true,
    onProgress: optionalFunction('onProgress', options.onProgress) ?? (() => {}),
  }
}

function resolveBehaviour(value: unknown): FleetBehaviour {
  if (value === undefined) return BEHAVIOURS.netiquette
  if (typeof value === 'string' && (BEHAVIOUR_NAMES as readonly string[]).includes(value)) {
    return BEHAVIOURS[value as BehaviourName]
  }
  if (
    isPlainObject(value) &&
    typeof value.name === 'string' &&
    typeof value.setup === 'string' &&
    isPlainObject(value.options)
  ) {
    return value as unknown as FleetBehaviour
  }
  throw new InvalidOptionError(
    'behaviour',
    value,
    `one of ${BEHAVIOUR_NAMES.join(', ')}, or { name, setup, options }`,
  )
}

function resolveServer(value: unknown): Required<SimServerOptions> {
  if (value === undefined) return PAPER_SERVER
  if (!isPlainObject(value)) throw new InvalidOptionError('server', value, 'an object')
  checkKnownKeys('server', value, ['capacity', 'service', 'queueLimit', 'dropAbandoned'])
  const merged = { ...PAPER_SERVER, ...value } as Required<SimServerOptions>
  // The server validates the rest when it is built; fail here, before any client is made.
  new SimServer(merged, new VirtualClock(), Math.random)
  return merged
}

function resolveTriggers(value: unknown, servers: number): FleetTrigger[] {
  if (value === undefined) return []
  if (!Array.isArray(value)) {
    throw new InvalidOptionError('triggers', value, 'an array of { at, duration, cut, server? }')
  }
  return value.map((t: unknown, i) => {
    const where = `triggers[${i}]`
    if (!isPlainObject(t)) throw new InvalidOptionError(where, t, 'an object { at, duration, cut }')
    checkKnownKeys(where, t, ['at', 'duration', 'cut', 'server'])
    const trigger: FleetTrigger = {
      at: numberInRange(`${where}.at`, t.at, 0, 3_600_000),
      duration: numberInRange(`${where}.duration`, t.duration, 0, 3_600_000),
      cut: numberInRange(`${where}.cut`, t.cut, 0, 1),
    }
    if (t.server !== undefined) {
      trigger.server = intInRange(`${where}.server`, t.server, 0, servers - 1)
    }
    return trigger
  })
}

function bump(counts: number[], index: number): void {
  counts[index] = (counts[index] as number) + 1
}

function round(value: number): number {
  return Math.round(value * 10) / 10
}
