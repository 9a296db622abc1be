import { describe, expect, it } from 'vitest'
import {
  ClientClosedError,
  DeadlineExceededError,
  classifyError,
  classifyStatus,
} from '../../src/index.ts'
import { errorCode, neverLeftClient } from '../../src/core/outcome.ts'

const withCode = (code: string) => Object.assign(new Error(code), { code })

describe('classifyStatus', () => {
  it.each([
    [200, 'success'],
    [204, 'success'],
    [304, 'success'],
    [400, 'success'],
    [404, 'success'],
    [409, 'success'],
    [408, 'failure'],
    [500, 'failure'],
    [502, 'failure'],
    [504, 'failure'],
    [429, 'overload'],
    [503, 'overload'],
  ])('%i is %s', (status, kind) => {
    expect(classifyStatus(status)).toBe(kind)
  })
})

describe('classifyError', () => {
  it('calls anything a cancellation once the caller aborted', () => {
    expect(classifyError(withCode('ECONNRESET'), true)).toBe('cancelled')
  })

  it('counts local rejections as local, never as upstream failures', () => {
    expect(classifyError(new ClientClosedError('closed'), false)).toBe('local')
  })

  it('treats timeouts as overload: the origin is too slow', () => {
    for (const code of ['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT']) {
      expect(classifyError(withCode(code), false)).toBe('overload')
    }
    expect(classifyError(new DeadlineExceededError('late'), false)).toBe('overload')
  })

  it('treats refused connections, resets, DNS and parse errors as failures: not asking for less', () => {
    for (const code of [
      'ECONNREFUSED',
      'ECONNRESET',
      'ENOTFOUND',
      'UND_ERR_SOCKET',
      'HPE_INVALID_CONSTANT',
    ]) {
      expect(classifyError(withCode(code), false)).toBe('failure')
    }
  })
})

describe('neverLeftClient', () => {
  it('is true only for connect-phase failures', () => {
    expect(neverLeftClient(withCode('ECONNREFUSED'))).toBe(true)
    expect(neverLeftClient(withCode('ENOTFOUND'))).toBe(true)
    expect(neverLeftClient(withCode('UND_ERR_CONNECT_TIMEOUT'))).toBe(true)
    expect(neverLeftClient(withCode('ECONNRESET'))).toBe(false)
    expect(neverLeftClient(withCode('UND_ERR_HEADERS_TIMEOUT'))).toBe(false)
  })

  it('takes EHOSTUNREACH and ENETUNREACH only from connect(): on a live socket they may follow delivery', () => {
    for (const code of ['EHOSTUNREACH', 'ENETUNREACH']) {
      expect(neverLeftClient(Object.assign(withCode(code), { syscall: 'connect' }))).toBe(true)
      expect(neverLeftClient(Object.assign(withCode(code), { syscall: 'read' }))).toBe(false)
      expect(neverLeftClient(withCode(code))).toBe(false)
    }
  })

  it("believes the attempt's record first: whether undici handed the request to a socket", () => {
    expect(neverLeftClient(withCode('NQ_ATTEMPT_TIMEOUT'), { sent: false })).toBe(true)
    expect(neverLeftClient(withCode('ECONNREFUSED'), { sent: true })).toBe(false)
    expect(neverLeftClient(withCode('ECONNRESET'), { sent: undefined })).toBe(false)
  })
})

describe('errorCode', () => {
  it('reads the code, then the cause code, then the name', () => {
    expect(errorCode(withCode('EPIPE'))).toBe('EPIPE')
    expect(errorCode(new Error('x', { cause: withCode('ECONNRESET') }))).toBe('ECONNRESET')
    expect(errorCode(new TypeError('x'))).toBe('TypeError')
    expect(errorCode('boom')).toBe('string')
  })
})
