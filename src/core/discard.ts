import type { CallResponse } from './middleware.ts'
import { InvalidOptionError } from '../errors.ts'

/**
 * Throws away a response a policy will not hand to the caller (a 503 before a retry, say). The
 * body is drained up to a limit (see {@link ResponseBody.dump}) so the socket goes back to the
 * pool instead of staying paused with unread data. Never throws for a response; anything else
 * is an `InvalidOptionError`.
 */
export function discardResponse(response: CallResponse): void {
  if (typeof (response as Partial<CallResponse> | null)?.body?.dump !== 'function') {
    throw new InvalidOptionError('response', response, 'a response with a body')
  }
  // dump() never rejects: a body error only ends the drain early.
  void response.body.dump()
}
