import type { Fault, FaultServer, FaultServerOptions } from '../testing/fault-server.ts'
import { seededRandom } from '../core/random.ts'

/** The names of the lab's scenarios, in the order a full run takes them. */
export const SCENARIO_NAMES = [
  'outage',
  'brownout',
  'overload',
  'latency-spike',
  'slow-body',
] as const

/** One of {@link SCENARIO_NAMES}. */
export type ScenarioName = (typeof SCENARIO_NAMES)[number]

/** What a scenario's script is told about the run. */
export interface RunShape {
  /** Offered calls per second. */
  rate: number
  /** Length of the run (arrivals), in ms. */
  duration: number
  seed: number
}

/** One attempt as it reaches the origin. */
export interface Arrival {
  /** ms since the run started. */
  t: number
  /** The call's number: the same for every contender, and for every attempt of one call. */
  call: number
  /** 0 for a call's first attempt at the origin, 1 for its first retry, ... */
  attempt: number
  /** Whether `t` falls in the fault window. */
  inFault: boolean
}

/** A failure scenario: how the origin behaves over time, the same for every contender. */
export interface Scenario {
  name: ScenarioName
  title: string
  /** The mechanism it shows, in a sentence or two (printed above its table). */
  mechanism: string
  /** Options of each contender's fault server. */
  server(shape: RunShape): FaultServerOptions
  /** How the origin answers one attempt. */
  answer(arrival: Arrival, shape: RunShape): Fault
  /** What changes on the server when the fault starts and ends (overload: its capacity). */
  onFault?(server: FaultServer, phase: 'start' | 'end', shape: RunShape): void
}

/** The fault lasts from 20% to 60% of the run: a steady start, the fault, then recovery. */
export function faultWindow(duration: number): { start: number; end: number } {
  return { start: duration * 0.2, end: duration * 0.6 }
}

/**
 * A uniform draw in [0, 1) for one attempt of one call: the k-th attempt of call n meets the same
 * luck whichever contender sends it, so differences come from the contenders, not the dice.
 */
export function attemptDraw(seed: number, call: number, attempt: number): number {
  const mixed = Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) ^ Math.imul(call + 1, 0x85ebca77)
  return seededRandom(mixed ^ Math.imul(attempt + 1, 0xc2b2ae3d))()
}

/** A healthy answer: 200 with 512 bytes after 5 to 15 ms. */
const HEALTHY: Fault = { status: 200, body: { size: 512 }, latency: { min: 5, max: 15 } }

/** Overload: service slots before and after the drop, and during it (a 3x drop). */
export const OVERLOAD_SLOTS = { normal: 6, dropped: 2 } as const

/**
 * The service time that makes the normal slots serve 1.2x the offered rate (83% busy, a usual
 * target), so that the drop leaves 40% of it.
 */
export function overloadServiceTime(rate: number): number {
  return (OVERLOAD_SLOTS.normal * 1000) / (1.2 * rate)
}

/** Share of failing attempts in the brownout, of slow ones in the spike and slow body. */
export const BROWNOUT_FAILURES = 0.2
export const SLOW_SHARE = 0.3

const outage: Scenario = {
  name: 'outage',
  title: 'Outage',
  mechanism:
    'The origin answers 503 to everything for 40% of the run, then recovers. Retries multiply ' +
    'the load on an origin that cannot serve any of it; a retry budget bounds the extra ' +
    'attempts and an open circuit sends none, at the price of noticing the recovery a little late.',
  server: () => ({}),
  answer: (arrival) =>
    arrival.inFault ? { status: 503, body: 'unavailable', latency: { min: 1, max: 3 } } : HEALTHY,
}

const brownout: Scenario = {
  name: 'brownout',
  title: 'Brownout',
  mechanism:
    'During the fault one attempt in five fails with a 503, independently. Here retries do what ' +
    'they are for: a second try almost always succeeds, and the failed retries stay well inside ' +
    'the budget, so it does not get in the way.',
  server: () => ({}),
  answer: (arrival, shape) =>
    arrival.inFault && attemptDraw(shape.seed, arrival.call, arrival.attempt) < BROWNOUT_FAILURES
      ? { status: 503, body: 'unavailable', latency: { min: 5, max: 15 } }
      : HEALTHY,
}

const overload: Scenario = {
  name: 'overload',
  title: 'Overload',
  mechanism:
    'The origin serves a fixed number of requests at once and queues the rest. Its capacity drops ' +
    '3x, from 120% of the offered load to 40%. A client that sends everything builds a queue at the origin: ' +
    'every call waits behind all earlier ones, so calls are served, but too late to be of use. ' +
    'An adaptive limit with a short, bounded queue sheds the excess early and keeps the rest fast.',
  server: () => ({ capacity: OVERLOAD_SLOTS.normal }),
  answer: (_arrival, shape) => {
    const service = overloadServiceTime(shape.rate)
    return { status: 200, body: { size: 512 }, latency: { min: service * 0.8, max: service * 1.2 } }
  },
  onFault: (server, phase) =>
    server.setCapacity(phase === 'start' ? OVERLOAD_SLOTS.dropped : OVERLOAD_SLOTS.normal),
}

const latencySpike: Scenario = {
  name: 'latency-spike',
  title: 'Latency spike',
  mechanism:
    'During the fault nothing fails, but three attempts in ten take about 3 s (a stalled worker, ' +
    'a GC pause). Without a deadline the caller waits them out. An attempt timeout gives up on a ' +
    'slow attempt early and tries again; the deadline bounds what is left.',
  server: () => ({}),
  answer: (arrival, shape) =>
    arrival.inFault && attemptDraw(shape.seed, arrival.call, arrival.attempt) < SLOW_SHARE
      ? { status: 200, body: { size: 512 }, latency: { min: 2_500, max: 3_500 } }
      : HEALTHY,
}

const slowBody: Scenario = {
  name: 'slow-body',
  title: 'Slow body',
  mechanism:
    'During the fault three responses in ten send their headers at once, then trickle an 8 KiB ' +
    'body 512 bytes every 200 ms (3 s). An idle body timeout never fires, since a chunk arrives ' +
    'every 200 ms; only a deadline on the whole call bounds it.',
  server: () => ({}),
  answer: (arrival, shape) =>
    arrival.inFault && attemptDraw(shape.seed, arrival.call, arrival.attempt) < SLOW_SHARE
      ? { status: 200, body: { size: 8_192 }, trickle: { chunk: 512, interval: 200 } }
      : HEALTHY,
}

/** Every scenario, by name. */
export const SCENARIOS: Readonly<Record<ScenarioName, Scenario>> = Object.freeze({
  outage,
  brownout,
  overload,
  'latency-spike': latencySpike,
  'slow-body': slowBody,
})
