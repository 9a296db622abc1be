import { describe, expect, it } from 'vitest'
import { mergeHeaders, normalizeHeaders, wireHeaders } from '../../src/core/headers.ts'
import { normalizeMethod } from '../../src/core/method.ts'
import { InvalidRequestError } from '../../src/index.ts'

describe('mergeHeaders', () => {
  it('lower-cases names and lets request headers win over defaults', () => {
    expect(plain(mergeHeaders({ 'user-agent': 'd', accept: 'a' }, { 'User-Agent': 'r' }))).toEqual({
      'user-agent': 'r',
      accept: 'a',
    })
  })

  it('keeps the spelling of each name for the wire, through a copy and a merge', () => {
    const defaults = normalizeHeaders({ 'X-Api-Version': '2', 'X-Team': 'a' })
    const merged = mergeHeaders(defaults, { 'X-TEAM': 'b', 'Content-Type': 'text/plain' })
    // A middleware adds a header to a copy: the spellings ride along.
    const copy: Record<string, string | string[]> = { ...merged, 'x-added': '1' }
    expect(wireHeaders(copy)).toEqual({
      'X-Api-Version': '2',
      'X-TEAM': 'b',
      'Content-Type': 'text/plain',
      'x-added': '1',
    })
    // Policies still read lower-case names; all lower-case input costs no copy.
    expect(copy['content-type']).toBe('text/plain')
    const lower = mergeHeaders(undefined, { accept: 'a' })
    expect(wireHeaders(lower)).toBe(lower)
  })

  it('accepts iterables, flat arrays and numbers, and skips undefined', () => {
    expect(plain(mergeHeaders(undefined, new Map([['X-A', '1']])))).toEqual({ 'x-a': '1' })
    expect(mergeHeaders(undefined, ['x-a', '1', 'x-a', '2'])).toEqual({ 'x-a': ['1', '2'] })
    expect(mergeHeaders(undefined, { 'content-length': 3, skip: undefined })).toEqual({
      'content-length': '3',
    })
  })

  it.each([
    [{ 'x-a': 'ok\r\nInjected: yes' }],
    [{ 'x-a': 'nul\u0000' }],
    [{ 'x-a': ['fine', 'bad\n'] }],
    [{ 'bad name': 'v' }],
    [{ 'x:y': 'v' }],
    [{ 'x-a': { object: true } }],
  ])('rejects %j before anything is sent', (headers) => {
    expect(() => mergeHeaders(undefined, headers as never)).toThrow(InvalidRequestError)
  })

  it('rejects a case-variant duplicate Content-Length', () => {
    expect(() => mergeHeaders(undefined, { 'Content-Length': '1', 'content-length': '2' })).toThrow(
      /more than once/,
    )
  })
})

describe('normalizeMethod', () => {
  it('defaults to GET and upper-cases standard methods', () => {
    expect(normalizeMethod(undefined)).toBe('GET')
    expect(normalizeMethod('post')).toBe('POST')
    expect(normalizeMethod('PROPFIND')).toBe('PROPFIND')
  })

  it.each(['GET\r\n', 'G ET', '', 'GET\u0000', 42])('rejects %j', (method) => {
    expect(() => normalizeMethod(method)).toThrow(InvalidRequestError)
  })

  it('refuses CONNECT', () => {
    expect(() => normalizeMethod('connect')).toThrow(/CONNECT/)
  })
})

/** The record's names and values, without the wire spellings it carries. */
function plain(headers: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(headers))
}

describe('a polluted Object.prototype[Symbol.iterator]', () => {
  it('leaves a plain record a record: its own properties are the headers', () => {
    const proto = Object.prototype as unknown as Record<symbol, unknown>
    proto[Symbol.iterator] = function* () {}
    try {
      expect(normalizeHeaders({ hello: 'world' })).toEqual({ hello: 'world' })
      // A Map still reads as pairs.
      expect(normalizeHeaders(new Map([['a', 'b']]))).toEqual({ a: 'b' })
    } finally {
      delete proto[Symbol.iterator]
    }
  })
})
