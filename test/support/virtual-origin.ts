import { noteAttemptError, startAttempt } from '../../src/core/attempt.ts'
import { ResponseBody, kComplete } from '../../src/core/response-body.ts'
import {
  createClient,
  type AttemptRecord,
  type CallRequest,
  type CallResponse,
  type ClientOptions,
  type Middleware,
} from '../../src/index.ts'
import { VirtualClock, seededRandom } from '../../src/testing/index.ts'

/** What the virtual origin does with one attempt. */
export interface VirtualReply {
  status: number
  /** Virtual ms before the response headers (and the whole, small body) arrive. */
  latency: number
  headers?: Record<string, string>
}

/** One attempt as the virtual origin saw it. */
export interface SeenAttempt {
  at: number
  headers: CallRequest['headers']
}

/**
 * A stand-in for the transport on virtual time: a middleware at the bottom of the stack that
 * never calls `next`. It records each attempt like the transport does, waits `latency` on the
 * call's clock (aborting as the transport would, with the cancellation's reason) and answers.
 * The network cannot run on virtual time; integration tests cover the real transport.
 */
export function virtualOrigin(
  reply: (attempt: number, request: CallRequest) => VirtualReply,
  seen: SeenAttempt[] = [],
): Middleware {
  return async (request) => {
    const { clock, cancellation } = request
    if (cancellation.aborted) throw cancellation.reason
    const record = startAttempt(request)
    seen.push({ at: clock.now(), headers: request.headers })
    const { status, latency, headers = {} } = reply(record.number, request)
    try {
      await clock.sleep(latency, cancellation.signal)
    } catch (error) {
      record.duration = clock.now() - request.startTime - record.start
      record.error = (error as { code?: string }).code
      noteAttemptError(error, record)
      throw error
    }
    record.timeToHeaders = latency
    return virtualResponse(request, record, status, headers, 'ok')
  }
}

/**
 * A response to `record`'s attempt with a small body that has been received in full, as the
 * transport would hand it over; sets the record's status.
 */
export function virtualResponse(
  request: CallRequest,
  record: AttemptRecord,
  status: number,
  headers: Record<string, string>,
  text = '',
): CallResponse {
  record.statusCode = status
  const body = new ResponseBody({ resume() {}, abort() {} })
  if (text !== '') body.push(Buffer.from(text))
  body.push(null)
  body[kComplete]()
  return {
    statusCode: status,
    statusText: '',
    headers,
    body,
    trailers: {},
    opaque: null,
    attempts: request.attempts,
    attempt: record,
  }
}

/**
 * A naive retry loop for the deadline's tests, standing in for the retry policy so that they
 * depend on the deadline alone: retries every 5xx and every error except a final one (the call's
 * cancellation aborted, or the deadline passed), after `delay` ms, however near the deadline.
 */
export function retryEverything(delay: number): Middleware {
  return async (request, next) => {
    for (;;) {
      try {
        const response = await next(request)
        if (response.statusCode < 500) return response
        void response.body.dump()
      } catch (error) {
        if (
          request.cancellation.aborted ||
          (error as { code?: string }).code === 'NQ_DEADLINE_EXCEEDED'
        ) {
          throw error
        }
      }
      await request.clock.sleep(delay, request.cancellation.signal)
    }
  }
}

/** Starts a call and records when (on the virtual clock) it settled, and how. */
export function track<T>(clock: VirtualClock, promise: Promise<T>) {
  const state: { settledAt?: number; value?: T; error?: unknown } = {}
  promise.then(
    (value) => {
      state.settledAt = clock.now()
      state.value = value
    },
    (error: unknown) => {
      state.settledAt = clock.now()
      state.error = error
    },
  )
  return state
}

/**
 * A client on virtual time: the client's default stack over a {@link virtualOrigin} at
 * `http://virtual.test`, seeded randomness, and `options` on top.
 */
export function virtualClient(
  reply: (attempt: number, request: CallRequest) => VirtualReply,
  options: ClientOptions = {},
) {
  const clock = new VirtualClock()
  const seen: SeenAttempt[] = []
  const client = createClient({
    origin: 'http://virtual.test',
    clock,
    random: seededRandom(1),
    ...options,
    middleware: (defaults) => [...defaults, virtualOrigin(reply, seen)],
  })
  return { clock, client, seen }
}
