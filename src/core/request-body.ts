import { Readable } from 'node:stream'
import { BodyNotReplayableError } from '../errors.ts'
import type { RequestBody, RequestBodyValue } from './middleware.ts'

/**
 * True when `body` can be sent again byte for byte: no body, a string, bytes (Buffer, typed array,
 * ArrayBuffer), a Blob, a FormData or an array of chunks, which undici reads afresh on each
 * dispatch; or a factory that makes a new body per attempt. A stream, an async iterable or any
 * other iterator is read as it is sent, so it can be sent only once.
 */
export function isReplayableBody(body: RequestBody | undefined): boolean {
  if (body === undefined || body === null) return true
  switch (typeof body) {
    case 'string':
    case 'function':
      return true
    case 'object':
      return (
        ArrayBuffer.isView(body) ||
        body instanceof ArrayBuffer ||
        body instanceof Blob ||
        Array.isArray(body) ||
        (body as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'FormData'
      )
    default:
      return false
  }
}

/**
 * The body to dispatch for one attempt: the factory's fresh body, or the body itself. A stream
 * that has already been read from (or destroyed) is refused with `BodyNotReplayableError`: undici
 * would send what is left of it, and a partial or empty body must never go out in place of the
 * real one.
 */
export function bodyForAttempt(body: RequestBody | undefined): RequestBodyValue | undefined {
  const value = typeof body === 'function' ? body() : body
  if (
    typeof value === 'object' &&
    value !== null &&
    isStreamLike(value) &&
    Readable.isDisturbed(value)
  ) {
    throw new BodyNotReplayableError(
      typeof body === 'function'
        ? 'the body factory returned a stream that has already been read; it must make a new stream on each call'
        : 'the request body is a stream that has already been read, so it cannot be sent in full; pass a fresh stream, or a factory `() => stream`',
    )
  }
  return value
}

// Node's Readable.isDisturbed also reads web ReadableStreams; its types name only Node's.
function isStreamLike(value: object): value is NodeJS.ReadableStream {
  return (
    typeof (value as { pipe?: unknown }).pipe === 'function' ||
    typeof (value as { getReader?: unknown }).getReader === 'function'
  )
}
