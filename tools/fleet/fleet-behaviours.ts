import type { ClientOptions } from '../../src/index.ts'
import type { RetryDelayArgs } from '../../src/index.ts'

/**
 * A way the fleet's clients call the server: netiquette client options, so that every behaviour,
 * even the ones that imitate other clients, runs the library's own retry plan, backoff, budget,
 * breaker, limiter and deadlines on the simulation's clock.
 */
export interface FleetBehaviour {
  /** Short name, for tables and `--behaviours`. */
  name: string
  /** One sentence on what the clients do. */
  setup: string
  /** What each client is created with (clock, dispatcher, origin and random are the fleet's). */
  options: ClientOptions
}

/** The built-in behaviours, in the order tables show them. */
export const BEHAVIOUR_NAMES = [
  'paper',
  'naive',
  'undici-retry',
  'netiquette',
  'netiquette-hedged',
  'netiquette-paper-timeouts',
] as const

/** One of {@link BEHAVIOUR_NAMES}. */
export type BehaviourName = (typeof BEHAVIOUR_NAMES)[number]

// An outer bound for clients that have none: long enough never to end a call in a 60 s run.
const NO_DEADLINE = 3_600_000
// What a policy without timeouts of its own keeps of the library's defaults: nothing.
const NO_POLICIES: ClientOptions = {
  breaker: false,
  throttle: false,
  concurrency: false,
  propagation: false,
}

/** undici's retry interceptor's wait: 500 ms doubling to 30 s, or the server's Retry-After. */
function undiciDelay({ retry, hint }: RetryDelayArgs): number {
  return hint?.delay ?? Math.min(30_000, 500 * 2 ** (retry - 1))
}

/** The built-in behaviours by name. */
export const BEHAVIOURS: Readonly<Record<BehaviourName, FleetBehaviour>> = Object.freeze({
  paper: {
    name: 'paper',
    setup:
      "The paper's client: each attempt abandoned after 3 s, up to 4 retries sent at once, " +
      'no budget, no backoff.',
    options: {
      ...NO_POLICIES,
      deadline: NO_DEADLINE,
      attemptTimeout: 3_000,
      retry: { maxRetries: 4, delay: () => 0, budget: false },
    },
  },
  naive: {
    name: 'naive',
    setup:
      'A fetch wrapper: each try abandoned after 5 s (AbortSignal.timeout), 3 retries of 5xx, 429, ' +
      'network errors and timeouts, 200 ms apart, no budget.',
    options: {
      ...NO_POLICIES,
      deadline: NO_DEADLINE,
      attemptTimeout: 5_000,
      retry: { maxRetries: 3, delay: () => 200, budget: false },
    },
  },
  'undici-retry': {
    name: 'undici-retry',
    setup:
      "undici's retry interceptor's policy: 429 and 5xx and network errors retried 500 ms " +
      "doubling, Retry-After honoured, no timeout but the Agent's 300 s headers timeout " +
      "(4 retries: undici's default is 5, netiquette's cap is 4).",
    options: {
      ...NO_POLICIES,
      deadline: NO_DEADLINE,
      attemptTimeout: 300_000,
      retry: {
        maxRetries: 4,
        statuses: [429, 500, 502, 503, 504],
        delay: undiciDelay,
        budget: false,
      },
    },
  },
  netiquette: {
    name: 'netiquette',
    setup:
      "netiquette's defaults: 30 s deadline, 2 retries with full-jitter backoff inside a 10% " +
      'retry budget, circuit breaker, adaptive throttle, adaptive concurrency limit.',
    options: {},
  },
  'netiquette-hedged': {
    name: 'netiquette-hedged',
    setup:
      "netiquette's defaults with hedging on (hedge: true): a second copy of a call still " +
      'waiting past the p97.5 latency, within 5% extra load.',
    options: { hedge: true },
  },
  'netiquette-paper-timeouts': {
    name: 'netiquette-paper-timeouts',
    setup:
      "netiquette's policies with the paper's timing: 3 s attempt timeout, up to 4 retries, " +
      '15 s deadline; budget, backoff, breaker, throttle and limiter as by default.',
    options: {
      deadline: 15_000,
      attemptTimeout: 3_000,
      retry: { maxRetries: 4 },
    },
  },
})
