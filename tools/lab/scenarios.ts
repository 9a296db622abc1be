import type { Fault, FaultServer, FaultServerOptions } from '../../src/testing/index.ts'
import { seededRandom } from '../../src/testing/index.ts'
import { dropSyns, synDropUnavailable } from './syn-drop.ts'

/** The names of the lab's scenarios, in the order a full run takes them. */
export const SCENARIO_NAMES = [
  'outage',
  'brownout',
  'rate-limit',
  'restart',
  'connection-cap',
  'keep-alive-race',
  'syn-loss',
  'overload',
  'latency-spike',
  'slow-body',
  'long-tail',
  'bad-endpoint',
  'rolling-restart-h2',
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
  /**
   * Which of the origin's addresses it reached (0 for 127.0.0.1, 1 for 127.0.0.2, ...); always 0
   * for a scenario with one address.
   */
  endpoint: number
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
  /**
   * For an origin with state of its own (a rate limiter's bucket): makes one `answer` per
   * contender's origin, used instead of `answer`.
   */
  createAnswer?(shape: RunShape): (arrival: Arrival, shape: RunShape) => Fault
  /** What changes on the server when the fault starts and ends (overload: its capacity). */
  onFault?(server: FaultServer, phase: 'start' | 'end', shape: RunShape): void
  /**
   * netiquette's contender hedges in this scenario (`hedge: true`), to show what hedging adds to
   * its defaults, which leave it off.
   */
  hedge?: boolean
  /**
   * The origin has this many addresses, 127.0.0.1 up, one fault server each on one port: the
   * naive wrapper and undici's retry interceptor go through undici's `BalancedPool` over them,
   * netiquette through its `endpoints` option. @defaultValue 1
   */
  endpoints?: number
  /**
   * Why the scenario cannot run on this machine (it needs root), or `undefined` when it can. The
   * lab skips it and says why.
   */
  unavailable?(): string | undefined
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

/** Rate limit: the share of the offered load the origin serves during the fault. */
export const RATE_LIMIT_SHARE = 1 / 3

const rateLimit: Scenario = {
  name: 'rate-limit',
  title: 'Rate limit',
  mechanism:
    'During the fault the origin serves a third of the offered load (a token bucket, as nginx ' +
    'limit_req does) and answers the rest 429 at once. It is not down: it asks for less. A ' +
    'breaker that counts the 429s as failures opens and sheds everything; retrying each 429 ' +
    'times only adds requests the limiter turns away (retries that wait past the fault get the ' +
    'tokens freed when it ends). Adaptive throttling sends about twice what the origin ' +
    'accepts, so netiquette gets what the origin serves, with fewer requests.',
  server: () => ({}),
  answer: () => HEALTHY,
  createAnswer: (shape) => {
    const limit = shape.rate * RATE_LIMIT_SHARE
    // nginx limit_req burst=20: a loaded machine delivers arrivals in bunches.
    const burst = 20
    let tokens = burst
    let updated = 0
    return (arrival) => {
      tokens = Math.min(burst, tokens + ((arrival.t - updated) * limit) / 1000)
      updated = arrival.t
      if (!arrival.inFault) return HEALTHY
      if (tokens < 1) return { status: 429, body: 'too many requests', latency: { min: 1, max: 3 } }
      tokens -= 1
      return HEALTHY
    }
  },
}

/** Restart: how long the port stays closed. */
export const RESTART_DOWN = 500

const restart: Scenario = {
  name: 'restart',
  title: 'Restart',
  mechanism:
    'When the fault starts the origin restarts: the requests it was serving are reset and its ' +
    'port is closed for 0.5 s, so every connect is refused. A refused connect never reached ' +
    'the server, so any call may try again within its deadline without spending a retry: the ' +
    'calls that met the closed port are served once it opens.',
  server: () => ({}),
  answer: () => HEALTHY,
  onFault: (server, phase) => {
    if (phase === 'start') void server.restart(RESTART_DOWN)
  },
}

/** Connection cap: connections the origin accepts at once during the fault. */
export const CONNECTION_CAP = 2

const connectionCap: Scenario = {
  name: 'connection-cap',
  title: 'Connection cap',
  mechanism:
    'During the fault the origin accepts 2 connections at once and refuses any other connect, ' +
    'as a connlimit firewall rule does. Bursts of calls want more connections than that: their ' +
    'extra connects are refused, though the 2 open ones come free within milliseconds. A call ' +
    'whose connect was refused never reached the server: it tries again, without spending a ' +
    'retry, and finds a free connection.',
  server: () => ({}),
  answer: () => HEALTHY,
  onFault: (server, phase) =>
    server.setMaxConnections(phase === 'start' ? CONNECTION_CAP : Infinity),
}

/** Keep-alive race: idle time after which the balancer resets a connection's next request. */
export const IDLE_RESET = 20

const keepAliveRace: Scenario = {
  name: 'keep-alive-race',
  title: 'Keep-alive race',
  mechanism:
    'During the fault a load balancer in front of the origin closes keep-alive connections idle ' +
    'for more than 20 ms, as the next request arrives on one, though the origin announces 5 s: ' +
    'that request is reset unanswered. Every client keeps its connections longer, and about one ' +
    'call in ten meets the race. The request never reached the origin: netiquette sees the reset ' +
    'come on a connection that had sat idle, before any answer, and sends the GET again at once ' +
    'on a new connection, outside its retry budget; the others retry after their backoff.',
  server: () => ({}),
  answer: () => HEALTHY,
  onFault: (server, phase) => server.setIdleReset(phase === 'start' ? IDLE_RESET : undefined),
}

/** SYN loss: during the fault, every n-th SYN to the origin's port is dropped (one in ten). */
export const SYN_LOSS_EVERY = 10

// The SYN-loss rule of each fault server of a run, removed when the fault ends.
const synRules = new WeakMap<FaultServer, () => void>()

const synLoss: Scenario = {
  name: 'syn-loss',
  title: 'SYN loss',
  mechanism:
    'Every call goes on a new connection: the origin answers with `Connection: close`. During ' +
    'the fault one SYN in ten to the origin is lost (an iptables rule on loopback), as on a ' +
    'lossy path. Linux sends a lost SYN again after 1 s, so a client that waits for its connect ' +
    'pays that second. netiquette races a connect still pending after its connection attempt ' +
    'delay, learned from recent connects, with a new SYN from a new socket; the first to connect ' +
    'wins. Needs root; skipped elsewhere.',
  unavailable: synDropUnavailable,
  server: () => ({}),
  answer: () => ({ ...HEALTHY, close: true }),
  onFault: (server, phase) => {
    if (phase === 'start') {
      synRules.set(server, dropSyns(server.port, { every: SYN_LOSS_EVERY }))
    } else {
      synRules.get(server)?.()
      synRules.delete(server)
    }
  },
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

/** Long tail: the share of attempts that are slow, throughout the fault. */
export const LONG_TAIL_SHARE = 0.02

const longTail: Scenario = {
  name: 'long-tail',
  title: 'Long tail',
  mechanism:
    'During the fault two attempts in a hundred take 1 to 1.5 s; the rest answer in 5 to 15 ms. ' +
    'Retries cannot help, since nothing fails, and an attempt timeout gives up only after half ' +
    'the deadline. netiquette here hedges (`hedge: true`): an attempt slower than the p97.5 of ' +
    'recent ones is sent again, and the first answer wins, for a few percent more requests.',
  server: () => ({}),
  answer: (arrival, shape) =>
    arrival.inFault && attemptDraw(shape.seed, arrival.call, arrival.attempt) < LONG_TAIL_SHARE
      ? { status: 200, body: { size: 512 }, latency: { min: 1_000, max: 1_500 } }
      : HEALTHY,
  hedge: true,
}

/** One bad endpoint: the origin's addresses, and how slow the bad one answers in the fault. */
export const BAD_ENDPOINT = { addresses: 3, bad: 2, latency: { min: 1_000, max: 1_500 } } as const

const badEndpoint: Scenario = {
  name: 'bad-endpoint',
  title: 'One bad endpoint',
  mechanism:
    'The origin has three addresses (127.0.0.1-3, one name). During the fault one of them ' +
    'answers in 1 to 1.5 s (a noisy neighbour, a failing disk); the other two stay fast. The ' +
    "naive wrapper and undici's retry interceptor go through undici's BalancedPool, round " +
    'robin over the three, so a third of their calls wait. netiquette balances with ' +
    "`endpoints: true`: the power of two choices over each address's recent latency and load " +
    'sends the bad one almost nothing after its first slow answers, and an attempt that still ' +
    'lands there is retried on another address after the attempt timeout.',
  server: () => ({}),
  answer: (arrival) =>
    arrival.inFault && arrival.endpoint === BAD_ENDPOINT.bad
      ? { status: 200, body: { size: 512 }, latency: BAD_ENDPOINT.latency }
      : HEALTHY,
  endpoints: BAD_ENDPOINT.addresses,
}

/** Rolling restart over HTTP/2: how often the origin restarts its sessions, and their grace. */
export const ROLLING_RESTART = { every: 500, grace: 25 } as const

// The rolling restart's timer, per fault server of a run.
const rolling = new WeakMap<FaultServer, NodeJS.Timeout>()

const rollingRestartH2: Scenario = {
  name: 'rolling-restart-h2',
  title: 'Rolling restart over HTTP/2',
  mechanism:
    'The origin speaks HTTP/2 over TLS, every contender multiplexing its calls over one session. ' +
    'During the fault it goes through a rolling restart, as a Kubernetes rollout does: every ' +
    '0.5 s each session is sent GOAWAY, new calls move to a new session, and 25 ms later the ' +
    'old one is destroyed, resetting the streams still in service there (a pod that exits at ' +
    'the end of its grace period). A stream the server never took up goes again on a new ' +
    'session whatever the client; a stream reset in service is retried only by a client that ' +
    'knows the request can be sent again.',
  server: () => ({ tls: true, http2: true }),
  answer: () => ({ status: 200, body: { size: 512 }, latency: { min: 5, max: 50 } }),
  onFault: (server, phase) => {
    if (phase === 'start') {
      rolling.set(
        server,
        setInterval(() => server.goAway(ROLLING_RESTART.grace), ROLLING_RESTART.every),
      )
    } else {
      clearInterval(rolling.get(server))
      rolling.delete(server)
    }
  },
}

/** Every scenario, by name. */
export const SCENARIOS: Readonly<Record<ScenarioName, Scenario>> = Object.freeze({
  outage,
  brownout,
  'rate-limit': rateLimit,
  restart,
  'connection-cap': connectionCap,
  'keep-alive-race': keepAliveRace,
  'syn-loss': synLoss,
  overload,
  'latency-spike': latencySpike,
  'slow-body': slowBody,
  'long-tail': longTail,
  'bad-endpoint': badEndpoint,
  'rolling-restart-h2': rollingRestartH2,
})
