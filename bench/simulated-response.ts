// Simulated origins at the bottom of a benchmark's stack, on virtual time, and their responses:
// an empty body that has already been received, as the transport would hand it over.
import { noteAttemptError, startAttempt } from '../src/core/attempt.ts'
import { ResponseBody, kComplete } from '../src/core/response-body.ts'
import type { AttemptRecord, CallRequest, CallResponse, Middleware } from '../src/index.ts'

export function simulatedResponse(
  request: CallRequest,
  record: AttemptRecord,
  status: number,
  headers: Record<string, string> = {},
): CallResponse {
  record.statusCode = status
  const body = new ResponseBody({ resume() {}, abort() {} })
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
 * The bottom of the stack on virtual time: records the attempt as the transport does, answers
 * 200 after `latency(request)` ms, and stops at once (as a destroyed socket would) when the
 * attempt is cancelled. A timer and an abort handler, no AbortSignal: millions of attempts run.
 */
export function simulatedOrigin(latency: (request: CallRequest) => number): Middleware {
  return (request) => {
    const { clock, cancellation } = request
    if (cancellation.aborted) return Promise.reject(cancellation.reason as Error)
    const record = startAttempt(request)
    record.sent = true
    const ms = latency(request)
    return new Promise<CallResponse>((resolve, reject) => {
      const timer = clock.setTimer(() => {
        off()
        record.timeToHeaders = ms
        record.duration = ms
        resolve(simulatedResponse(request, record, 200))
      }, ms)
      const off = cancellation.onAbort((reason) => {
        clock.clearTimer(timer)
        record.duration = clock.now() - request.startTime - record.start
        record.error = (reason as { code?: string }).code ?? 'aborted'
        noteAttemptError(reason, record)
        reject(reason as Error)
      })
    })
  }
}
