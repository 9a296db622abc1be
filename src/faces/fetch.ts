import { Readable } from 'node:stream'
import type { AttemptRecord } from '../core/attempt-record.ts'
import { normalizeHeaders, type HeaderRecord, type HeadersInput } from '../core/headers.ts'
import { normalizeMethod } from '../core/method.ts'
import type { ClientResponse, RequestBody } from '../core/middleware.ts'
import { isReplayableBody } from '../core/request-body.ts'
import {
  InvalidRequestError,
  InvalidResponseError,
  RedirectError,
  describeValue,
  redactUrl,
} from '../errors.ts'
import { CALL_OPTION_NAMES, type CallOptions, type RequestOptions } from '../client-options.ts'
import { deniedAddress, type RedirectPolicy } from './redirect-policy.ts'
import { LazyResponse } from './fetch-response.ts'
import { ACCEPT_ENCODING, decodeBody, decodersFor, type DecompressPolicy } from './decode-body.ts'

/**
 * What `client.fetch` accepts as its second argument: the standard `RequestInit`, plus the
 * netiquette options of a request. `redirect` is honoured (`follow` by default, at most 20);
 * `mode`, `credentials`, `cache`, `referrer`, `referrerPolicy`, `integrity`, `keepalive`,
 * `priority` and `window` mean nothing on a server and are ignored. A `Host` header is replaced
 * by the URL's, as undici's fetch does. The netiquette options are {@link CallOptions}, as
 * `request()` takes them; `deadline` is one deadline for the whole fetch, redirects included.
 */
export interface FetchInit extends RequestInit, CallOptions {}

/**
 * A WHATWG `Response` (the global class) that also carries the call's attempt records, every
 * redirect's included, as `attempts` (not enumerable, so it does not show in logs).
 *
 * @example
 * ```ts
 * const response = await api.fetch('/charges/42')
 * console.log(response.attempts.length, explain(response))
 * ```
 */
export type FetchResponse = Response & { readonly attempts: readonly AttemptRecord[] }

/** @internal What the fetch face needs from its client. */
export interface FetchTarget {
  /** Resolves `url` as a request would (the client's origin, checks), to an absolute URL. */
  resolve(url: string | URL): string
  /**
   * Sends one request through the stack. `crossOrigin` is true once a redirect has left the
   * first origin: the client's own credential headers must not follow it.
   */
  send(url: string, options: RequestOptions, crossOrigin: boolean): Promise<ClientResponse>
  /** Epoch ms, for a deadline that spans redirects. */
  wallNow(): number
  /** The client's `deadline`, in ms. */
  defaultDeadline(): number
  /** The client's `redirect` option, validated. */
  redirect(): RedirectPolicy
  /** The client's `decompress` option, validated. */
  decompress(): DecompressPolicy | false
  /** True when the client's own headers set `name` (lower-case). */
  hasDefaultHeader(name: string): boolean
}

const MAX_REDIRECTS = 20
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])
// Statuses whose response has no body by definition (Fetch's null body status).
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304])
const CONTENT_HEADERS = [
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-location',
]

/** @internal `client.fetch`: the request face, spoken in WHATWG types. */
// Long (about 105 lines): fetch's steps in the order the Fetch standard takes them (request,
// redirect loop, response); one async frame per call rather than one per step.
export async function fetchThrough(
  target: FetchTarget,
  input: string | URL | Request,
  init: FetchInit = {},
): Promise<FetchResponse> {
  const read = readCall(input, init)
  const call = read instanceof Promise ? await read : read
  let url = target.resolve(call.url)
  const started = target.wallNow()
  const attempts: AttemptRecord[] = []
  let crossOrigin = false
  const policy = target.redirect()
  const decompress = target.decompress()
  // As the global fetch: ask for what it can decode, unless the caller (or the client) chose.
  if (
    decompress !== false &&
    call.headers['accept-encoding'] === undefined &&
    !target.hasDefaultHeader('accept-encoding')
  ) {
    call.headers['accept-encoding'] = ACCEPT_ENCODING
  }
  for (let hop = 0; ; hop++) {
    const options: RequestOptions = {
      method: call.method,
      headers: call.headers,
      body: call.body,
      signal: call.signal,
    }
    // The call's options as `request()` takes them: one list for both faces.
    for (const name of CALL_OPTION_NAMES) {
      if (init[name] !== undefined) (options as Record<string, unknown>)[name] = init[name]
    }
    // After the first hop, whatever is left of the first hop's deadline.
    if (hop > 0 && !(init.deadline instanceof Date)) {
      options.deadline = new Date(started + (init.deadline ?? target.defaultDeadline()))
    }
    let response: ClientResponse
    try {
      response = await target.send(url, options, crossOrigin)
    } catch (error) {
      throw withEarlierAttempts(error, attempts)
    }
    attempts.push(...response.attempts)
    const status = response.statusCode
    const location = REDIRECT_STATUSES.has(status)
      ? utf8Location(single(response.headers.location))
      : undefined
    if (location === undefined || call.redirect === 'manual') {
      return toFetchResponse(response, url, hop > 0, attempts, call, decompress)
    }
    // 307 and 308 resend the body; a one-shot stream cannot be, so the redirect goes to the caller.
    if ((status === 307 || status === 308) && !isReplayableBody(call.body)) {
      return toFetchResponse(response, url, hop > 0, attempts, call, decompress)
    }
    void response.body.dump()
    if (call.redirect === 'error') {
      throw new RedirectError(
        `${url} answered ${status} with a redirect to ${location}, and the request said redirect: 'error'`,
        { attempts },
      )
    }
    if (hop >= MAX_REDIRECTS) {
      throw new RedirectError(
        `more than ${MAX_REDIRECTS} redirects in a row, the last from ${url}`,
        {
          attempts,
        },
      )
    }
    const next = URL.canParse(location, url) ? new URL(location, url) : undefined
    if (next === undefined || (next.protocol !== 'http:' && next.protocol !== 'https:')) {
      throw new RedirectError(
        `${url} answered ${status} with Location ${describeValue(location)}, which is not an http(s) URL; not followed`,
        { attempts },
      )
    }
    if (next.username !== '' || next.password !== '') {
      throw new RedirectError(
        `${url} answered ${status} with Location ${describeValue(location)}, which carries credentials; not followed`,
        { attempts },
      )
    }
    const denied = await deniedAddress(next.hostname, policy)
    if (denied !== undefined) {
      throw new RedirectError(
        `${url} answered ${status} with a redirect to ${next.origin}, which is ${denied}, in a refused address range (${policy.denied.join(', ')}); not followed`,
        { attempts },
      )
    }
    next.hash = ''
    // Fetch's rules: 303 turns anything but HEAD into a GET, and 301/302 turn a POST into one.
    if (
      (status === 303 && call.method !== 'GET' && call.method !== 'HEAD') ||
      ((status === 301 || status === 302) && call.method === 'POST')
    ) {
      call.method = 'GET'
      call.body = undefined
      for (const name of CONTENT_HEADERS) delete call.headers[name]
    }
    if (next.origin !== new URL(url).origin) {
      crossOrigin = true
      for (const name of policy.secretHeaders) delete call.headers[name]
    }
    url = next.href
  }
}

type Redirect = NonNullable<RequestInit['redirect']>

interface FetchCall {
  url: string | URL
  method: string
  headers: HeaderRecord
  body: RequestBody | undefined
  signal: AbortSignal | undefined
  redirect: Redirect
}

/**
 * The request `input` and `init` describe, in the client's terms. A promise only when a body must
 * be read first (a `Request`'s, a FormData to encode): a plain call costs no promise here.
 */
function readCall(input: string | URL | Request, init: FetchInit): FetchCall | Promise<FetchCall> {
  if (init === null || typeof init !== 'object') {
    throw new InvalidRequestError(`fetch init: got ${describeValue(init)}, expected an object`)
  }
  if (typeof input === 'string' || input instanceof URL) {
    return withInit(input, 'GET', undefined, undefined, undefined, 'follow', init)
  }
  if (!isRequest(input)) {
    throw new InvalidRequestError(
      `fetch input: got ${describeValue(input)}, expected a URL string, a URL or a Request`,
    )
  }
  const headers = input.headers as Iterable<[string, string]>
  if (init.body !== undefined || input.body === null) {
    return withInit(input.url, input.method, headers, undefined, input.signal, input.redirect, init)
  }
  // Read once into memory, so that a retry can send it again.
  return input
    .arrayBuffer()
    .then((bytes) =>
      withInit(
        input.url,
        input.method,
        headers,
        Buffer.from(bytes),
        input.signal,
        input.redirect,
        init,
      ),
    )
}

/** The call from the input's parts, `init` over them. */
function withInit(
  url: string | URL,
  inputMethod: string,
  inputHeaders: HeadersInput | undefined,
  inputBody: unknown,
  inputSignal: AbortSignal | undefined,
  inputRedirect: Redirect,
  init: FetchInit,
): FetchCall | Promise<FetchCall> {
  // One spelling for the rules below (`post` is POST); a bad method is refused here.
  const method = normalizeMethod(init.method !== undefined ? init.method : inputMethod)
  const headers = init.headers !== undefined ? (init.headers as HeadersInput) : inputHeaders
  const body = init.body !== undefined ? init.body : inputBody
  const signal = init.signal !== undefined ? (init.signal ?? undefined) : inputSignal
  const redirect = init.redirect !== undefined ? init.redirect : inputRedirect
  if (redirect !== 'follow' && redirect !== 'manual' && redirect !== 'error') {
    throw new InvalidRequestError(
      `fetch redirect: got ${describeValue(redirect)}, expected 'follow', 'manual' or 'error'`,
    )
  }
  const record = headers === undefined ? {} : normalizeHeaders(headers)
  // As undici's fetch: the Host header is the URL's, whatever the caller set.
  delete record.host
  if (signal?.aborted === true && isWebStream(body)) {
    // As fetch: a request that is aborted before it starts cancels its stream body.
    void body.cancel(signal.reason).catch(noop)
  }
  if (body !== undefined && body !== null && (method === 'GET' || method === 'HEAD')) {
    throw new InvalidRequestError(`a ${method} request cannot have a body`)
  }
  const call: FetchCall = { url, method, headers: record, body: undefined, signal, redirect }
  if (isFormData(body))
    return encodeFormData(body, record).then((encoded) => withBody(call, encoded))
  call.body = toRequestBody(body, record)
  return call
}

function withBody(call: FetchCall, body: RequestBody): FetchCall {
  call.body = body
  return call
}

/**
 * A FormData encoded by the platform's own encoder (undici's dispatch takes only its own
 * FormData), which also makes it replayable: a boundary from crypto, and the right content type.
 * undici's own FormData (another class than the global one on Node 24) is copied into a global one.
 */
async function encodeFormData(body: FormData, headers: HeaderRecord): Promise<Buffer> {
  const encoded = new Response(body instanceof FormData ? body : globalFormData(body))
  headers['content-type'] ??= encoded.headers.get('content-type') as string
  return Buffer.from(await encoded.arrayBuffer())
}

/**
 * A fetch body other than a FormData as the transport sends it, setting `content-type` as fetch
 * would when the caller did not. A URLSearchParams is encoded here, which makes it replayable.
 */
function toRequestBody(body: unknown, headers: HeaderRecord): RequestBody | undefined {
  if (body === undefined || body === null) return undefined
  if (typeof body === 'string') {
    headers['content-type'] ??= 'text/plain;charset=UTF-8'
    return body
  }
  if (body instanceof URLSearchParams) {
    headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8'
    return body.toString()
  }
  if (body instanceof Blob) {
    if (body.type !== '') headers['content-type'] ??= body.type
    return body
  }
  if (ArrayBuffer.isView(body) || body instanceof ArrayBuffer) return body
  if (body instanceof Readable || body instanceof ReadableStream) {
    return body as Readable
  }
  if (typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
    return body as AsyncIterable<Uint8Array>
  }
  throw new InvalidRequestError(
    `fetch body: got ${describeValue(body)}, expected a string, Buffer, ArrayBuffer, typed array, Blob, FormData, URLSearchParams or stream`,
  )
}

/**
 * The client's response as a WHATWG Response whose body becomes a web stream only if it is
 * asked for one ({@link LazyResponse}).
 */
function toFetchResponse(
  response: ClientResponse,
  url: string,
  redirected: boolean,
  attempts: readonly AttemptRecord[],
  call: Pick<FetchCall, 'method' | 'signal'>,
  decompress: DecompressPolicy | false,
): FetchResponse {
  const { method, signal } = call
  const status = response.statusCode
  if (status < 200 || status > 599) {
    // A WHATWG Response holds 200-599 only. Close the connection now: nobody will read the body.
    response.body.destroy()
    throw new InvalidResponseError(
      `${redactUrl(url)} answered with status ${status}, outside the 200-599 a fetch Response can hold; use client.request to read such a response`,
      { attempts, statusCode: status },
    )
  }
  if (redirected) {
    // The body's error carries this hop's attempts; the caller's story starts at the first hop.
    response.body.once('error', (error) => {
      if (typeof error === 'object' && error !== null) {
        ;(error as { attempts?: readonly AttemptRecord[] }).attempts = attempts
      }
    })
  }
  let body: Readable | undefined
  if (method === 'HEAD' || NULL_BODY_STATUSES.has(status)) {
    void response.body.dump()
  } else {
    let decoders: ReturnType<typeof decodersFor>
    try {
      decoders =
        decompress === false
          ? undefined
          : decodersFor(joined(response.headers['content-encoding']), attempts)
    } catch (error) {
      response.body.destroy()
      throw error
    }
    body =
      decoders === undefined
        ? response.body
        : decodeBody(response.body, decoders, decompress as DecompressPolicy, attempts)
  }
  const result = new LazyResponse(
    null,
    body,
    status,
    response.statusText,
    url,
    redirected,
    attempts,
    signal,
  )
  try {
    const { headers } = result
    const record = response.headers
    for (const name in record) {
      const value = record[name]
      if (typeof value === 'string') headers.append(name, value)
      else if (Array.isArray(value)) for (const item of value) headers.append(name, item)
    }
  } catch (error) {
    response.body.destroy()
    throw new InvalidResponseError(
      `${redactUrl(url)} answered with a header a fetch Headers object cannot hold (${(error as Error).message})`,
      { attempts, statusCode: status, cause: error },
    )
  }
  return result as unknown as FetchResponse
}

/** A header's values as `Headers.get` joins them. */
function joined(value: string | string[] | undefined): string | null {
  if (value === undefined) return null
  return typeof value === 'string' ? value : value.join(', ')
}

/** An error from a later hop also carries the attempts of the redirects before it. */
function withEarlierAttempts(error: unknown, earlier: readonly AttemptRecord[]): unknown {
  if (earlier.length === 0 || typeof error !== 'object' || error === null) return error
  const carrier = error as { attempts?: readonly AttemptRecord[] }
  carrier.attempts = [...earlier, ...(carrier.attempts ?? [])]
  return error
}

/**
 * A `Location` sent as raw UTF-8 (undici reads header bytes as Latin-1) read as UTF-8, as
 * browsers and undici's fetch do: `/안녕` is followed to `/%EC%95%88%EB%85%95`, not to the
 * percent-encoding of its Latin-1 misreading.
 */
function utf8Location(location: string | undefined): string | undefined {
  if (location === undefined || !/[\u0080-\uffff]/.test(location)) return location
  return Buffer.from(location, 'latin1').toString('utf8')
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

/** A FormData of any realm or copy of undici: the global one, or `undici.FormData`. */
function isFormData(value: unknown): value is FormData {
  return (
    value instanceof FormData ||
    (typeof value === 'object' &&
      value !== null &&
      Object.prototype.toString.call(value) === '[object FormData]' &&
      typeof (value as FormData).entries === 'function')
  )
}

function globalFormData(form: FormData): FormData {
  const copy = new FormData()
  for (const [name, value] of form.entries()) {
    if (typeof value === 'string') copy.append(name, value)
    else copy.append(name, value, (value as File).name)
  }
  return copy
}

// Global Request or undici's own: both have these.
function isRequest(value: unknown): value is Request {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Request).url === 'string' &&
    typeof (value as Request).method === 'string' &&
    typeof (value as Request).arrayBuffer === 'function'
  )
}

function isWebStream(value: unknown): value is ReadableStream {
  return value instanceof ReadableStream
}

function noop(): void {}
