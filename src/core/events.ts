import diagnosticsChannel, { type Channel } from 'node:diagnostics_channel'
import type { AttemptRecord } from './attempt-record.ts'
import { callHook } from './hooks.ts'
import type { CallRequest } from './middleware.ts'
import type { NetiquetteError } from '../errors.ts'
import { redactQuery } from './redact-query.ts'

/**
 * `node:diagnostics_channel` channels netiquette publishes on, for every client in the process.
 * Subscribing costs the subscriber only: every publish is guarded by `hasSubscribers`, and
 * payloads are built only then. Payloads are the objects the client works with (attempt records
 * are live: a later decision is written into the same record); read them, do not change them. A
 * subscriber that throws is reported by Node as an uncaught exception on the next tick; the call
 * goes on.
 *
 * | channel | payload | when |
 * | --- | --- | --- |
 * | `netiquette:call:start` | {@link CallStartMessage} | a call starts |
 * | `netiquette:call:end` | {@link CallEndMessage} | the response is handed over, or the error thrown |
 * | `netiquette:attempt:start` | {@link AttemptStartMessage} | an attempt is dispatched to undici |
 * | `netiquette:attempt:end` | {@link AttemptEndMessage} | an attempt got its headers, or failed |
 * | `netiquette:retry` | {@link RetryEvent} | the retry policy will send another attempt |
 * | `netiquette:budget:refused` | {@link BudgetRefusedEvent} | the retry budget refused a retry |
 * | `netiquette:hedge` | {@link HedgeEvent} | a hedge was sent, refused, or won |
 * | `netiquette:shed` | {@link ShedEvent} | a policy rejected an attempt locally; nothing was sent |
 * | `netiquette:circuit:state` | {@link CircuitStateChange} | a circuit changed state |
 * | `netiquette:limit:change` | {@link LimitChangeEvent} | an origin's concurrency limit changed |
 * | `netiquette:endpoint` | `EndpointEvent` | an address was added, removed, ejected or readmitted (`endpoints`) |
 * | `netiquette:rate-limit` | `RateLimitStoreEvent` | a shared rate-limit store fell back to its local limit, or recovered |
 * | `netiquette:connect` | `ConnectEvent`, `ConnectCappedEvent` | a connect of the default agent started, was raced, won, lost or failed (`agent.race`); waited or failed at `agent.totalConnections`; or was a connection `client.warm` opened |
 *
 * @example
 * ```ts
 * import diagnosticsChannel from 'node:diagnostics_channel'
 * diagnosticsChannel.subscribe('netiquette:attempt:end', (msg) => {
 *   const { attempt } = msg as AttemptEndMessage
 *   console.log(attempt.number, attempt.statusCode ?? attempt.error)
 * })
 * ```
 */
export const channels = {
  /** A call started: {@link CallStartMessage}. */
  callStart: diagnosticsChannel.channel('netiquette:call:start'),
  /** A call settled (response handed over, or error thrown): {@link CallEndMessage}. */
  callEnd: diagnosticsChannel.channel('netiquette:call:end'),
  /** An attempt is about to be dispatched to undici: {@link AttemptStartMessage}. */
  attemptStart: diagnosticsChannel.channel('netiquette:attempt:start'),
  /** An attempt got its headers or failed: {@link AttemptEndMessage}. */
  attemptEnd: diagnosticsChannel.channel('netiquette:attempt:end'),
  /** The retry policy decided to send another attempt: {@link RetryEvent}. */
  retry: diagnosticsChannel.channel('netiquette:retry'),
  /** The retry budget refused a retry the policy wanted: {@link BudgetRefusedEvent}. */
  budgetRefused: diagnosticsChannel.channel('netiquette:budget:refused'),
  /** A hedge was sent, was due and refused, or answered first: {@link HedgeEvent}. */
  hedge: diagnosticsChannel.channel('netiquette:hedge'),
  /** An attempt was rejected locally (queue, circuit, throttle): {@link ShedEvent}. */
  shed: diagnosticsChannel.channel('netiquette:shed'),
  /** A circuit changed state: `CircuitStateChange`. */
  circuitState: diagnosticsChannel.channel('netiquette:circuit:state'),
  /** An origin's concurrency limit changed: `LimitChangeEvent`. */
  limitChange: diagnosticsChannel.channel('netiquette:limit:change'),
  /** An origin's address was added, removed, ejected or readmitted: `EndpointEvent`. */
  endpoint: diagnosticsChannel.channel('netiquette:endpoint'),
  /** A shared rate-limit store fell back to its local limit, or recovered: `RateLimitStoreEvent`. */
  rateLimit: diagnosticsChannel.channel('netiquette:rate-limit'),
  /**
   * A connect of the default agent started, was raced, won, lost or failed (`ConnectEvent`), or
   * waited or failed at `agent.totalConnections` (`ConnectCappedEvent`), or took a connection
   * `client.warm` opened (`ConnectWarmEvent`).
   */
  connect: diagnosticsChannel.channel('netiquette:connect'),
} as const

/** Payload of `netiquette:call:start`. */
export interface CallStartMessage {
  method: string
  origin: string
  path: string
  /**
   * The call's attempt records, empty now and filled as attempts start: the same array every
   * attempt message of this call carries, so a subscriber can tell which call an attempt is of.
   */
  attempts: readonly AttemptRecord[]
}

/** Payload of `netiquette:call:end`. */
export interface CallEndMessage {
  method: string
  origin: string
  path: string
  /** Call duration until the response was handed over or the error thrown, in ms. */
  duration: number
  attempts: readonly AttemptRecord[]
  statusCode?: number
  error?: unknown
}

/** Payload of `netiquette:attempt:start`. */
export interface AttemptStartMessage {
  attempt: AttemptRecord
  /** The call's attempt records, `attempt` last: the array `netiquette:call:start` carried. */
  attempts: readonly AttemptRecord[]
}

/**
 * Payload of `netiquette:attempt:end`, and the event `onAttempt` receives: the attempt got its
 * response headers (`attempt.statusCode`) or failed (`error`). Its `decision` is not made yet;
 * `onRetry` and the call's end say what followed.
 */
export interface AttemptEndMessage {
  attempt: AttemptRecord
  error?: unknown
  /** The call's attempt records: the array `netiquette:call:start` carried. */
  attempts?: readonly AttemptRecord[]
}

/** Payload of `netiquette:retry`, and the event `onRetry` receives. */
export interface RetryEvent {
  origin: string
  method: string
  path: string
  /** The attempt that is being retried; its `decision` says why, and the wait. */
  attempt: AttemptRecord
  /** The wait before the next attempt, in ms. */
  delay: number
  /** Where the wait came from: the backoff, the server's `Retry-After`, or a `delay` callback. */
  delaySource: 'backoff' | 'server' | 'custom'
  /** Why the attempt is retried, e.g. `status 503 is retryable`. */
  reason: string
}

/** Payload of `netiquette:budget:refused`: a retry the policy wanted and the budget refused. */
export interface BudgetRefusedEvent {
  origin: string
  method: string
  path: string
  /** The attempt that would have been retried. */
  attempt: AttemptRecord
  /** Why it would have been retried, and the budget's figures. */
  reason: string
}

/** Payload of `netiquette:hedge`. */
export interface HedgeEvent {
  origin: string
  method: string
  path: string
  /**
   * - `sent`: a hedge went out (its record is the last of `attempts` once it starts);
   * - `refused`: a hedge was due and was not sent, for `reason` (the hedge share, the retry
   *   budget, the deadline, or a policy that would have queued it);
   * - `won`: a hedge answered first and the call took its response.
   */
  action: 'sent' | 'refused' | 'won'
  /** When it happened, in ms from the call's start. */
  at: number
  /** The wait after which the hedge was due, in ms. */
  delay: number
  /** With `refused`, why. */
  reason?: string
  /** The call's attempt records. */
  attempts: readonly AttemptRecord[]
}

/**
 * Why a policy rejected an attempt locally:
 * - `queue-full`: the origin's concurrency queue was full (`QueueFullError`);
 * - `queue-timeout`: no place came free in time (`QueueTimeoutError`);
 * - `circuit-open`: the origin's circuit was open, half-open with its probes out, or isolated
 *   (`CircuitOpenError`);
 * - `throttled`: adaptive throttling rejected the call (`ThrottledError`).
 */
export type ShedCause =
  'queue-full' | 'queue-timeout' | 'circuit-open' | 'throttled' | 'rate-limited'

/** Payload of `netiquette:shed`, and the event `onShed` receives. Nothing was sent. */
export interface ShedEvent {
  origin: string
  method: string
  path: string
  cause: ShedCause
  /** The error the attempt was rejected with. */
  error: NetiquetteError
}

/** Observer of shed attempts: synchronous; if it throws, the call goes on. */
export type ShedHook = (event: ShedEvent) => void
/** Observer of retries: synchronous; if it throws, the call goes on. */
export type RetryHook = (event: RetryEvent) => void
/** Observer of attempts as they end: synchronous; if it throws, the call goes on. */
export type AttemptHook = (event: AttemptEndMessage) => void

/**
 * Publishes an event on `channel` and hands it to `hook`, building it only when one of them
 * listens. For the rare events (a retry, a shed, a state change): the closure costs an
 * allocation, which the per-attempt events avoid by checking inline.
 */
export function emit<E>(
  channel: Channel,
  hook: ((event: E) => void) | undefined,
  hookName: string,
  build: () => E,
): void {
  const publish = channel.hasSubscribers
  if (!publish && hook === undefined) return
  const event = build()
  if (publish) channel.publish(event)
  callHook(hook, hookName, event)
}

/** Publishes a shed attempt on `netiquette:shed` and hands it to the hook, when either listens. */
export function reportShed(
  request: CallRequest,
  cause: ShedCause,
  error: NetiquetteError,
  hook: ShedHook | undefined,
): void {
  emit(channels.shed, hook, 'onShed', () => ({
    origin: request.origin,
    method: request.method,
    path: redactQuery(request.path),
    cause,
    error,
  }))
}
