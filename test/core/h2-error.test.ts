import { describe, expect, it } from 'vitest'
import { describeH2Error, h2ErrorName, h2NeverProcessed } from '../../src/core/h2-error.ts'

/** An error shaped as Node's http2 or undici raise it. */
function error(code: string, message: string, extra: object = {}): Error {
  return Object.assign(new Error(message), { code }, extra)
}

describe('h2ErrorName', () => {
  it("reads the RFC code undici puts on a stream error, or Node's message", () => {
    const refused = 'Stream closed with error code NGHTTP2_REFUSED_STREAM'
    expect(h2ErrorName(error('ERR_HTTP2_STREAM_ERROR', refused, { http2ErrorCode: 7 }))).toBe(
      'REFUSED_STREAM',
    )
    expect(h2ErrorName(error('ERR_HTTP2_STREAM_ERROR', refused))).toBe('REFUSED_STREAM')
    expect(h2ErrorName(error('ERR_HTTP2_STREAM_ERROR', 'x', { http2ErrorCode: 11 }))).toBe(
      'ENHANCE_YOUR_CALM',
    )
    expect(h2ErrorName(error('ERR_HTTP2_STREAM_ERROR', 'x', { http2ErrorCode: 0x42 }))).toBe('0x42')
  })

  it("names undici's GOAWAY, unsent headers, ended stream and unresponsive session", () => {
    const goaway = error('UND_ERR_INFO', 'HTTP/2: "GOAWAY" frame received with code 0')
    expect(h2ErrorName(goaway)).toBe('GOAWAY')
    const frame = error('UND_ERR_INFO', 'HTTP/2: "frameError" received - type 1, code 7')
    expect(h2ErrorName(frame)).toBe('HEADERS_NOT_SENT')
    expect(h2ErrorName(error('UND_ERR_INFO', 'HTTP/2: stream half-closed (remote)'))).toBe(
      'STREAM_ENDED',
    )
    expect(h2ErrorName(error('NQ_H2_UNRESPONSIVE', 'no PING answer'))).toBe('UNRESPONSIVE')
  })

  it('looks at the cause, and is undefined for what is not HTTP/2', () => {
    const wrapped = new TypeError('fetch failed', {
      cause: error('ERR_HTTP2_STREAM_ERROR', 'x', { http2ErrorCode: 2 }),
    })
    expect(h2ErrorName(wrapped)).toBe('INTERNAL_ERROR')
    expect(h2ErrorName(error('ECONNRESET', 'read ECONNRESET'))).toBeUndefined()
    expect(h2ErrorName(error('UND_ERR_SOCKET', 'other side closed'))).toBeUndefined()
    expect(h2ErrorName('text')).toBeUndefined()
    expect(h2ErrorName(null)).toBeUndefined()
  })
})

describe('h2NeverProcessed', () => {
  it('holds for a refused stream, a GOAWAY and unsent headers only', () => {
    expect(h2NeverProcessed(error('ERR_HTTP2_STREAM_ERROR', 'x', { http2ErrorCode: 7 }))).toBe(true)
    expect(h2NeverProcessed(error('UND_ERR_INFO', 'HTTP/2: "GOAWAY" frame received'))).toBe(true)
    expect(h2NeverProcessed(error('ERR_HTTP2_STREAM_ERROR', 'x', { http2ErrorCode: 2 }))).toBe(
      false,
    )
    expect(h2NeverProcessed(error('NQ_H2_UNRESPONSIVE', 'x'))).toBe(false)
    expect(h2NeverProcessed(error('ECONNREFUSED', 'x'))).toBe(false)
  })

  it('every name has a sentence for explain()', () => {
    expect(describeH2Error('REFUSED_STREAM')).toBe('the server did not process it')
    expect(describeH2Error('PROTOCOL_ERROR')).toBe('the stream was reset')
  })
})
