import {
  CrossOriginError,
  InvalidOptionError,
  InvalidRequestError,
  describeValue,
} from '../errors.ts'

/** Where a request goes: the origin to connect to and the request target sent to it. */
export interface Target {
  origin: string
  path: string
}

// undici's own rule for a request target: printable, no space, no control characters.
const INVALID_PATH = /[^\u0021-\u00ff]/
// C0 controls and DEL, which the URL parser strips or encodes silently.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/

/**
 * Resolves what the caller passed as a URL against the client's origin.
 *
 * With an origin, only a path (`/charges/42`) or an absolute URL on that same origin is accepted.
 * Anything naming another scheme, host or port (`http://evil/`, `//evil/`, `/\evil`) is rejected
 * with {@link CrossOriginError}, never re-targeted, so a path built from user input cannot send the
 * client's credentials elsewhere. Without an origin, the URL must be absolute http(s).
 *
 * With a `prefix` (the path of an origin option such as `https://api.example.com/v1`, as axios's
 * `baseURL` and got's `prefixUrl`), a path is sent under it (`/charges` goes to `/v1/charges`),
 * and whatever would leave it is refused with {@link CrossOriginError} as another origin is: a
 * `.` or `..` segment in a path (also percent-encoded, or after a backslash), an absolute URL
 * whose path is not under the prefix.
 */
export function resolveTarget(
  baseOrigin: string | undefined,
  url: string | URL,
  prefix = '',
): Target {
  if (typeof url === 'string') {
    if (url.charCodeAt(0) === 0x2f /* / */) {
      const second = url.charCodeAt(1)
      if (second === 0x2f || second === 0x5c /* \ */) {
        // A scheme-relative reference names a host; the URL parser reads `/\` like `//`.
        throw new CrossOriginError(
          `request URL ${describeValue(url)} names a host; expected a path starting with a single "/"`,
        )
      }
      if (baseOrigin === undefined) {
        throw new InvalidRequestError(
          `request URL ${describeValue(url)} is a path but the client has no origin; pass an absolute URL or set the client's origin`,
        )
      }
      const path = checkedPath(stripFragment(url), url)
      if (prefix === '') return { origin: baseOrigin, path }
      if (climbs(path)) {
        throw new CrossOriginError(
          `request path ${describeValue(url)} has a "." or ".." segment, which could leave the client's path prefix ${prefix}; expected a path under it`,
        )
      }
      return { origin: baseOrigin, path: prefix + path }
    }
    // The URL parser drops tabs, CR and LF and percent-encodes NUL: the request would go to
    // another path than the one written. Refused as in the path form.
    if (CONTROL.test(url)) throw invalidPath(url)
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      throw new InvalidRequestError(
        `request URL ${describeValue(url)} is not a valid absolute URL or a path starting with "/"`,
      )
    }
    return fromUrl(baseOrigin, parsed, url, prefix)
  }
  if (url instanceof URL) return fromUrl(baseOrigin, url, url.href, prefix)
  throw new InvalidRequestError(`request URL must be a string or a URL, got ${describeValue(url)}`)
}

function fromUrl(baseOrigin: string | undefined, url: URL, shown: string, prefix: string): Target {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidRequestError(
      `request URL ${describeValue(shown)} has scheme ${url.protocol}; expected http: or https:`,
    )
  }
  if (baseOrigin !== undefined && url.origin !== baseOrigin) {
    throw new CrossOriginError(
      `request URL ${describeValue(shown)} is on ${url.origin}, not on the client's origin ${baseOrigin}`,
    )
  }
  if (url.username !== '' || url.password !== '') {
    throw new InvalidRequestError(
      `request URL ${describeValue(url.origin)} carries credentials; send them in a header instead`,
    )
  }
  if (prefix !== '' && !underPrefix(url.pathname, prefix)) {
    throw new CrossOriginError(
      `request URL ${describeValue(shown)} is not under the client's path prefix ${prefix}`,
    )
  }
  // An empty query (`/echo?`) has `search` '' but is part of the URL: undici and fetch send it.
  const query = url.search === '' && stripFragment(url.href).endsWith('?') ? '?' : url.search
  return { origin: url.origin, path: checkedPath(url.pathname + query, shown) }
}

/** `pathname` is the prefix itself or below it (`/v1`, `/v1/x`; not `/v10`). */
function underPrefix(pathname: string, prefix: string): boolean {
  return (
    pathname.startsWith(prefix) &&
    (pathname.length === prefix.length || pathname.charCodeAt(prefix.length) === 0x2f) /* / */
  )
}

// A `.` or `..` path segment, also as `%2e`, between `/` or `\` (servers that read a backslash
// as a separator would climb with it) and the end of the path or its query.
const DOT_SEGMENT = /[/\\](?:\.|%2e){1,2}(?=[/\\?]|$)/i

/** True when `path` has a `.` or `..` segment before its query. */
function climbs(path: string): boolean {
  const q = path.indexOf('?')
  return DOT_SEGMENT.test(q === -1 ? path : path.slice(0, q))
}

function stripFragment(path: string): string {
  const hash = path.indexOf('#')
  return hash === -1 ? path : path.slice(0, hash)
}

function checkedPath(path: string, shown: string): string {
  if (INVALID_PATH.test(path)) throw invalidPath(shown)
  return path
}

function invalidPath(shown: string): InvalidRequestError {
  return new InvalidRequestError(
    `request URL ${describeValue(shown)} contains a space, control character (CR, LF, NUL) or non-Latin-1 character; percent-encode it`,
  )
}

/**
 * Validates a client's `origin` option: an http(s) origin with an optional path prefix, without
 * query, fragment or credentials. Returns the origin normalized (`scheme://host[:port]`) and the
 * prefix without its trailing slash (`''` for none), or `undefined` when it is not one.
 */
export function parseBase(value: string | URL): { origin: string; prefix: string } | undefined {
  let url: URL
  try {
    url = typeof value === 'string' ? new URL(value) : value
  } catch {
    return undefined
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    return undefined
  }
  if (INVALID_PATH.test(url.pathname)) return undefined
  return { origin: url.origin, prefix: url.pathname.replace(/\/+$/, '') }
}

/**
 * Validates an origin (`scheme://host[:port]`, no path) and returns it normalized, or
 * `undefined` when it is not an http(s) origin without path or query.
 */
export function parseOrigin(value: string | URL): string | undefined {
  const base = parseBase(value)
  return base === undefined || base.prefix !== '' ? undefined : base.origin
}

/**
 * The origin a `client.circuits` or `client.limiters` method means: `value`'s origin (a full URL
 * may name it), or the client's `origin` when `value` is left out.
 */
export function originKey(
  value: string | URL | undefined,
  defaultOrigin: string | undefined,
): string {
  if (value === undefined) {
    if (defaultOrigin !== undefined) return defaultOrigin
    throw new InvalidOptionError('origin', value, 'an origin (the client has no `origin` option)')
  }
  const parsed =
    typeof value === 'string' || value instanceof URL ? parseOrigin(originOnly(value)) : undefined
  if (parsed === undefined) {
    throw new InvalidOptionError(
      'origin',
      value instanceof URL ? value.href : value,
      'an http: or https: origin such as "https://api.internal:8443"',
    )
  }
  return parsed
}

/** The origin part of a URL string or URL, so that a full URL may name its origin. */
function originOnly(value: string | URL): string | URL {
  try {
    const url = typeof value === 'string' ? new URL(value) : value
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : value
  } catch {
    return value
  }
}
