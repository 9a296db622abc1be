import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  parseHttpDate,
  parseRateLimitReset,
  parseRetryAfter,
  serverRetryHint,
} from '../../src/core/retry-after.ts'

const NOW = Date.UTC(2026, 10, 24, 12, 0, 0)
const CAP = 30_000

describe('parseRetryAfter', () => {
  it('reads whole seconds', () => {
    expect(parseRetryAfter('2', NOW, CAP)).toBe(2000)
    expect(parseRetryAfter('0', NOW, CAP)).toBe(0)
    expect(parseRetryAfter(' 007 ', NOW, CAP)).toBe(7000)
  })

  it('reads the three HTTP-date forms, relative to the wall clock', () => {
    expect(parseRetryAfter('Tue, 24 Nov 2026 12:00:05 GMT', NOW, CAP)).toBe(5000)
    expect(parseRetryAfter('Tuesday, 24-Nov-26 12:00:05 GMT', NOW, CAP)).toBe(5000)
    expect(parseRetryAfter('Tue Nov 24 12:00:05 2026', NOW, CAP)).toBe(5000)
    expect(parseRetryAfter('Tue Nov  4 12:00:05 2026', NOW, CAP)).toBe(0)
  })

  it('reads a date in the past as now', () => {
    expect(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', NOW, CAP)).toBe(0)
  })

  it('cuts a long wait to the cap', () => {
    expect(parseRetryAfter('3600', NOW, CAP)).toBe(CAP)
    expect(parseRetryAfter('9'.repeat(400), NOW, CAP)).toBe(CAP)
    expect(parseRetryAfter('Fri, 01 Jan 2100 00:00:00 GMT', NOW, CAP)).toBe(CAP)
  })

  it.each(['soon', '-1', '1e12', '1.5', '', '  ', '+3', '0x10', 'Infinity', 'NaN', '2 s'])(
    'gives no hint for junk: %j',
    (value) => {
      expect(parseRetryAfter(value, NOW, CAP)).toBeUndefined()
    },
  )

  it.each([
    'Tue, 24 Nov 2026 25:00:00 GMT',
    'Tue, 31 Feb 2026 12:00:00 GMT',
    'Tue, 24 Nov 2026 12:00:00 UTC',
    'Tue, 24 Nov 2026 12:00:00',
    '2026-11-24T12:00:05Z',
    'soon 2026',
  ])('gives no hint for a malformed date: %j', (value) => {
    expect(parseRetryAfter(value, NOW, CAP)).toBeUndefined()
  })

  it('maps any string to a delay within the cap, or to no hint (property)', () => {
    const dates = fc
      .date({ min: new Date(0), max: new Date(Date.UTC(2200, 0)), noInvalidDate: true })
      .map((d) => d.toUTCString())
    const values = fc.oneof(
      fc.string(),
      fc.stringMatching(/^\s*-?\d{0,400}(\.\d*)?(e\d+)?\s*$/),
      dates,
      fc.tuple(dates, fc.string()).map(([d, s]) => d + s),
    )
    fc.assert(
      fc.property(values, fc.integer({ min: 0, max: 2 ** 31 - 1 }), (value, cap) => {
        const delay = parseRetryAfter(value, NOW, cap)
        if (delay === undefined) return
        expect(Number.isFinite(delay)).toBe(true)
        expect(delay).toBeGreaterThanOrEqual(0)
        expect(delay).toBeLessThanOrEqual(cap)
      }),
      { numRuns: 10_000 },
    )
  })
})

describe('parseHttpDate', () => {
  it('places an RFC 850 two-digit year within 50 years ahead', () => {
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', NOW)).toBe(
      Date.UTC(1994, 10, 6, 8, 49, 37),
    )
    expect(parseHttpDate('Monday, 06-Nov-45 08:49:37 GMT', NOW)).toBe(
      Date.UTC(2045, 10, 6, 8, 49, 37),
    )
  })
})

describe('parseRateLimitReset', () => {
  it('reads seconds from now, epoch seconds and epoch ms', () => {
    expect(parseRateLimitReset('3', NOW, CAP)).toBe(3000)
    expect(parseRateLimitReset('0.5', NOW, CAP)).toBe(500)
    expect(parseRateLimitReset(String(NOW / 1000 + 4), NOW, CAP)).toBe(4000)
    expect(parseRateLimitReset(String(NOW + 1500), NOW, CAP)).toBe(1500)
    expect(parseRateLimitReset(String(NOW / 1000 - 60), NOW, CAP)).toBe(0)
    expect(parseRateLimitReset('-3', NOW, CAP)).toBeUndefined()
    expect(parseRateLimitReset('later', NOW, CAP)).toBeUndefined()
  })
})

describe('serverRetryHint', () => {
  it('prefers Retry-After, on any status', () => {
    const headers = { 'retry-after': '2', 'ratelimit-reset': '5' }
    expect(serverRetryHint(503, headers, NOW, CAP)).toEqual({
      delay: 2000,
      header: 'retry-after',
      value: '2',
    })
    expect(serverRetryHint(500, { 'retry-after': '1' }, NOW, CAP)?.delay).toBe(1000)
  })

  it('reads RateLimit-Reset, then X-RateLimit-Reset, on a 429 only', () => {
    const headers = { 'ratelimit-reset': '5', 'x-ratelimit-reset': '9' }
    expect(serverRetryHint(429, headers, NOW, CAP)?.header).toBe('ratelimit-reset')
    expect(serverRetryHint(429, { 'x-ratelimit-reset': '9' }, NOW, CAP)?.delay).toBe(9000)
    // GitHub sends its quota window's reset on every response: not a wait on a 503.
    expect(serverRetryHint(503, headers, NOW, CAP)).toBeUndefined()
  })

  it('falls through a junk Retry-After to the rate-limit headers, and ignores repeated headers', () => {
    expect(
      serverRetryHint(429, { 'retry-after': 'soon', 'ratelimit-reset': '5' }, NOW, CAP),
    ).toEqual({ delay: 5000, header: 'ratelimit-reset', value: '5' })
    expect(serverRetryHint(503, { 'retry-after': ['1', '2'] }, NOW, CAP)).toBeUndefined()
  })
})
