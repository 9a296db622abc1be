/**
 * What an HTTP/2 failure says, read from the errors Node's `http2` and undici raise. Node reports
 * a stream reset as `ERR_HTTP2_STREAM_ERROR` ("Stream closed with error code
 * NGHTTP2_REFUSED_STREAM") and undici adds the numeric code as `http2ErrorCode`; a GOAWAY that
 * leaves a request unprocessed reaches it as undici's 'HTTP/2: "GOAWAY" frame received'.
 */

/** RFC 9113 section 7 error codes, by number. */
const CODE_NAMES: readonly string[] = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
]

/**
 * The HTTP/2 names this library gives failures, besides the RFC's codes: `GOAWAY` (the session
 * was closed below this stream, so the server never processed it), `HEADERS_NOT_SENT` (nghttp2
 * refused to send the request's headers on a session going away), `STREAM_ENDED` (the server
 * ended the stream without a response), `SESSION_CLOSED` (the session was destroyed under the
 * stream) and `UNRESPONSIVE` (a PING went unanswered, `NQ_H2_UNRESPONSIVE`).
 */
export type H2ErrorName = string

// Failures of which RFC 9113 says the server did not process the request (section 8.7): any
// method may be sent again, as gRPC's transparent retry does.
const NEVER_PROCESSED = new Set(['REFUSED_STREAM', 'GOAWAY', 'HEADERS_NOT_SENT'])

const STREAM_CODE = /NGHTTP2_([A-Z_0-9]+)/
const GOAWAY = /"GOAWAY" frame received/
const HEADERS_FRAME_ERROR = /"frameError" received - type 1,/

/**
 * The HTTP/2 name of a failure (`'REFUSED_STREAM'`, `'GOAWAY'`...), or `undefined` when it is not
 * an HTTP/2 failure. Looks at the error and its cause.
 */
export function h2ErrorName(error: unknown): H2ErrorName | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const own = nameOf(error as ErrorLike)
  if (own !== undefined) return own
  const { cause } = error as ErrorLike
  return typeof cause === 'object' && cause !== null ? nameOf(cause as ErrorLike) : undefined
}

/**
 * True when an HTTP/2 failure proves the server did not process the request: `REFUSED_STREAM`,
 * a stream above a GOAWAY's last stream id, headers nghttp2 never sent.
 */
export function h2NeverProcessed(error: unknown): boolean {
  const name = h2ErrorName(error)
  return name !== undefined && NEVER_PROCESSED.has(name)
}

interface ErrorLike {
  code?: unknown
  message?: unknown
  http2ErrorCode?: unknown
  cause?: unknown
}

function nameOf(error: ErrorLike): H2ErrorName | undefined {
  const { code, http2ErrorCode } = error
  if (code === 'NQ_H2_UNRESPONSIVE') return 'UNRESPONSIVE'
  if (typeof http2ErrorCode === 'number') return codeName(http2ErrorCode)
  const message = typeof error.message === 'string' ? error.message : ''
  if (code === 'ERR_HTTP2_STREAM_ERROR') return STREAM_CODE.exec(message)?.[1] ?? 'STREAM_ERROR'
  if (code === 'ERR_HTTP2_SESSION_ERROR' || code === 'ERR_HTTP2_INVALID_SESSION')
    return 'SESSION_CLOSED'
  if (code === 'ERR_HTTP2_GOAWAY_SESSION') return 'GOAWAY'
  if (typeof code !== 'string' || !code.startsWith('UND_ERR') || !message.startsWith('HTTP/2'))
    return undefined
  if (GOAWAY.test(message)) return 'GOAWAY'
  if (HEADERS_FRAME_ERROR.test(message)) return 'HEADERS_NOT_SENT'
  if (message.includes('stream half-closed')) return 'STREAM_ENDED'
  if (message.includes('unresponsive')) return 'UNRESPONSIVE'
  return undefined
}

function codeName(code: number): string {
  return CODE_NAMES[code] ?? `0x${code.toString(16)}`
}

/** One line on what an HTTP/2 failure means, for `explain()`. */
export function describeH2Error(name: H2ErrorName): string {
  switch (name) {
    case 'REFUSED_STREAM':
      return 'the server did not process it'
    case 'GOAWAY':
      return 'the server closed the session before processing it'
    case 'HEADERS_NOT_SENT':
      return 'the request was never sent (the session was going away)'
    case 'ENHANCE_YOUR_CALM':
      return 'the server asks for less'
    case 'UNRESPONSIVE':
      return 'the session stopped answering PINGs'
    case 'CANCEL':
      return 'the server cancelled the stream'
    case 'STREAM_ENDED':
      return 'the server ended the stream without a response'
    default:
      return 'the stream was reset'
  }
}
