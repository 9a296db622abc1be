import { InvalidRequestError, describeValue } from '../errors.ts'
import { HTTP_TOKEN } from './headers.ts'

const STANDARD = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'OPTIONS',
  'TRACE',
  'PATCH',
  'QUERY',
])

/**
 * Validates a request method and upper-cases the standard ones (`get` becomes `GET`), so every
 * policy compares one spelling. Other methods keep their case: methods are case-sensitive.
 * CONNECT is refused: it opens a tunnel, which no policy here can retry or time.
 */
export function normalizeMethod(method: unknown): string {
  if (method === undefined) return 'GET'
  if (typeof method !== 'string' || !HTTP_TOKEN.test(method)) {
    throw new InvalidRequestError(
      `method ${describeValue(method)} is not a valid HTTP token (letters, digits, no spaces, CR, LF or NUL)`,
    )
  }
  if (STANDARD.has(method)) return method
  const upper = method.toUpperCase()
  if (upper === 'CONNECT') {
    throw new InvalidRequestError('method CONNECT is not supported; use undici.connect for tunnels')
  }
  return STANDARD.has(upper) ? upper : method
}
