import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatTimeoutHeader, parseTimeoutHeader } from '../../src/timeouts/timeout-header.ts'

describe('formatTimeoutHeader', () => {
  it('writes whole milliseconds, rounded down, never negative', () => {
    expect(formatTimeoutHeader('x-deadline-remaining-ms', 994.9)).toBe('994')
    expect(formatTimeoutHeader('x-deadline-remaining-ms', -20)).toBe('0')
    expect(formatTimeoutHeader('x-deadline-remaining-ms', Number.NaN)).toBe('0')
  })

  it("writes grpc-timeout in gRPC's format: positive, at most 8 digits", () => {
    expect(formatTimeoutHeader('grpc-timeout', 250.7)).toBe('250m')
    expect(formatTimeoutHeader('grpc-timeout', 0)).toBe('1m')
    expect(formatTimeoutHeader('grpc-timeout', 2_147_483_647)).toBe('2147483S')
  })

  it('round-trips through parseTimeoutHeader without ever growing', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('x-deadline-remaining-ms', 'grpc-timeout'),
        fc.double({ min: -1e6, max: 2_147_483_647, noNaN: true }),
        (header, ms) => {
          const text = formatTimeoutHeader(header, ms)
          const parsed = parseTimeoutHeader(header, text)
          expect(parsed).toBeDefined()
          expect(parsed).toBeGreaterThanOrEqual(0)
          // Rounded down: the next hop never hears of more time than there is (gRPC's 1 ms floor
          // aside, which only applies once nothing is left).
          if (ms >= 1) expect(parsed).toBeLessThanOrEqual(ms)
        },
      ),
    )
  })
})

describe('parseTimeoutHeader', () => {
  it('reads the gRPC units', () => {
    expect(parseTimeoutHeader('grpc-timeout', '2H')).toBe(7_200_000)
    expect(parseTimeoutHeader('grpc-timeout', '3M')).toBe(180_000)
    expect(parseTimeoutHeader('grpc-timeout', '1S')).toBe(1000)
    expect(parseTimeoutHeader('grpc-timeout', '250m')).toBe(250)
    expect(parseTimeoutHeader('grpc-timeout', '1500u')).toBe(1.5)
    expect(parseTimeoutHeader('grpc-timeout', '2000000n')).toBe(2)
  })

  it.each([
    ['x-deadline-remaining-ms', '-5'],
    ['x-deadline-remaining-ms', '1.5'],
    ['x-deadline-remaining-ms', '1e3'],
    ['x-deadline-remaining-ms', '12345678901'],
    ['x-deadline-remaining-ms', 'soon'],
    ['x-deadline-remaining-ms', ''],
    ['x-deadline-remaining-ms', '100, 200'],
    ['grpc-timeout', '100'],
    ['grpc-timeout', '123456789m'],
    ['grpc-timeout', '-1S'],
    ['grpc-timeout', '1s'],
    ['grpc-timeout', 'm'],
  ])('ignores %s: %j', (header, value) => {
    expect(parseTimeoutHeader(header, value)).toBeUndefined()
  })

  it('never throws and returns a finite, non-negative number or undefined for any text', () => {
    fc.assert(
      fc.property(fc.constantFrom('x-a', 'grpc-timeout'), fc.string(), (header, value) => {
        const parsed = parseTimeoutHeader(header, value)
        if (parsed !== undefined) {
          expect(Number.isFinite(parsed)).toBe(true)
          expect(parsed).toBeGreaterThanOrEqual(0)
        }
      }),
      { numRuns: 5_000 },
    )
  })
})
