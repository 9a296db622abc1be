import { describe, expect, it } from 'vitest'
import { parseBase, resolveTarget } from '../../src/core/target.ts'
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

describe('an origin with a path prefix (axios baseURL, got prefixUrl)', () => {
  it('parses the prefix without its trailing slash, and refuses query and credentials', () => {
    expect(parseBase('https://api.example.com/v1/')).toEqual({
      origin: 'https://api.example.com',
      prefix: '/v1',
    })
    expect(parseBase('https://api.example.com')).toEqual({
      origin: 'https://api.example.com',
      prefix: '',
    })
    for (const bad of ['https://x/v1?a=1', 'https://x/v1#f', 'https://u:p@x/v1', 'ftp://x/v1']) {
      expect(parseBase(bad)).toBeUndefined()
    }
  })

  it('sends a path under the prefix', () => {
    expect(resolveTarget(base, '/charges/42?x=1', '/v1')).toEqual({
      origin: base,
      path: '/v1/charges/42?x=1',
    })
    expect(resolveTarget(base, '/', '/v1').path).toBe('/v1/')
    // Dots inside a segment and in the query are not segments.
    expect(resolveTarget(base, '/a..b/.c?x=../y', '/v1').path).toBe('/v1/a..b/.c?x=../y')
  })

  it('accepts an absolute URL under the prefix, and the prefix itself', () => {
    expect(resolveTarget(base, 'https://api.internal/v1/a', '/v1').path).toBe('/v1/a')
    expect(resolveTarget(base, 'https://api.internal/v1', '/v1').path).toBe('/v1')
  })

  it.each([
    '/../admin',
    '/./../admin',
    '/a/..',
    '/%2e%2e/admin',
    '/%2E./admin',
    '/..\\admin',
    '/a\\..\\..\\admin',
    '//evil/',
    'https://api.internal/admin',
    'https://api.internal/v10/x',
    'https://api.internal/v1/../admin',
    'http://evil/v1/x',
  ])('refuses %s, which leaves the prefix', (url) => {
    expect(() => resolveTarget(base, url, '/v1')).toThrow(CrossOriginError)
  })
})
