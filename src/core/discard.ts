import type { CallRequest, CallResponse } from './middleware.ts'

/**
 * Bytes of a discarded body read to keep its socket: past this undici destroys the socket rather
 * than read on (its `dump()` default), since reading a large body costs more than a new connection.
 */
const DUMP_LIMIT = 128 * 1024

/**
 * Throws away a response a policy will not hand to the caller (a 503 before a retry, say). The
 * body is drained up to a limit so the socket goes back to the pool instead of being left paused;
 * the attempt's `duration` is set when that finishes. Never throws.
 */
export function discardResponse(request: CallRequest, response: CallResponse): void {
  const { attempt } = response
  const done = () => {
    attempt.duration = request.clock.now() - request.startTime - attempt.start
  }
  response.body.dump({ limit: DUMP_LIMIT }).then(done, done)
}
