import { startAttempt } from '../../src/core/attempt.ts'
import type { CallRequest, CallResponse, Middleware } from '../../src/index.ts'
import { virtualResponse } from './virtual-origin.ts'

/** An attempt waiting at a {@link controlledOrigin} for the test to answer it. */
export interface HeldAttempt {
  request: CallRequest
  /** Answers with `status` and `headers`. */
  respond(status: number, headers?: Record<string, string>): void
  /** Fails the attempt with `error`. */
  fail(error: unknown): void
}

/**
 * A stand-in for the transport whose attempts wait until the test answers them, one by one, in
 * any order: for state machines on virtual time where the test decides when each attempt ends.
 * An attempt whose call is aborted fails at once with the abort's reason and leaves `held`.
 */
export function controlledOrigin(): { middleware: Middleware; held: HeldAttempt[] } {
  const held: HeldAttempt[] = []
  const middleware: Middleware = (request) => {
    const { cancellation, clock } = request
    if (cancellation.aborted) return Promise.reject(cancellation.reason as Error)
    const record = startAttempt(request)
    return new Promise<CallResponse>((resolve, reject) => {
      const leave = () => {
        const i = held.indexOf(attempt)
        if (i !== -1) held.splice(i, 1)
        cancellation.signal.removeEventListener('abort', onAbort)
        record.duration = clock.now() - request.startTime - record.start
      }
      const onAbort = () => {
        leave()
        reject(cancellation.reason as Error)
      }
      const attempt: HeldAttempt = {
        request,
        respond(status, headers = {}) {
          leave()
          resolve(virtualResponse(request, record, status, headers))
        },
        fail(error) {
          leave()
          record.error = (error as { code?: string }).code
          reject(error as Error)
        },
      }
      cancellation.signal.addEventListener('abort', onAbort, { once: true })
      held.push(attempt)
    })
  }
  return { middleware, held }
}
