import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { InvalidOptionError } from '../../src/index.ts'
import { parseInboundDeadline } from '../../src/timeouts/inbound-deadline.ts'

describe('parseInboundDeadline', () => {
  it('reads our header, grpc-timeout and Envoy’s header, and takes the smallest', () => {
    expect(parseInboundDeadline({ 'x-deadline-remaining-ms': '800' })).toBe(800)
    expect(parseInboundDeadline({ 'grpc-timeout': '2S' })).toBe(2000)
    expect(parseInboundDeadline({ 'x-envoy-expected-rq-timeout-ms': '1500' })).toBe(1500)
    expect(
      parseInboundDeadline({
        'x-deadline-remaining-ms': '800',
        'grpc-timeout': '700m',
        'x-envoy-expected-rq-timeout-ms': '15000',
      }),
    ).toBe(700)
  })

  it('returns undefined without a header, or the fallback when one is set', () => {
    expect(parseInboundDeadline({ host: 'a' })).toBeUndefined()
    expect(parseInboundDeadline({ host: 'a' }, { fallback: 10_000 })).toBe(10_000)
  })

  it('ignores garbage and keeps the valid values', () => {
    expect(parseInboundDeadline({ 'x-deadline-remaining-ms': '-3' })).toBeUndefined()
    expect(parseInboundDeadline({ 'x-deadline-remaining-ms': 'NaN', 'grpc-timeout': '5S' })).toBe(
      5000,
    )
    // A header sent twice, as Node joins it, or as an array: the smallest valid value counts.
    expect(parseInboundDeadline({ 'x-deadline-remaining-ms': '900, junk, 400' })).toBe(400)
    expect(parseInboundDeadline({ 'x-deadline-remaining-ms': ['900', '450'] })).toBe(450)
  })

  it('caps absurd values at max', () => {
    expect(parseInboundDeadline({ 'x-deadline-remaining-ms': '9999999999' })).toBe(300_000)
    expect(parseInboundDeadline({ 'grpc-timeout': '99999999H' }, { max: 60_000 })).toBe(60_000)
  })

  it('reads only the headers it is told to', () => {
    const headers = { 'grpc-timeout': '1S', 'connect-timeout-ms': '300' }
    expect(parseInboundDeadline(headers, { headers: ['connect-timeout-ms'] })).toBe(300)
  })

  it('never throws on any headers a caller can send', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom(
            'x-deadline-remaining-ms',
            'grpc-timeout',
            'x-envoy-expected-rq-timeout-ms',
          ),
          fc.oneof(fc.string(), fc.array(fc.string())),
        ),
        (headers) => {
          const ms = parseInboundDeadline(headers)
          if (ms !== undefined) expect(ms >= 0 && ms <= 300_000).toBe(true)
        },
      ),
      { numRuns: 2_000 },
    )
  })

  it.each([
    ['headers', { headers: [] }],
    ['headers', { headers: ['X-Upper'] }],
    ['max', { max: 0 }],
    ['fallback', { fallback: -1 }],
    ['clock', { clock: {} }],
    ['maximum', { maximum: 5 }],
  ])('rejects a bad %s option', (option, options) => {
    const error = (() => {
      try {
        parseInboundDeadline({}, options as never)
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(InvalidOptionError)
    expect((error as InvalidOptionError).option).toBe(option)
  })
})
