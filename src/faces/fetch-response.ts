import type { AttemptRecord } from '../core/attempt-record.ts'
import type { Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { ResponseBody, joinChunks } from '../core/response-body.ts'
import { toWebBody } from './web-body.ts'

// The global Response, typed as a class whose members this one may override (the DOM types
// declare them as properties); the platform's own are called through `platform` below.
const PlatformResponse = Response as unknown as new (
  body: ReadableStream<Uint8Array> | null,
  init: ResponseInit,
) => Pick<Response, 'status' | 'ok' | 'headers' | 'type'>
const platform = Response.prototype
const platformBody = platformGetter('body') as (this: unknown) => ReadableStream<Uint8Array> | null
const platformBodyUsed = platformGetter('bodyUsed') as (this: unknown) => boolean

function platformGetter(name: string): (this: unknown) => unknown {
  const getter = Object.getOwnPropertyDescriptor(platform, name)?.get
  if (getter === undefined) throw new Error(`Response.prototype.${name} is not a getter here`)
  return getter
}

/**
 * @internal The `Response` `client.fetch` resolves with: the global class, plus the call's url,
 * redirect flag and attempt records (getters on the prototype, so `attempts` is not enumerable
 * and shows in no log).
 *
 * Its body is read without a WHATWG stream until someone asks for one. `text()`, `json()`,
 * `arrayBuffer()` and `bytes()` read the client's body directly, as `client.request`'s helpers
 * do; `body`, `blob()`, `formData()` and `clone()` make the byte stream first and from then on
 * everything goes through it. Most responses are read by a helper, and the stream, its
 * controller, its reader and a promise per chunk were most of what `client.fetch` cost beyond
 * `client.request`.
 */
export class LazyResponse extends PlatformResponse {
  readonly #url: string
  readonly #redirected: boolean
  readonly #attempts: readonly AttemptRecord[]
  readonly #statusText: string
  readonly #signal: AbortSignal | undefined
  // The body while nobody has asked for a stream (the client's, or the stream that decodes it):
  // undefined once `#stream()` made one, or when the response was built with its stream (or
  // none) to begin with.
  #source: Readable | undefined
  // The Response that carries the stream made from `#source`, with this one's headers.
  #streamed: Response | undefined
  // True once a helper read `#source`.
  #read = false

  constructor(
    stream: ReadableStream<Uint8Array> | null,
    source: Readable | undefined,
    status: number,
    statusText: string,
    url: string,
    redirected: boolean,
    attempts: readonly AttemptRecord[],
    signal: AbortSignal | undefined,
  ) {
    // The reason phrase is whatever the server sent: the constructor would refuse control and
    // non-Latin-1 characters in it, and undici's fetch hands it through unchecked. So does the
    // getter below; the constructor gets none.
    super(stream, { status })
    this.#source = source
    this.#statusText = statusText
    this.#url = url
    this.#redirected = redirected
    this.#attempts = attempts
    this.#signal = signal
  }

  get url(): string {
    return this.#url
  }

  get redirected(): boolean {
    return this.#redirected
  }

  get statusText(): string {
    return this.#statusText
  }

  /** Every attempt of the call, every redirect's included. */
  get attempts(): readonly AttemptRecord[] {
    return this.#attempts
  }

  get body(): ReadableStream<Uint8Array> | null {
    return this.#stream()?.body ?? platformBody.call(this)
  }

  get bodyUsed(): boolean {
    if (this.#read) return true
    return this.#streamed?.bodyUsed ?? platformBodyUsed.call(this)
  }

  text(): Promise<string> {
    return this.#helper(readText) ?? this.#streamed?.text() ?? platform.text.call(this)
  }

  json(): Promise<unknown> {
    return this.#helper(readJson) ?? this.#streamed?.json() ?? platform.json.call(this)
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    return (
      this.#helper(readArrayBuffer) ??
      this.#streamed?.arrayBuffer() ??
      platform.arrayBuffer.call(this)
    )
  }

  bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return (this.#helper(readBytes) ??
      this.#streamed?.bytes() ??
      platform.bytes.call(this)) as Promise<Uint8Array<ArrayBuffer>>
  }

  blob(): Promise<Blob> {
    if (this.#read) return Promise.reject(bodyUnusable())
    return this.#stream()?.blob() ?? platform.blob.call(this)
  }

  formData(): Promise<FormData> {
    if (this.#read) return Promise.reject(bodyUnusable())
    return this.#stream()?.formData() ?? platform.formData.call(this)
  }

  clone(): Response {
    if (this.#read) throw bodyUnusable()
    // The platform's clone tees the stream; the copy is decorated as this one is.
    const copy = this.#stream()?.clone() ?? platform.clone.call(this)
    const decorated = new LazyResponse(
      copy.body,
      undefined,
      this.status,
      this.#statusText,
      this.#url,
      this.#redirected,
      this.#attempts,
      undefined,
    )
    for (const [name, value] of this.headers) decorated.headers.append(name, value)
    return decorated
  }

  /**
   * A helper's read of the client's body, while nobody has asked for a stream; undefined when
   * the body is a stream (or none) and the platform's helper reads it.
   */
  #helper<T>(read: (body: Readable) => Promise<T>): Promise<T> | undefined {
    if (this.#read) return Promise.reject(bodyUnusable())
    const source = this.#source
    if (source === undefined) return undefined
    this.#read = true
    const signal = this.#signal
    if (signal === undefined) return read(source)
    // As fetch: an abort after the response errors the body with the signal's reason until it
    // has been read to its end, even when every byte has arrived.
    if (signal.aborted) {
      source.destroy()
      return Promise.reject(signal.reason as Error)
    }
    // An abort while the read is under way wins, even over a read that ends on its next step
    // (every byte had arrived): its promise has not been handed over yet.
    return read(source).then(
      (value) => (signal.aborted ? Promise.reject(signal.reason as Error) : value),
      (error: unknown) => Promise.reject(signal.aborted ? (signal.reason as Error) : error),
    )
  }

  /**
   * The Response that carries the body as a byte stream, made on first call (then every read
   * goes through it); undefined when this one was built with its stream, or with none.
   */
  #stream(): Response | undefined {
    const source = this.#source
    if (source !== undefined) {
      this.#source = undefined
      // After a helper's read, the stream ends when the body does; bodyUsed stays true.
      this.#streamed = new Response(toWebBody(source, this.#read ? undefined : this.#signal), {
        status: this.status,
        headers: this.headers,
      })
    }
    return this.#streamed
  }
}

// A ResponseBody is read by its own helpers, which take its chunks without a stream; a decoding
// stream by its 'data' events.

// Fetch decodes text as UTF-8 without its byte order mark; a Buffer's toString keeps it.
function readText(body: Readable): Promise<string> {
  const text =
    body instanceof ResponseBody
      ? body.text()
      : readAll(body).then((chunks) => Buffer.concat(chunks).toString('utf8'))
  return text.then(withoutBom)
}

function readJson(body: Readable): Promise<unknown> {
  return readText(body).then(JSON.parse)
}

function readArrayBuffer(body: Readable): Promise<ArrayBuffer> {
  if (body instanceof ResponseBody) return body.arrayBuffer()
  return readBytes(body).then((bytes) => bytes.buffer)
}

function readBytes(body: Readable): Promise<Uint8Array<ArrayBuffer>> {
  if (body instanceof ResponseBody) return body.bytes() as Promise<Uint8Array<ArrayBuffer>>
  return readAll(body).then(joinBytes)
}

/** Every chunk of `body`; rejects with its error, or if it closes before its end. */
function readAll(body: Readable): Promise<Buffer[]> {
  const chunks: Buffer[] = []
  body.on('data', (chunk: Buffer) => chunks.push(chunk))
  return finished(body).then(() => chunks)
}

/** The chunks in a Uint8Array of its own ArrayBuffer, exactly their size. */
function joinBytes(chunks: Buffer[]): Uint8Array<ArrayBuffer> {
  let length = 0
  for (const chunk of chunks) length += chunk.length
  return joinChunks(chunks, length)
}

function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
}

// The global fetch's words for a body read twice.
function bodyUnusable(): TypeError {
  return new TypeError('Body is unusable: Body has already been read')
}
