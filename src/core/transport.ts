import type { Dispatcher } from 'undici'
import { noteAttemptError, startAttempt } from './attempt.ts'
import { ATTEMPT_ENDPOINT } from './attempt-keys.ts'
import type { AttemptConnect, AttemptRecord } from './attempt-record.ts'
import { callerAbortError, withAttempts } from './call-error.ts'
import { kOnCancel, type CancelListener } from './cancellation.ts'
import { channels, type AttemptHook } from './events.ts'
import { callHook } from './hooks.ts'
import { wireHeaders, type HeaderRecord } from './headers.ts'
import type { CallRequest, CallResponse, ClientResponse, Handler } from './middleware.ts'
import type { ConnectionWatch, WatchedAttempt } from './connection-watch.ts'
import { kSettlesGates, type GatedHandler, type GatePass } from './gate.ts'
import { kConnectionSeen } from './connection-seen.ts'
import { h2ErrorName } from './h2-error.ts'
import { idleCloseOf } from './idle-close.ts'
import { classifyError, classifyStatus, errorCode } from './outcome.ts'
import { kQueuedAbort } from './queued-abort.ts'
import { bodyForAttempt } from './request-body.ts'
import { ResponseBody, kComplete } from './response-body.ts'

/**
 * The bottom of the stack: one undici dispatch per invocation, recorded as one attempt. Errors
 * from undici are passed on unchanged; policies above decide what they mean.
 *
 * It dispatches with a handler of its own rather than through `dispatcher.request()`: aborting
 * then calls undici's controller directly, so a call needs no `AbortSignal` (see
 * {@link Cancellation}), and no promise or AsyncResource layer sits between undici and the body.
 */
export function createTransport(
  dispatcher: Dispatcher,
  onAttempt?: AttemptHook,
  watch?: ConnectionWatch,
): Handler {
  const transport = (request: CallRequest) => send(request, undefined)
  // The gates right above settle from the handler's callbacks: no promise step of their own.
  const settlingGates: GatedHandler = (request, pass) => send(request, pass)
  Object.defineProperty(transport, kSettlesGates, { value: settlingGates })
  return transport

  function send(request: CallRequest, pass: GatePass | undefined): Promise<CallResponse> {
    const { cancellation } = request
    // Aborted before it could start (a deadline that passed in a queue, a caller who gave up):
    // dispatch nothing, not even a connection, and record no attempt.
    if (cancellation.aborted) return rejectPass(pass, asError(cancellation.reason))
    let body
    try {
      body = bodyForAttempt(request.body)
    } catch (error) {
      return rejectPass(pass, error)
    }
    const record = startAttempt(request)
    request.originState.counters.attempts++
    if (channels.attemptStart.hasSubscribers)
      channels.attemptStart.publish({ attempt: record, attempts: request.attempts })

    // Only `resolve` is kept: a failure resolves with a rejected promise (two microtask hops on
    // the failure path), so a call in flight holds no `reject` closure (56 B).
    return new Promise<CallResponse>((resolve) => {
      const endpoint = ATTEMPT_ENDPOINT.get(request)
      const origin = endpoint === undefined ? request.origin : endpoint.origin
      const handler = new AttemptHandler(request, record, resolve, onAttempt, watch, origin, pass)
      const options: Dispatcher.DispatchOptions = {
        origin,
        path: request.path,
        method: request.method,
        headers:
          endpoint === undefined
            ? wireHeaders(request.headers)
            : withHost(wireHeaders(request.headers), endpoint.host),
        // undici's types name fewer body kinds than it accepts (iterables work at run time).
        body: body as Dispatcher.DispatchOptions['body'],
        // undici's retry interceptor, composed below the stack, would send each of our attempts
        // up to six times, unseen by the budget: a request's retry options override the
        // interceptor's. (A RetryAgent ignores them; the client refuses one.)
        retryOptions: NO_UNDICI_RETRIES,
      } as Dispatcher.DispatchOptions
      // Connected to an address: TLS still names (and verifies) the origin's host.
      if (endpoint !== undefined) {
        ;(options as unknown as Record<string, unknown>).servername = endpoint.servername
      }
      // While the attempt waits in undici's queue for a connection, an abort takes it out.
      if (kQueuedAbort !== undefined) {
        ;(options as unknown as Record<symbol, unknown>)[kQueuedAbort] = handler.onQueued
      }
      // Most calls pass no undici options: skip the copy and keep one object shape for undici.
      const extra = request.undiciOptions.dispatch
      if (extra !== undefined) {
        for (const key in extra) (options as unknown as Record<string, unknown>)[key] = extra[key]
      }
      const dispatch = () => {
        // Aborted while an idle HTTP/2 session was being checked: settled already.
        if (handler.settled) return
        try {
          dispatcher.dispatch(options, handler)
        } catch (error) {
          handler.onResponseError(undefined, error as Error)
        }
      }
      const watched = watch?.dispatching(origin, request.method)
      handler.watched = watched
      if (watched?.wait === undefined) dispatch()
      else void watched.wait.then(dispatch)
    })
  }
}

/** The attempt failed before it was sent: its gates settle, and may take the outcome over. */
function rejectPass(pass: GatePass | undefined, error: unknown): Promise<CallResponse> {
  return pass === undefined ? Promise.reject(error as Error) : pass.carry(pass.failedWith(error))
}

/** Receives one attempt's events from undici and turns them into a response or an error. */
class AttemptHandler implements Dispatcher.DispatchHandler, CancelListener {
  readonly #request: CallRequest
  readonly #record: AttemptRecord
  readonly #start: number
  readonly #onAttempt: AttemptHook | undefined
  // The attempt's promise's resolve, until it settles; a failure resolves with a rejection.
  #resolve: ((response: CallResponse | Promise<CallResponse>) => void) | undefined
  #controller: Dispatcher.DispatchController | undefined
  #body: ResponseBody | undefined
  // undici's way to take the request out of its queue before it starts (see kQueuedAbort).
  #cancelQueued: ((reason: Error) => void) | undefined
  #done = false
  // Made with the response: an attempt waiting for its headers holds no object for them.
  #trailers: ClientResponse['trailers'] | undefined
  readonly #watch: ConnectionWatch | undefined
  readonly #origin: string
  /** Set when the connection watch follows this attempt (it goes over an HTTP/2 session). */
  watched: WatchedAttempt | undefined
  // The gates right above the transport, settled here before the attempt resolves or rejects.
  readonly #pass: GatePass | undefined

  constructor(
    request: CallRequest,
    record: AttemptRecord,
    resolve: (response: CallResponse | Promise<CallResponse>) => void,
    onAttempt: AttemptHook | undefined,
    watch: ConnectionWatch | undefined,
    origin: string,
    pass: GatePass | undefined,
  ) {
    this.#pass = pass
    this.#request = request
    this.#watch = watch
    this.#origin = origin
    this.#onAttempt = onAttempt
    this.#record = record
    this.#start = request.startTime + record.start
    this.#resolve = resolve
    request.cancellation.listen(this)
  }

  /** True once the attempt has a response or an error. */
  get settled(): boolean {
    return this.#resolve === undefined
  }

  /** Given to undici as its queued-abort hook: it calls this while the request waits in a queue. */
  readonly onQueued = (cancel: (reason: Error) => void): void => {
    this.#cancelQueued = cancel
  }

  onRequestStart(controller: Dispatcher.DispatchController, context?: object): void {
    const shared = this.#request.undiciOptions.context
    if (shared !== undefined && context !== undefined) Object.assign(shared, context)
    this.#cancelQueued = undefined
    this.#controller = controller
    // undici calls this on a connected socket, just before it writes the request.
    this.#record.sent = !this.#done
    // Aborted while undici still had it queued: stop it before a byte is written.
    if (this.#done) controller.abort(asError(this.#request.cancellation.reason))
  }

  /** The connection layer saw the request go out (see {@link kConnectionSeen}). */
  [kConnectionSeen](reused: boolean, connect: AttemptConnect | undefined): void {
    this.#record.reused = reused
    this.#record.connect = connect
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Dispatcher.ResponseData['headers'],
    statusText?: string,
  ): void {
    if (statusCode < 200) {
      this.#request.undiciOptions.onInfo?.({
        statusCode,
        headers: headers as Record<string, string | string[]>,
      })
      return
    }
    const resolve = this.#resolve
    if (resolve === undefined) {
      // Settled already (aborted while queued): nobody will read this response.
      controller.abort(asError(this.#request.cancellation.reason))
      return
    }
    this.#resolve = undefined
    const record = this.#record
    record.timeToHeaders = this.#request.clock.now() - this.#start
    const watch = this.#watch
    if (watch !== undefined) {
      this.watched?.settled()
      record.protocol = watch.protocol(this.#origin)
    }
    record.statusCode = statusCode
    record.outcome = classifyStatus(statusCode)
    if (channels.attemptEnd.hasSubscribers) {
      channels.attemptEnd.publish({ attempt: record, attempts: this.#request.attempts })
    }
    if (this.#onAttempt !== undefined) callHook(this.#onAttempt, 'onAttempt', { attempt: record })
    const contentType = headers['content-type']
    const body = new ResponseBody({
      resume: () => controller.resume(),
      abort: (reason) => controller.abort(reason),
      highWaterMark: this.#request.undiciOptions.highWaterMark,
      contentType: typeof contentType === 'string' ? contentType : undefined,
    })
    this.#body = body
    const response: CallResponse = {
      statusCode,
      statusText: statusText ?? '',
      headers,
      body,
      trailers: (this.#trailers = {}),
      opaque: this.#request.undiciOptions.opaque,
      attempts: this.#request.attempts,
      attempt: record,
    }
    const pass = this.#pass
    if (pass === undefined) {
      resolve(response)
      return
    }
    let diverted: Promise<CallResponse> | undefined
    try {
      // A gate may take the outcome over (a retry): the call then resolves with its promise.
      diverted = pass.responded(response)
    } catch (error) {
      // A gate that throws fails the attempt, as a throwing middleware would.
      this.#failAfterHeaders(controller, error, pass, resolve)
      return
    }
    if (diverted !== undefined) {
      resolve(pass.carry(diverted))
      return
    }
    // The caller's own continuation, here rather than a step later (one promise a call).
    let delivered: CallResponse
    try {
      delivered = pass.deliver(response)
    } catch (error) {
      resolve(Promise.reject(error as Error))
      return
    }
    resolve(delivered)
  }

  /** A gate threw on the response: the call fails with that error and the response is dropped. */
  #failAfterHeaders(
    controller: Dispatcher.DispatchController,
    error: unknown,
    pass: GatePass,
    resolve: (outcome: Promise<CallResponse>) => void,
  ): void {
    this.#body = undefined
    this.#finish()
    controller.abort(asError(error))
    resolve(pass.carry(Promise.reject(error as Error)))
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#body?.push(chunk) === false) controller.pause()
  }

  onResponseEnd(
    _controller: Dispatcher.DispatchController,
    trailers: Dispatcher.ResponseData['headers'] | null,
  ): void {
    this.#finish()
    if (trailers && this.#trailers !== undefined) copyTrailers(this.#trailers, trailers)
    const body = this.#body
    if (body !== undefined) {
      body.push(null)
      body[kComplete]()
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error): void {
    // Already settled without a body (aborted while queued): undici's own report comes later.
    if (this.#resolve === undefined && this.#body === undefined) return
    this.#finish()
    const resolve = this.#resolve
    if (resolve !== undefined) {
      this.#resolve = undefined
      const record = this.#record
      record.error = errorCode(error)
      const h2Error = h2ErrorName(error)
      if (h2Error !== undefined) record.h2Error = h2Error
      record.sent ??= false
      // The server closed an idle connection as this request was written on it.
      if (idleCloseOf(error) !== undefined) record.reused = true
      const watch = this.#watch
      if (watch !== undefined) {
        this.watched?.settled()
        if (record.sent) record.protocol = watch.protocol(this.#origin)
      }
      record.outcome = classifyError(error, this.#request.callerSignal?.aborted === true)
      if (channels.attemptEnd.hasSubscribers) {
        channels.attemptEnd.publish({ attempt: record, error, attempts: this.#request.attempts })
      }
      if (this.#onAttempt !== undefined) {
        callHook(this.#onAttempt, 'onAttempt', { attempt: record, error })
      }
      noteAttemptError(error, record)
      const pass = this.#pass
      if (pass === undefined) resolve(Promise.reject(error))
      // Its gates settle, and may take the outcome over (a retry).
      else resolve(pass.carry(pass.failedWith(error)))
      return
    }
    const body = this.#body
    if (body !== undefined) {
      // As undici does: a body nobody is reading must not crash the process with an unhandled
      // 'error'; readers still see the error (a helper rejects, a pipeline or iterator throws).
      body.on('error', noop)
      body.destroy(this.#bodyError(error))
      body[kComplete]()
    }
  }

  /**
   * What a body's reader sees when the response fails after its headers (a reset, a short body,
   * the deadline): the error with the call's attempts, so it explains itself as a rejected call
   * does. A caller's own abort becomes an `AbortedError` of this call, as `request()` rejects with.
   */
  #bodyError(error: Error): Error {
    const { attempts, callerSignal, cancellation } = this.#request
    if (callerSignal?.aborted === true && cancellation.reason === callerSignal.reason) {
      return callerAbortError(callerSignal.reason, attempts)
    }
    return withAttempts(error, attempts)
  }

  /** The call was aborted (caller, deadline, destroy): stop the request wherever it is. */
  [kOnCancel](reason: unknown): void {
    const error = asError(reason)
    const controller = this.#controller
    if (controller !== undefined) {
      controller.abort(error)
      return
    }
    // Still queued in undici: take it out of the queue, which fails it through onResponseError,
    // so no stale entry waits there (holding memory, opening a connection later).
    const cancel = this.#cancelQueued
    if (cancel !== undefined) {
      this.#cancelQueued = undefined
      cancel(error)
      if (this.#resolve === undefined) return
    }
    // No hook, or undici is handing it to a connection right now: settle now rather than wait
    // for a socket; onRequestStart aborts it.
    this.onResponseError(undefined, error)
  }

  /** The attempt is over on the network side: record how long it took, stop listening for aborts. */
  #finish(): void {
    if (this.#done) return
    this.#done = true
    this.#record.duration = this.#request.clock.now() - this.#start
    this.#request.cancellation.unlisten(this)
  }
}

// A trailer named __proto__ must become a plain property, never the object's prototype.
function copyTrailers(target: ClientResponse['trailers'], trailers: object): void {
  for (const [key, value] of Object.entries(trailers)) {
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
}

// No status or error is retryable, so every response and error passes through it unchanged (with
// maxRetries 0 alone it would turn a 503 into a RequestRetryError); no custom `retry` function.
const NO_UNDICI_RETRIES = Object.freeze({
  maxRetries: 0,
  statusCodes: Object.freeze([]),
  errorCodes: Object.freeze([]),
  retry: undefined,
})

function noop(): void {}

/** `headers` with `host` added, unless the caller set one (a copy: the call's are shared). */
function withHost(headers: HeaderRecord, host: string): HeaderRecord {
  for (const name in headers) if (name.toLowerCase() === 'host') return headers
  return { ...headers, host }
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason))
}
