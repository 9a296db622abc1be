import { isHedge } from '../retry/hedge-attempt.ts'
import { failedAttempt, headersAt } from '../core/attempt.ts'
import { channels, emit, reportShed, type ShedCause, type ShedHook } from '../core/events.ts'
import { noteAttempt } from '../core/attempt-keys.ts'
import { gateLayer } from '../core/gate.ts'
import { idleCloseOf } from '../core/idle-close.ts'
import type { CallRequest, Middleware } from '../core/middleware.ts'
import { classifyError, classifyStatus, errorCode, neverLeftClient } from '../core/outcome.ts'
import { whenBodyComplete } from '../core/response-body.ts'
import { optionalFunction, optionsArgument } from '../core/validate.ts'
import { HedgeDeclinedError, QueueFullError, QueueTimeoutError } from '../errors.ts'
import {
  resolveConcurrencyOptions,
  type ConcurrencyOptions,
  type ResolvedConcurrency,
} from './concurrency-options.ts'
import { ConcurrencyLimiter } from './limiter.ts'
import { routeKey } from './route-key.ts'

/** The event `onLimitChange` receives. */
export interface LimitChangeEvent {
  /** The origin whose limit changed. */
  origin: string
  from: number
  to: number
}

/** Observer of limit changes: synchronous; if it throws, the call goes on. */
export type LimitChangeHook = (event: LimitChangeEvent) => void

// Connection failures that say the origin (or the path to it) is overloaded, besides the
// classification's own overload kinds: a reset is how many servers shed.
const DROP_CODES = new Set(['ECONNRESET', 'UND_ERR_SOCKET'])

/** Settings of {@link concurrencyLayer}: the limiter's, plus its observer. */
export interface ConcurrencyLayerOptions extends ConcurrencyOptions {
  /** Called whenever an origin's limit changes. @defaultValue none */
  onLimitChange?: LimitChangeHook
  /** Called whenever an attempt is shed: the queue was full, or its wait ran out. @defaultValue none */
  onShed?: ShedHook
}

/**
 * The concurrency limiter as a middleware, for a custom stack (the client has one unless its
 * `concurrency` option is `false`). Place it below the breaker, so that an open circuit costs no
 * queue slot, and above the attempt timeout, so that queueing does not eat into an attempt's
 * own time. A limiter built this way does not size the client's connection pool: set
 * `agent.connections` to match.
 */
export function concurrencyLayer(options: ConcurrencyLayerOptions = {}): Middleware {
  optionsArgument('options', options)
  const { onLimitChange, onShed, ...limiter } = options as ConcurrencyLayerOptions
  optionalFunction('onLimitChange', onLimitChange)
  optionalFunction('onShed', onShed)
  const resolved = resolveConcurrencyOptions('concurrency', limiter) as ResolvedConcurrency
  return concurrencyLayerFrom(resolved, onLimitChange, onShed)
}

/**
 * The per-origin concurrency limiter as a middleware: at most `limit` attempts in flight to an
 * origin, a bounded queue in front (see {@link ConcurrencyLimiter}). An attempt holds its place
 * until its response body has been received (or it failed), since the connection is busy until
 * then; its RTT, for the limit algorithm, is the time to its headers.
 */
export function concurrencyLayerFrom(
  options: ResolvedConcurrency,
  onLimitChange?: LimitChangeHook,
  onShed?: ShedHook,
): Middleware {
  const { key } = options
  const limiterFor = (request: CallRequest): ConcurrencyLimiter => {
    const { originState, clock, origin } = request
    return originState.slot(key, () => createLimiter(options, clock, origin, onLimitChange))
  }
  const admitted = (
    limiter: ConcurrencyLimiter,
    request: CallRequest,
    queuedSince?: number,
  ): LimiterPass | number => {
    const before = request.attempts.length
    // A call's first attempt that got its place at once (most passes in flight) remembers one
    // number: the limiter is found again in the origin's state (56 B less a call in flight).
    if (before === 0 && queuedSince === undefined) return limiter.inFlight
    return { limiter, inFlight: limiter.inFlight, before, queuedSince }
  }
  // The limiter a pass took its place in; `undefined` once the origin's state was evicted while
  // the attempt ran (its limiter went with it: nothing to give back).
  const limiterOf = (pass: LimiterPass | number, request: CallRequest) =>
    typeof pass === 'number' ? request.originState.peekSlot<ConcurrencyLimiter>(key) : pass.limiter
  return gateLayer<LimiterPass | number>({
    name: 'concurrency',
    enter(request) {
      const limiter = limiterFor(request)
      if (limiter.tryAcquire()) return admitted(limiter, request)
      if (isHedge(request)) {
        // A hedge that would wait for a place would add load where there is no room for it.
        throw new HedgeDeclinedError(
          `${request.origin} has ${limiter.inFlight} attempts in flight, at its concurrency limit of ${limiter.limit}`,
        )
      }
      const { clock, deadline, minAttemptTime } = request
      const queuedSince = clock.now()
      // A healthy origin's queue is waited on within the deadline; the limiter cuts the wait to
      // maxQueueWait while the origin struggles.
      const wait = deadline - minAttemptTime - queuedSince
      const waitReason = `the call's deadline left ${Math.max(0, Math.round(wait))} ms to wait`
      return limiter
        .acquire(wait, request.cancellation.signal, { origin: request.origin, waitReason })
        .then(
          () => admitted(limiter, request, queuedSince),
          (error: unknown) => {
            const cause = shedCause(error)
            if (cause !== undefined) reportShed(request, cause, error as QueueFullError, onShed)
            throw error
          },
        )
    },
    forward(pass, request) {
      const queuedSince = typeof pass === 'number' ? undefined : pass.queuedSince
      if (queuedSince === undefined) return request
      // The attempt's record, when the transport starts it, says how long it queued.
      return noteAttempt(request, (record) => {
        record.queued = request.startTime + record.start - queuedSince
      })
    },
    response(pass, request, response) {
      const limiter = limiterOf(pass, request)
      if (limiter === undefined) return
      const inFlight = typeof pass === 'number' ? pass : pass.inFlight
      const { attempt } = response
      const now = headersAt(request, attempt)
      const dropped = classifyStatus(response.statusCode) === 'overload'
      const rtt = now - (request.startTime + attempt.start)
      const route = routeKey(request.method, request.path)
      const sample = { now, rtt, inFlight, dropped, nack: dropped, route }
      // The place is held until the body is in: the connection is busy until then.
      whenBodyComplete(response.body, () => limiter.release(sample))
    },
    error(pass, request, error) {
      const limiter = limiterOf(pass, request)
      if (limiter === undefined) return
      const inFlight = typeof pass === 'number' ? pass : pass.inFlight
      const before = typeof pass === 'number' ? 0 : pass.before
      limiter.release(sampleOf(error, request, inFlight, before))
    },
  })
}

/**
 * What the limiter remembers about one attempt it let through: this, or only `inFlight` for a
 * call's first attempt that got its place at once.
 */
interface LimiterPass {
  readonly limiter: ConcurrencyLimiter
  /** Attempts in flight when this one took its place, for the limit algorithm. */
  readonly inFlight: number
  /** The call's attempt records before this attempt. */
  readonly before: number
  /** `clock.now()` when it began to wait for its place, if it had to. */
  readonly queuedSince: number | undefined
}

function shedCause(error: unknown): ShedCause | undefined {
  if (error instanceof QueueFullError) return 'queue-full'
  if (error instanceof QueueTimeoutError) return 'queue-timeout'
  return undefined
}

function createLimiter(
  options: ResolvedConcurrency,
  clock: CallRequest['clock'],
  origin: string,
  hook: LimitChangeHook | undefined,
): ConcurrencyLimiter {
  // Always a reporter: a channel subscriber may come after the limiter was created.
  const report = (change: { from: number; to: number }) =>
    emit(channels.limitChange, hook, 'onLimitChange', () => ({
      origin,
      from: change.from,
      to: change.to,
    }))
  return new ConcurrencyLimiter(
    options.createLimit(),
    options.maxQueue,
    options.lifoAfter,
    clock,
    report,
    options.maxQueueWait,
  )
}

/**
 * The limit algorithm's view of an attempt that failed, or none when it says nothing: a caller's
 * abort, a local rejection, or an attempt that never reached the origin (a refused connect says
 * nothing about how many requests it can serve at once).
 */
function sampleOf(error: unknown, request: CallRequest, inFlight: number, before: number) {
  const kind = classifyError(error, request.callerSignal?.aborted === true)
  if (kind === 'cancelled' || kind === 'local') return undefined
  // The server closed an idle connection as it was reused: the keep-alive race, not overload.
  // Counted as a drop, it took the delay limit from 20 to 2 in the lab's scenario.
  if (idleCloseOf(error) !== undefined) return undefined
  const attempt = failedAttempt(error, request.attempts, before)
  // No record: the attempt was refused below before it was sent (it never reached the origin).
  if (attempt === undefined || neverLeftClient(error, attempt)) return undefined
  const now = request.clock.now()
  const dropped = kind === 'overload' || DROP_CODES.has(errorCode(error))
  return { now, rtt: now - (request.startTime + attempt.start), inFlight, dropped }
}
