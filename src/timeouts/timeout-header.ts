/**
 * The header a client sends with the time left for the attempt, in whole milliseconds
 * (`x-deadline-remaining-ms: 4870`). Relative, not a timestamp: the clocks of two hosts differ,
 * and a relative value only loses the one-way network delay. The name says both that it is a
 * deadline's remainder and its unit; it cannot be mistaken for a connect timeout.
 */
export const DEFAULT_DEADLINE_HEADER = 'x-deadline-remaining-ms'

/** gRPC's header: an integer of at most 8 digits and a unit, e.g. `250m` or `30S`. */
export const GRPC_TIMEOUT_HEADER = 'grpc-timeout'

/** The header Envoy sets on requests it forwards: the route's timeout, in milliseconds. */
export const ENVOY_TIMEOUT_HEADER = 'x-envoy-expected-rq-timeout-ms'

const GRPC_UNITS: Record<string, number> = {
  H: 3_600_000,
  M: 60_000,
  S: 1_000,
  m: 1,
  u: 0.001,
  n: 0.000_001,
}
const GRPC_VALUE = /^(\d{1,8})([HMSmun])$/
// Ten digits is over three months in ms; anything longer is not a deadline anyone meant.
const MILLIS_VALUE = /^\d{1,10}$/

/**
 * The value to send in `header` for `ms` milliseconds left: `grpc-timeout` in gRPC's format,
 * any other header as whole milliseconds. Never negative; rounded down, so the next hop is never
 * told it has more time than it does.
 */
export function formatTimeoutHeader(header: string, ms: number): string {
  const whole = ms > 0 ? Math.floor(ms) : 0
  if (header !== GRPC_TIMEOUT_HEADER) return String(whole)
  // gRPC requires a positive value of at most 8 digits.
  if (whole <= 99_999_999) return `${Math.max(1, whole)}m`
  return `${Math.floor(whole / 1000)}S`
}

/**
 * Parses one header value into milliseconds left, or `undefined` for anything that is not a
 * well-formed value of that header's format (negative numbers, decimals, units it does not have,
 * several values, a value that is not a string). Never throws.
 */
export function parseTimeoutHeader(header: string, value: string): number | undefined {
  if (typeof value !== 'string') return undefined
  const text = value.trim()
  if (header === GRPC_TIMEOUT_HEADER) {
    const match = GRPC_VALUE.exec(text)
    if (match === null) return undefined
    return Number(match[1]) * (GRPC_UNITS[match[2] as string] as number)
  }
  return MILLIS_VALUE.test(text) ? Number(text) : undefined
}
