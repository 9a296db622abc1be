import { describe, expect, it } from 'vitest'
import { resolveTarget } from '../../src/core/target.ts'
import { CrossOriginError, InvalidRequestError } from '../../src/index.ts'

const base = 'https://api.internal'

describe('resolveTarget', () => {
  it('resolves a path against the client origin', () => {
    expect(resolveTarget(base, '/charges/42?x=1')).toEqual({
      origin: base,
      path: '/charges/42?x=1',
    })
  })

  it('accepts an absolute URL on the same origin', () => {
    expect(resolveTarget(base, 'https://api.internal/a')).toEqual({ origin: base, path: '/a' })
    expect(resolveTarget(base, new URL('https://api.internal:443/b'))).toEqual({
      origin: base,
      path: '/b',
    })
  })

  it.each([
    'http://evil/',
    '//evil/',
    '/\\evil/',
    'https://api.internal:8443/',
    'http://api.internal/',
  ])('rejects %s as cross-origin instead of re-targeting it', (url) => {
    expect(() => resolveTarget(base, url)).toThrow(CrossOriginError)
  })

  it('never resolves a host-like relative string against the origin', () => {
    expect(() => resolveTarget(base, 'evil.com/x')).toThrow(InvalidRequestError)
  })

  it.each(['/a\r\nHost: evil', '/a\nb', '/a\u0000', '/a b'])('rejects path %j', (url) => {
    expect(() => resolveTarget(base, url)).toThrow(InvalidRequestError)
  })

  it('needs an absolute http(s) URL without an origin', () => {
    expect(resolveTarget(undefined, 'http://h:8080/x')).toEqual({
      origin: 'http://h:8080',
      path: '/x',
    })
    expect(() => resolveTarget(undefined, '/x')).toThrow(/no origin/)
    expect(() => resolveTarget(undefined, 'file:///etc/passwd')).toThrow(/scheme file:/)
    expect(() => resolveTarget(undefined, 'not a url')).toThrow(InvalidRequestError)
  })

  it('rejects credentials in the URL', () => {
    expect(() => resolveTarget(undefined, 'http://user:pw@h/x')).toThrow(/credentials/)
  })

  it('drops a fragment from a path', () => {
    expect(resolveTarget(base, '/a#frag').path).toBe('/a')
  })
})
