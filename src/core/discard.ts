import type { CallResponse } from './middleware.ts'

/**
 * Throws away a response a policy will not hand to the caller (a 503 before a retry, say). The
 * body is drained up to a limit (see {@link ResponseBody.dump}) so the socket goes back to the
 * pool instead of staying paused with unread data. Never throws.
 */
export function discardResponse(response: CallResponse): void {
  // dump() never rejects: a body error only ends the drain early.
  void response.body.dump()
}
