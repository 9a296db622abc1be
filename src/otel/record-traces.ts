import diagnosticsChannel from 'node:diagnostics_channel'
import {
  SpanKind,
  SpanStatusCode,
  context,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api'
import type { AttemptRecord } from '../core/attempt-record.ts'
import type {
  AttemptEndMessage,
  AttemptStartMessage,
  CallEndMessage,
  CallStartMessage,
  RetryEvent,
} from '../core/events.ts'
import { errorCode } from '../core/outcome.ts'
import { semanticAttributes } from './semantic-attributes.ts'

/** Options of {@link recordTraces}. */
export interface RecordTracesOptions {
  /**
   * Where the tracer comes from.
   * @defaultValue the global tracer provider (`trace.getTracerProvider()`)
   */
  tracerProvider?: TracerProvider
}

/** What is known of one call in flight. */
interface CallTrace {
  readonly span: Span
  readonly context: Context
  readonly method: string
  readonly origin: string
  readonly path: string
  /** The attempt spans not ended yet: each waits for its decision. */
  readonly open: Map<AttemptRecord, AttemptTrace>
  /** When the retry wait now running began, and how long it was to be. */
  wait?: { since: number; delay: number; source: string }
}

/** An attempt's span, and when it started and ended (epoch ms). */
interface AttemptTrace {
  readonly span: Span
  readonly start: number
  end?: number
}

/**
 * Traces every netiquette call in the process with OpenTelemetry, by subscribing to its
 * `diagnostics_channel` channels; returns a function that unsubscribes. Opt-in, as tracing costs
 * a few spans per call.
 *
 * - **A span per call** (`kind: CLIENT`, named by its method), a child of the context active
 *   where the call was made, so it sits under the caller's own span. It ends when the response is
 *   handed over (headers) or the error thrown; `netiquette.attempts` counts its attempts.
 * - **A child span per attempt** (`kind: CLIENT`), with the HTTP semantic conventions'
 *   attributes: `http.request.method`, `server.address`, `server.port`, `url.scheme`,
 *   `url.full` (without its query, which often carries tokens), `network.protocol.version`
 *   (with the default agent), `http.response.status_code` or
 *   `error.type`, and `http.request.resend_count` from the second attempt on. Its event
 *   `netiquette.decision` says what was decided after it (`action`, `code`, `reason`, `delay`).
 *   A hedge has `netiquette.attempt.hedge: true` and overlaps the attempt it hedged; the loser,
 *   cancelled (`error.type: NQ_SUPERSEDED`), is not marked as an error. With `endpoints`, the
 *   address the attempt connected to is `network.peer.address`. With the default agent,
 *   `netiquette.connection.reused` says whether the connection had carried an earlier request;
 *   the attempt that opened it has `network.type` and `netiquette.connect.duration` (ms),
 *   `.raced` and `.warm` (see `AttemptRecord.connect`).
 * - **Waits as spans**: `netiquette.queue` for the time an attempt waited for a place in its
 *   origin's concurrency queue, `netiquette.retry.wait` for the backoff before a retry.
 *
 * Attempt spans are not injected into the request headers: propagation (`traceparent`) is the
 * job of the OpenTelemetry SDK's own HTTP instrumentation or of a middleware.
 *
 * @example
 * ```ts
 * import { recordTraces } from 'netiquette/otel'
 * const stop = recordTraces() // the global TracerProvider set up by the OpenTelemetry SDK
 * ```
 */
// Long (about 140 lines): the span of each call and attempt lives in maps the subscribers share
// in this closure, and `stop` unsubscribes them all.
export function recordTraces(options: RecordTracesOptions = {}): () => void {
  const tracer: Tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(
    'netiquette',
  )
  // Keyed by the call's attempt array, which the call's and its attempts' messages carry; a
  // retry event names only its attempt record.
  const calls = new WeakMap<readonly AttemptRecord[], CallTrace>()
  const callOf = new WeakMap<AttemptRecord, CallTrace>()

  const onCallStart = (message: unknown): void => {
    const { method, origin, path, attempts } = message as CallStartMessage
    const parent = context.active()
    const span = tracer.startSpan(
      method,
      { kind: SpanKind.CLIENT, attributes: urlAttributes(method, origin, path) },
      parent,
    )
    calls.set(attempts, {
      span,
      context: trace.setSpan(parent, span),
      method,
      origin,
      path,
      open: new Map(),
    })
  }

  const onAttemptStart = (message: unknown): void => {
    const { attempt, attempts } = message as AttemptStartMessage
    const call = calls.get(attempts)
    if (call === undefined) return // a call that started before we subscribed
    const now = Date.now()
    if (call.wait !== undefined) {
      const wait = tracer.startSpan(
        'netiquette.retry.wait',
        {
          startTime: call.wait.since,
          attributes: {
            'netiquette.retry.delay': call.wait.delay,
            'netiquette.retry.delay_source': call.wait.source,
          },
        },
        call.context,
      )
      wait.end(now)
      call.wait = undefined
    }
    const attributes = urlAttributes(call.method, call.origin, call.path)
    if (attempt.number > 1) attributes['http.request.resend_count'] = attempt.number - 1
    if (attempt.hedge) attributes['netiquette.attempt.hedge'] = true
    if (attempt.address !== undefined) attributes['network.peer.address'] = attempt.address
    const span = tracer.startSpan(
      call.method,
      { kind: SpanKind.CLIENT, attributes, startTime: now },
      call.context,
    )
    call.open.set(attempt, { span, start: now })
    callOf.set(attempt, call)
  }

  const onAttemptEnd = (message: unknown): void => {
    const { attempt, error } = message as AttemptEndMessage
    const call = callOf.get(attempt)
    const traced = call?.open.get(attempt)
    if (call === undefined || traced === undefined) return
    const { span, start } = traced
    const queued = attempt.queued ?? 0
    if (attempt.rateLimitWait !== undefined && attempt.rateLimitWait > 0) {
      // The wait for a rate-limit slot came before the wait for a place in the queue.
      tracer
        .startSpan(
          'netiquette.rate_limit',
          { startTime: start - queued - attempt.rateLimitWait },
          call.context,
        )
        .end(start - queued)
      span.setAttribute('netiquette.rate_limit.wait', attempt.rateLimitWait)
    }
    if (attempt.queued !== undefined && attempt.queued > 0) {
      tracer
        .startSpan('netiquette.queue', { startTime: start - attempt.queued }, call.context)
        .end(start)
    }
    span.setAttributes(semanticAttributes(attempt))
    setConnectionAttributes(span, attempt)
    // A hedge's loser was cancelled by its own call: not an error of the request.
    const superseded = attempt.error === 'NQ_SUPERSEDED'
    if (!superseded && (attempt.statusCode === undefined || attempt.statusCode >= 400)) {
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: attempt.statusCode === undefined ? errorCode(error) : undefined,
      })
    }
    // The decision comes next (a retry, or the call's end): the span ends then, at this time.
    traced.end = Date.now()
  }

  const onRetry = (message: unknown): void => {
    const { attempt, delay, delaySource } = message as RetryEvent
    const call = callOf.get(attempt)
    if (call === undefined) return
    closeAttempt(call, attempt)
    call.wait = { since: Date.now(), delay, source: delaySource }
  }

  const onCallEnd = (message: unknown): void => {
    const { attempts, statusCode, error } = message as CallEndMessage
    const call = calls.get(attempts)
    if (call === undefined) return
    calls.delete(attempts)
    for (const attempt of [...call.open.keys()]) closeAttempt(call, attempt)
    const { span } = call
    span.setAttribute('netiquette.attempts', attempts.length)
    if (statusCode !== undefined) {
      span.setAttribute('http.response.status_code', statusCode)
      if (statusCode >= 400) {
        span.setAttribute('error.type', String(statusCode))
        span.setStatus({ code: SpanStatusCode.ERROR })
      }
    } else {
      const code = errorCode(error)
      span.setAttribute('error.type', code)
      span.setStatus({ code: SpanStatusCode.ERROR, message: code })
      if (error instanceof Error) span.recordException(error)
    }
    span.end()
  }

  const subscriptions: [string, (message: unknown) => void][] = [
    ['netiquette:call:start', onCallStart],
    ['netiquette:attempt:start', onAttemptStart],
    ['netiquette:attempt:end', onAttemptEnd],
    ['netiquette:retry', onRetry],
    ['netiquette:call:end', onCallEnd],
  ]
  for (const [name, listener] of subscriptions) diagnosticsChannel.subscribe(name, listener)
  return () => {
    for (const [name, listener] of subscriptions) diagnosticsChannel.unsubscribe(name, listener)
  }
}

/** Ends an attempt's span with its decision as an event, at the time the attempt ended. */
function closeAttempt(call: CallTrace, attempt: AttemptRecord): void {
  const traced = call.open.get(attempt)
  if (traced === undefined) return
  call.open.delete(attempt)
  const { span } = traced
  const end = traced.end ?? Date.now()
  const decision = attempt.decision
  if (decision !== undefined) {
    const attributes: Attributes = { 'netiquette.decision.action': decision.action }
    attributes['netiquette.decision.reason'] = decision.reason
    if (decision.code !== undefined) attributes['netiquette.decision.code'] = decision.code
    if (decision.delay !== undefined) attributes['netiquette.decision.delay'] = decision.delay
    span.addEvent('netiquette.decision', attributes, end)
  }
  span.end(end)
}

/**
 * How the attempt's connection was opened, where the client made it: `network.type` and
 * `netiquette.connect.*` on the attempt that paid the connect, `netiquette.connection.reused` on
 * every attempt that reached a connection.
 */
function setConnectionAttributes(span: Span, attempt: AttemptRecord): void {
  if (attempt.reused !== undefined)
    span.setAttribute('netiquette.connection.reused', attempt.reused)
  const connect = attempt.connect
  if (connect === undefined) return
  span.setAttribute('network.type', connect.family === 6 ? 'ipv6' : 'ipv4')
  span.setAttribute('netiquette.connect.duration', connect.ms)
  span.setAttribute('netiquette.connect.raced', connect.raced)
  if (connect.warm) span.setAttribute('netiquette.connect.warm', true)
}

/** The conventions' request attributes; the query is left out of `url.full` (tokens). */
function urlAttributes(method: string, origin: string, path: string): Attributes {
  const query = path.indexOf('?')
  return {
    'http.request.method': method,
    'url.full': origin + (query === -1 ? path : path.slice(0, query)),
  }
}
