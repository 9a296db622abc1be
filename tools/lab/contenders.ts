import { setTimeout as sleep } from 'node:timers/promises'
import {
  Agent,
  BalancedPool,
  fetch as undiciFetch,
  interceptors,
  request,
  type Dispatcher,
} from 'undici'
import { createClient } from '../../src/index.ts'
import type { CircuitState } from '../../src/index.ts'
import { seededRandom } from '../../src/testing/index.ts'

/** The contenders, in the order tables and charts show them. */
export const CONTENDER_NAMES = ['naive', 'undici-retry', 'netiquette'] as const

/** One of {@link CONTENDER_NAMES}. */
export type ContenderName = (typeof CONTENDER_NAMES)[number]

/** How one call ended, as the lab records it. */
export interface CallOutcome {
  /** A 2xx whose whole body was read. */
  ok: boolean
  /** The final status, or the error's code (`NQ_DEADLINE_EXCEEDED`, `UND_ERR_SOCKET`, ...). */
  label: string
}

/** What netiquette's client reports about the origin at one moment. */
export interface PolicySample {
  limit: number | undefined
  queued: number
  circuit: CircuitState | undefined
}

/** What netiquette's policies did over a whole run, from `client.stats()`. */
export interface PolicyTotals {
  retriesAllowed: number
  /** Retries the policy wanted and the retry budget refused. */
  retriesRefused: number
  /** Attempts rejected locally, nothing sent, by cause. */
  shed: { queueFull: number; queueTimeout: number; circuitOpen: number }
}

/** A way of calling the origin: one of the three the lab compares. */
export interface Contender {
  readonly name: ContenderName
  /** One GET of `path` on the origin, body read to the end; never rejects. */
  call(path: string, signal: AbortSignal): Promise<CallOutcome>
  /** The policy state, for the contender that has one. */
  sample?(): PolicySample
  /** What the policies did so far, for the contender that has them. */
  totals?(): PolicyTotals
  close(): Promise<void>
}

/** What the contenders are told. */
export interface ContenderSettings {
  /** The caller's latency objective, in ms: netiquette's deadline. */
  deadline: number
  /** netiquette's attempt timeout, in ms. */
  attemptTimeout: number
  /** Seed of netiquette's jitter. */
  seed: number
  /** netiquette hedges (`hedge: true`), for the scenario that shows hedging. @defaultValue false */
  hedge?: boolean
  /** The CA of an origin served over TLS, which every contender trusts. @defaultValue none */
  ca?: string
}

/** One sentence per contender on how it is set up, for the tables and the report. */
export const CONTENDER_SETUP: Readonly<Record<ContenderName, string>> = Object.freeze({
  naive:
    "undici's fetch in a loop: 3 retries of any 5xx, 429 or network error, 200 ms apart, no " +
    'deadline; its pool opens a connection per waiting request.',
  'undici-retry':
    'undici.request through interceptors.retry() with its defaults: 5 retries of 429/5xx and ' +
    'network errors, 0.5 s doubling to 8 s, Retry-After honoured, no deadline.',
  netiquette:
    "netiquette's defaults (retry budget, circuit breaker, adaptive concurrency limit with a " +
    'bounded queue), given a deadline and an attempt timeout.',
})

/** Naive wrapper: the fixed delay between its tries. */
export const NAIVE_DELAY = 200
/** Naive wrapper: retries after the first try. */
export const NAIVE_RETRIES = 3

/**
 * Creates one contender for an origin at `origins`: one URL, or several addresses of one
 * origin (127.0.0.1, 127.0.0.2, ... on one port), which the others reach through undici's
 * `BalancedPool` and netiquette through `endpoints`.
 */
export function createContender(
  name: ContenderName,
  origins: readonly string[],
  settings: ContenderSettings,
): Contender {
  const origin = origins[0] as string
  if (name === 'naive') return naiveWrapper(origin, pool(origins, settings.ca))
  if (name === 'undici-retry') return undiciRetry(origin, pool(origins, settings.ca))
  return netiquette(origins, settings)
}

/** What Node offers for several addresses: undici's round-robin BalancedPool; else an Agent. */
function pool(origins: readonly string[], ca: string | undefined): Dispatcher {
  const options = ca === undefined ? {} : { connect: { ca } }
  return origins.length > 1 ? new BalancedPool([...origins], options) : new Agent(options)
}

/** The fetch wrapper many services carry: retries everything, waits forever. */
function naiveWrapper(origin: string, agent: Dispatcher): Contender {
  return {
    name: 'naive',
    async call(path, signal) {
      for (let tries = 0; ; tries++) {
        let outcome: CallOutcome
        try {
          const response = await undiciFetch(origin + path, { dispatcher: agent, signal })
          await response.arrayBuffer()
          outcome = { ok: response.ok, label: String(response.status) }
          if (response.ok || (response.status < 500 && response.status !== 429)) return outcome
        } catch (error) {
          outcome = { ok: false, label: errorLabel(error) }
          if (signal.aborted) return outcome
        }
        if (tries >= NAIVE_RETRIES) return outcome
        try {
          await sleep(NAIVE_DELAY, undefined, { signal })
        } catch {
          return outcome
        }
      }
    },
    close: () => agent.destroy(),
  }
}

/** undici's own answer: its retry interceptor, as composed in its docs. */
function undiciRetry(origin: string, agent: Dispatcher): Contender {
  const dispatcher: Dispatcher = agent.compose(interceptors.retry())
  return {
    name: 'undici-retry',
    async call(path, signal) {
      try {
        const response = await request(origin + path, { dispatcher, signal })
        await response.body.arrayBuffer()
        const ok = response.statusCode >= 200 && response.statusCode < 300
        return { ok, label: String(response.statusCode) }
      } catch (error) {
        return { ok: false, label: errorLabel(error) }
      }
    },
    close: () => agent.destroy(),
  }
}

function netiquette(origins: readonly string[], settings: ContenderSettings): Contender {
  const addresses = origins.map((o) => new URL(o).hostname)
  const port = new URL(origins[0] as string).port
  const client = createClient({
    // Several addresses: one name (the lab's own, resolved by `resolve`) in front of them.
    origin: origins.length > 1 ? `http://origin.lab:${port}` : origins[0],
    endpoints: origins.length > 1 ? { resolve: () => addresses } : false,
    deadline: settings.deadline,
    attemptTimeout: settings.attemptTimeout,
    random: seededRandom(settings.seed),
    hedge: settings.hedge === true,
    ...(settings.ca === undefined ? {} : { agent: { connect: { ca: settings.ca } } }),
  })
  return {
    name: 'netiquette',
    async call(path, signal) {
      try {
        const response = await client.request(path, { signal })
        await response.body.arrayBuffer()
        const ok = response.statusCode >= 200 && response.statusCode < 300
        return { ok, label: String(response.statusCode) }
      } catch (error) {
        return { ok: false, label: errorLabel(error) }
      }
    },
    sample() {
      const stats = client.stats().origins[0]
      return { limit: stats?.limit, queued: stats?.queued ?? 0, circuit: stats?.circuit }
    },
    totals() {
      const stats = client.stats().origins[0]
      return {
        retriesAllowed: stats?.retriesAllowed ?? 0,
        retriesRefused: stats?.retriesRefused ?? 0,
        shed: {
          queueFull: stats?.shed.queueFull ?? 0,
          queueTimeout: stats?.shed.queueTimeout ?? 0,
          circuitOpen: stats?.shed.circuitOpen ?? 0,
        },
      }
    },
    close: () => client.close(),
  }
}

/** The most specific code an error carries: its own, its cause's, or its name. */
function errorLabel(error: unknown): string {
  const own = (error as { code?: unknown } | undefined)?.code
  if (typeof own === 'string') return own
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause?.code
  if (typeof cause === 'string') return cause
  return error instanceof Error ? error.name : 'Error'
}
