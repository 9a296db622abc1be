import type { Attributes } from '@opentelemetry/api'
import type { AttemptRecord } from '../core/attempt-record.ts'

/**
 * The attributes the HTTP semantic conventions give `http.client.request.duration`: one value
 * per attempt, low-cardinality. `error.type` is the error's code (`ECONNRESET`,
 * `NQ_ATTEMPT_TIMEOUT`), or the status code for a 4xx or 5xx, as the conventions ask.
 * `network.protocol.version` is `'1.1'` or `'2'` when the attempt record knows it.
 */
export function semanticAttributes(attempt: AttemptRecord): Attributes {
  const url = originParts(attempt.origin)
  const attributes: Attributes = {
    'http.request.method': KNOWN_METHODS.has(attempt.method) ? attempt.method : '_OTHER',
    'server.address': url.hostname,
    'server.port': url.port,
    'url.scheme': url.scheme,
  }
  if (attempt.statusCode !== undefined) {
    attributes['http.response.status_code'] = attempt.statusCode
    if (attempt.statusCode >= 400) attributes['error.type'] = String(attempt.statusCode)
  } else {
    attributes['error.type'] = attempt.error ?? '_OTHER'
  }
  // Known only for connections the client made itself (its default agent).
  if (attempt.protocol !== undefined) attributes['network.protocol.version'] = attempt.protocol
  return attributes
}

// The conventions' known methods; any other is reported as `_OTHER` (cardinality).
const KNOWN_METHODS = new Set([
  'CONNECT',
  'DELETE',
  'GET',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'POST',
  'PUT',
  'TRACE',
  'QUERY',
])

const originCache = new Map<string, { hostname: string; port: number; scheme: string }>()

/** `https://api.internal` as host, port and scheme; few origins, so parsed once each. */
function originParts(origin: string): { hostname: string; port: number; scheme: string } {
  let parts = originCache.get(origin)
  if (parts === undefined) {
    const url = new URL(origin)
    const scheme = url.protocol.slice(0, -1)
    parts = {
      // An IPv6 literal without its brackets, as the conventions write addresses.
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port === '' ? (scheme === 'https' ? 443 : 80) : Number(url.port),
      scheme,
    }
    if (originCache.size < 1024) originCache.set(origin, parts)
  }
  return parts
}
