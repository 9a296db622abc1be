import type { Readable } from 'node:stream'
import type { Dispatcher } from 'undici'
import type { AttemptRecord } from './attempt-record.ts'
import type { Cancellation } from './cancellation.ts'
import type { Clock } from './clock.ts'
import type { OriginState } from './origin-state.ts'
import type { ResponseBody } from './response-body.ts'

/**
 * A request body undici can send as is. Strings, bytes, Blobs, FormData and arrays of chunks
 * can be sent again on a retry; a stream or an (async) iterator only once.
 */
export type RequestBodyValue =
  | string
  | Buffer
  | Uint8Array
  | ArrayBufferView
  | ArrayBuffer
  | Blob
  | Readable
  | FormData
  | Iterable<Uint8Array | string>
  | AsyncIterable<Uint8Array | string>
  | null

/**
 * A request body, or a factory that makes a fresh one for each attempt, so that a stream can be
 * retried: `body: () => fs.createReadStream(path)`.
 */
export type RequestBody = RequestBodyValue | (() => RequestBodyValue)

/**
 * The undici request options a call accepts, with what they mean here. `query`,
 * `headersTimeout`, `bodyTimeout`, `reset`, `blocking`, `idempotent`, `expectContinue` and
 * `typeOfService` go to undici's dispatch of each attempt; `opaque`, `onInfo` and
 * `highWaterMark` behave as in `undici.request`. Any other key is refused with
 * `InvalidOptionError`: `{ timeout: 5000 }` silently ignored would be a wait the caller did not
 * choose. Not supported: `upgrade` (use undici directly) and `responseHeaders: 'raw'`.
 */
export interface UndiciRequestOptions {
  /** Query parameters appended to the path, encoded by undici. @defaultValue none */
  query?: Record<string, unknown>
  /**
   * Marks the request safe to retry whatever its method (a POST you know is idempotent): the
   * retry policy then treats it as a GET. Unlike undici, nothing is pipelined.
   * @defaultValue `false`: only idempotent methods and keyed requests are retried
   */
  idempotent?: boolean
  /**
   * Each attempt's wait for response headers, in ms, on top of the call's `attemptTimeout` and
   * deadline, which usually end an attempt first.
   * @defaultValue the client's Agent's (30 s, `DEFAULT_AGENT_OPTIONS`), not undici's 300 s
   */
  headersTimeout?: number | null
  /**
   * Each attempt's longest silence between two body chunks, in ms. The deadline bounds the whole
   * call regardless.
   * @defaultValue the client's Agent's (30 s, `DEFAULT_AGENT_OPTIONS`), not undici's 300 s
   */
  bodyTimeout?: number | null
  /** Closes the connection after this response (`connection: close`). @defaultValue `false` */
  reset?: boolean
  /**
   * undici's `blocking`: no other request is queued behind this one on its connection.
   * @defaultValue `false`; `true` for requests with a body
   */
  blocking?: boolean
  /**
   * Sends `Expect: 100-continue` and waits for the server before the body.
   * @defaultValue `false`
   */
  expectContinue?: boolean
  /** The IP type-of-service byte of the connection. @defaultValue none */
  typeOfService?: number | null
  /** Handed back on the response as `opaque`, as in `undici.request`. @defaultValue `null` */
  opaque?: unknown
  /** Called for each 1xx informational response (not 101). @defaultValue none */
  onInfo?: (info: { statusCode: number; headers: Record<string, string | string[]> }) => void
  /** Bytes of the response body buffered before the socket is paused. @defaultValue 65536 */
  highWaterMark?: number
}

/** The undici options of one call, split by who handles them. */
export interface CallUndiciOptions {
  /** Options merged into every dispatch (timeouts, query, ...), or none. */
  readonly dispatch: Readonly<Record<string, unknown>> | undefined
  readonly opaque: unknown
  readonly onInfo: Dispatcher.RequestOptions['onInfo'] | undefined
  readonly highWaterMark: number | undefined
  /**
   * `client.dispatcher`'s handler context: each attempt's `onRequestStart` context is copied
   * into it, so a handler above the face sees what a dispatcher below put there.
   */
  readonly context?: Record<string, unknown> | undefined
}

/**
 * One call as the middleware stack sees it. The same object goes to every attempt; a middleware
 * that needs to change something for the layers below (an attempt's own signal, a header) passes a
 * copy to `next` rather than mutating it, since `next` may run more than once.
 */
export interface CallRequest {
  /** Upper-case for the standard methods. */
  readonly method: string
  /** `scheme://host[:port]`, e.g. `https://payments.internal`. */
  readonly origin: string
  /** Path and query, always starting with `/`. */
  readonly path: string
  /** Lower-case names; already validated (no CR, LF or NUL). */
  readonly headers: Record<string, string | string[]>
  readonly body: RequestBody | undefined
  /**
   * Aborts when the call must stop: the caller aborted, the deadline passed, or the client was
   * destroyed. Once it has aborted, the call is over: nothing may retry. The
   * transport stops its attempt when it aborts; a middleware that needs an `AbortSignal` (for a
   * sleep, say) takes `cancellation.signal`. A middleware that wants to stop one attempt alone
   * passes `next` a copy of the request with a narrower cancellation that follows this one.
   */
  readonly cancellation: Cancellation
  /** The caller's own signal, to tell a caller's abort from one a policy caused. */
  readonly callerSignal: AbortSignal | undefined
  /** Attempt records so far; the transport appends one per attempt. */
  readonly attempts: AttemptRecord[]
  /** `clock.now()` when the call started. */
  readonly startTime: number
  /**
   * When the call must be over, as a reading of `clock.now()`: the `deadline` option from the
   * call's start, or an inherited deadline (see `withDeadline`) when that is sooner. Always
   * finite. Anything that waits (a backoff sleep, a queue) must not wait past it.
   */
  readonly deadline: number
  /** True when `deadline` came from the enclosing `withDeadline` scope rather than the options. */
  readonly deadlineInherited: boolean
  /** The `attemptTimeout` in ms for this call's attempts, when one is set. */
  readonly attemptTimeout: number | undefined
  /**
   * No attempt starts with less than this many ms before `deadline` (the client's
   * `minAttemptTime`), and no policy should wait into that last slice.
   */
  readonly minAttemptTime: number
  readonly clock: Clock
  /** State the policies keep for this origin. */
  readonly originState: OriginState
  /** undici options of the call, for every attempt. */
  readonly undiciOptions: CallUndiciOptions
}

/**
 * The response of a call, shaped like undici's `ResponseData` (without `context`), plus the
 * call's attempt records.
 */
export interface ClientResponse {
  statusCode: number
  statusText: string
  headers: Dispatcher.ResponseData['headers']
  /** A Readable with undici's helpers: `.json()`, `.text()`, `.arrayBuffer()`, `.dump()`... */
  body: ResponseBody
  /** Filled in once the body has been received to its end. */
  trailers: Record<string, string | string[] | undefined>
  /** The request's `opaque` option, handed back. */
  opaque: unknown
  /** One record per attempt of the call; the last one produced this response. */
  attempts: readonly AttemptRecord[]
}

/** What a handler resolves with inside the stack: the response and the attempt that made it. */
export interface CallResponse extends ClientResponse {
  /** The record of the attempt that produced this response. */
  readonly attempt: AttemptRecord
}

/** The rest of the stack below a middleware. May be called more than once (retries, hedges). */
export type Handler = (request: CallRequest) => Promise<CallResponse>

/**
 * A policy: sees the call on the way in and the response or error on the way out.
 *
 * @example
 * ```ts
 * const logStatus: Middleware = async (request, next) => {
 *   const response = await next(request)
 *   console.log(request.method, request.path, response.statusCode)
 *   return response
 * }
 * ```
 */
export type Middleware = (request: CallRequest, next: Handler) => Promise<CallResponse>
