// A response from a simulated origin at the bottom of a benchmark's stack: an empty body that has
// already been received, as the transport would hand it over.
import { ResponseBody, kComplete } from '../src/core/response-body.ts'
import type { AttemptRecord, CallRequest, CallResponse } from '../src/index.ts'

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
