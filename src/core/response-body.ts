import { Readable, type ReadableOptions } from 'node:stream'
import { AbortedError, BodyUsedError, InvalidOptionError } from '../errors.ts'

/** Bytes `dump()` reads to keep a socket; past this, closing it is cheaper. Same as undici. */
const DEFAULT_DUMP_LIMIT = 128 * 1024

/** @internal Registers a function run once the response has been received to its end (or failed). */
export const kWhenComplete = Symbol('netiquette.whenComplete')
/** @internal Called by the transport when undici has delivered the whole body (or failed). */
export const kComplete = Symbol('netiquette.complete')

/**
 * @internal Runs `callback` once `body` has been received to its end or has failed; at once for a
 * body that is not a {@link ResponseBody} (a middleware replaced it), since nothing will say when
 * that one is done.
 */
export function whenBodyComplete(body: unknown, callback: () => void): void {
  if (body instanceof ResponseBody) body[kWhenComplete](callback)
  else callback()
}

/** @internal Hands the body's chunks to a {@link BodyConsumer} instead of the stream. */
export const kConsume = Symbol('netiquette.consume')
/** @internal Asks the source for more after a {@link BodyConsumer} paused it. */
export const kResumeSource = Symbol('netiquette.resumeSource')

/**
 * @internal A reader that takes a body's chunks directly, as they arrive, without the stream's
 * buffer and events: the dispatcher face's handler, the web body. It needs no 'error' listener
 * (which would make the stream): a failure comes to `error`.
 */
export interface BodyConsumer {
  /** A chunk of the body. Returns false to pause the source until `body[kResumeSource]()`. */
  data(chunk: Buffer): boolean
  /** The body has been received to its end. */
  end(): void
  /** The body failed, or was destroyed, before its end. */
  error(error: Error): void
}

/** How a {@link ResponseBody} talks to the request that feeds it. */
export interface ResponseBodySource {
  /** Asks for more data after the consumer drained the buffer (undici's `controller.resume()`). */
  resume: () => void
  /** Stops the request: the body was destroyed before it ended. */
  abort: (reason: Error) => void
  /** Bytes buffered before the source is paused. */
  highWaterMark?: number
  contentType?: string
}

// Readable's prototype under a constructor that makes no stream state. A ResponseBody makes its
// state on the first use of the stream API (see `_readableState` below): most bodies are read by a
// helper or a face, and never pay for the stream's state, its ticks and its events.
function DeferredReadable(): void {}
DeferredReadable.prototype = Object.create(Readable.prototype, {
  constructor: { value: DeferredReadable, writable: true, configurable: true },
})
Object.setPrototypeOf(DeferredReadable, Readable)
const StreamBase = DeferredReadable as unknown as typeof Readable
const initReadable = Readable as unknown as (this: Readable, options: ReadableOptions) => void

/**
 * A response body: a Node `Readable` of Buffers with the consuming helpers of undici's own body
 * (`text()`, `json()`, `arrayBuffer()`, `bytes()`, `blob()`, `dump()`), so code written against
 * `undici.request` keeps working. Each helper reads the body once; a second read rejects with
 * `BodyUsedError` (`NQ_BODY_USED`).
 *
 * Destroying it before it ends aborts the request and closes its socket.
 *
 * The stream itself is made when something first uses it (a listener, `pipe`, `for await`,
 * `destroyed`...): a body read by a helper costs no stream. A body read to its end by a helper
 * and used as a stream afterwards ends then ('end' and 'close' follow).
 */
export class ResponseBody extends StreamBase {
  readonly #source: ResponseBodySource
  readonly #highWaterMark: number
  // True once the stream's state has been made (the stream API was used).
  #hasState = false
  // True when a helper or a consumer took the whole body: a stream made later starts ended.
  #drained = false
  #used = false
  #complete = false
  #eof = false
  // Usually one callback (the client's), so no array until a second one registers.
  #whenComplete: (() => void) | (() => void)[] | undefined
  // While a helper (text(), json()...) reads the body, chunks go straight here instead of through
  // the stream's buffer and 'data' events, as undici's own body does: it saves several
  // microseconds per 64 KiB response.
  #sink: Sink | undefined
  #consumer: BodyConsumer | undefined
  // Chunks that arrived before anyone read the stream. They enter the stream's buffer only when a
  // stream reader asks (`_read`): a helper or a consumer takes them as they are, and a small body
  // that arrived whole costs no trip through the stream's machinery.
  #early: Buffer[] | undefined
  #earlyLength = 0
  // True once the stream has been asked for data: from then on chunks go through it.
  #streaming = false

  constructor(source: ResponseBodySource) {
    if (typeof source?.resume !== 'function' || typeof source.abort !== 'function') {
      throw new InvalidOptionError('source', source, 'an object with resume() and abort()')
    }
    super()
    this.#source = source
    this.#highWaterMark = source.highWaterMark ?? 64 * 1024
  }

  /**
   * @internal Where Node's stream code finds the stream's state, which this makes on first use.
   * Every Readable method and helper reads it from here, so the stream behaves as one made eagerly.
   */
  get _readableState(): unknown {
    initReadable.call(this, { highWaterMark: this.#highWaterMark })
    if (this.#drained) this.#endStream()
    return (this as unknown as { _readableState: unknown })._readableState
  }

  set _readableState(state: unknown) {
    // Readable's constructor sets it: from then on an own property, read without this accessor.
    Object.defineProperty(this, '_readableState', {
      value: state,
      writable: true,
      configurable: true,
      enumerable: true,
    })
    this.#hasState = true
  }

  /** Ends the stream of a body whose bytes a helper or a consumer has taken: 'end' and 'close' follow. */
  #endStream(): void {
    this.#drained = false
    this.#streaming = true
    super.push(null)
    this.resume()
  }

  /** A helper or a consumer has taken the whole body: end the stream, or let a later one start ended. */
  #drain(): void {
    if (this.#hasState) this.#endStream()
    else this.#drained = true
  }
  /** True once a helper or a reader has started consuming the body. */
  get bodyUsed(): boolean {
    return this.#used || (this.#hasState && Readable.isDisturbed(this))
  }

  override push(chunk: Buffer | null, encoding?: BufferEncoding): boolean {
    const consumer = this.#consumer
    if (consumer !== undefined) {
      if (chunk !== null) return consumer.data(chunk)
      this.#eof = true
      this.#consumer = undefined
      consumer.end()
      this.#drain()
      return false
    }
    if (!this.#streaming && this.#sink === undefined) {
      if (chunk === null) {
        this.#eof = true
        return false
      }
      // Most bodies are one chunk: a literal of one, not an empty array's 17 slots.
      if (this.#early === undefined) this.#early = [chunk]
      else this.#early.push(chunk)
      this.#earlyLength += chunk.length
      return this.#earlyLength < this.#highWaterMark
    }
    const sink = this.#sink
    if (chunk === null) {
      this.#eof = true
      if (sink !== undefined) {
        this.#sink = undefined
        sink.resolve({ chunks: sink.chunks, length: sink.length })
        // A stream, if one was made, emits 'end' and 'close' like a stream read to its end.
        this.#drain()
        return false
      }
      return super.push(null)
    }
    if (sink !== undefined) {
      sink.chunks.push(chunk)
      sink.length += chunk.length
      return true
    }
    return super.push(chunk, encoding)
  }

  override _read(): void {
    if (!this.#streaming) {
      this.#streaming = true
      const early = this.#takeEarly()
      if (early !== undefined) for (const chunk of early) super.push(chunk)
      if (this.#eof) {
        super.push(null)
        return
      }
    }
    this.#source.resume()
  }

  /** The chunks that arrived before anyone read the stream, now taken out of it. */
  #takeEarly(): Buffer[] | undefined {
    const early = this.#early
    this.#early = undefined
    this.#earlyLength = 0
    return early
  }

  /**
   * @internal Hands every chunk, from now on and any that arrived before, to `consumer` instead of
   * the stream, and marks the body used. False (nothing done) when the body has been read, is
   * being read or has failed: then read the stream.
   */
  [kConsume](consumer: BodyConsumer): boolean {
    if (this.#streaming || this.#used) return false
    if (this.#hasState && (this.destroyed || Readable.isDisturbed(this))) return false
    this.#used = true
    const early = this.#takeEarly()
    // The consumer is the reader from here: a destroy while it takes the early chunks (its
    // handler threw, it aborted) reaches it as an error, and stops the hand-over.
    this.#consumer = consumer
    let more = true
    if (early !== undefined) {
      for (const chunk of early) {
        if (this.#consumer !== consumer) return true
        more = consumer.data(chunk)
      }
    }
    if (this.#consumer !== consumer) return true
    if (this.#eof) {
      this.#consumer = undefined
      consumer.end()
      this.#drain()
      return true
    }
    if (more) this.#source.resume()
    return true
  }

  /** @internal See {@link BodyConsumer.data}. */
  [kResumeSource](): void {
    this.#source.resume()
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // A consumer hears of it here, and nothing more is handed to it. It was the body's reader:
    // the stream's 'error' then needs no listener of its own to be handled.
    const consumer = this.#consumer
    this.#consumer = undefined
    if (consumer !== undefined) {
      this.on('error', noop)
      // On the next tick, as the stream's 'error' would come: never inside the consumer's own
      // callback that destroyed the body.
      const failure = error ?? bodyDestroyed()
      process.nextTick(() => consumer.error(failure))
    }
    this.#early = undefined
    if (!this.#complete) {
      this.#source.abort(error ?? bodyDestroyed())
    }
    const sink = this.#sink
    if (sink !== undefined) {
      this.#sink = undefined
      sink.reject(error ?? bodyDestroyed())
    }
    callback(error)
  }

  // The helpers chain on the collection rather than being async functions: one promise per read
  // instead of three nested ones (arrayBuffer awaiting bytes awaiting the collection).

  /** Reads the whole body as UTF-8 text. */
  text(): Promise<string> {
    return this.#collect().then(textOf)
  }

  /** Reads the whole body and parses it as JSON. */
  json(): Promise<unknown> {
    return this.#collect().then(jsonOf)
  }

  /** Reads the whole body into an ArrayBuffer of exactly its size. */
  arrayBuffer(): Promise<ArrayBuffer> {
    return this.#collect().then(arrayBufferOf)
  }

  /** Reads the whole body into a Uint8Array that owns its memory (one copy, as undici). */
  bytes(): Promise<Uint8Array> {
    return this.#collect().then(bytesOf)
  }

  /** Reads the whole body into a Blob typed with the response's content type. */
  async blob(): Promise<Blob> {
    const { chunks } = await this.#collect()
    return new Blob(chunks, { type: this.#source.contentType ?? '' })
  }

  /**
   * Discards the body so its socket can serve another request: reads up to `limit` bytes and
   * throws them away; past that, destroys the body (and its socket), since reading on would cost
   * more than a new connection. Resolves once the body is closed; never rejects for a body error.
   *
   * @param options.limit - bytes read at most. @defaultValue 131072 (128 KiB, as undici)
   */
  async dump(options: { limit?: number } = {}): Promise<void> {
    const limit = options.limit ?? DEFAULT_DUMP_LIMIT
    if (!this.#hasState && !this.#used && this.#eof) {
      // The whole body is here and nobody streams it: nothing to read, no stream to make.
      this.#used = true
      this.#takeEarly()
      this.#drain()
      return
    }
    if (this.destroyed || this.readableEnded) return
    let read = 0
    await new Promise<void>((resolve) => {
      this.once('close', resolve)
      this.on('error', noop)
      this.on('data', (chunk: Buffer) => {
        read += chunk.length
        if (read > limit) this.destroy()
      })
    })
  }

  /** @internal */
  [kWhenComplete](callback: () => void): void {
    if (this.#complete) callback()
    else if (this.#whenComplete === undefined) this.#whenComplete = callback
    else if (typeof this.#whenComplete === 'function') {
      // Room for four: the default stack's deadline, limiter and client, and an attempt timeout
      // (a literal of two grown by push reserves 20 slots: 144 B more).
      const callbacks = [this.#whenComplete, callback, undefined, undefined]
      callbacks.length = 2
      this.#whenComplete = callbacks as (() => void)[]
    } else this.#whenComplete.push(callback)
  }

  /** @internal */
  [kComplete](): void {
    if (this.#complete) return
    this.#complete = true
    const callbacks = this.#whenComplete
    this.#whenComplete = undefined
    if (typeof callbacks === 'function') callbacks()
    else if (callbacks !== undefined) for (const callback of callbacks) callback()
  }

  #collect(): Promise<Collected> {
    // A body that failed before anyone read it (a reset, the deadline, an abort) answers with
    // that failure, as undici's does, not with "already read".
    if (!this.#used && this.#hasState && this.destroyed) {
      this.#used = true
      return Promise.reject(this.errored ?? bodyDestroyed())
    }
    if (this.bodyUsed) {
      return Promise.reject(
        new BodyUsedError(
          'the response body has already been read; a body can be consumed once (keep the first result)',
        ),
      )
    }
    this.#used = true
    if (!this.#streaming && this.#eof) {
      // The whole body arrived before anyone read it: no stream read at all. The stream still
      // ends ('end', 'close'), as a body read to its end does.
      const length = this.#earlyLength
      const chunks = this.#takeEarly() ?? []
      this.#drain()
      return Promise.resolve({ chunks, length })
    }
    return new Promise<Collected>((resolve, reject) => {
      // A failure reaches it from _destroy (the stream's 'error' may have no listener).
      const sink: Sink = { chunks: [], length: 0, resolve, reject }
      // Whatever arrived before the helper was called: first the chunks nobody asked the stream
      // for, then whatever is in the stream's buffer.
      const early = this.#takeEarly()
      if (early !== undefined) {
        for (const chunk of early) {
          sink.chunks.push(chunk)
          sink.length += chunk.length
        }
      }
      if (this.#hasState) {
        for (let chunk = this.read() as Buffer | null; chunk !== null; chunk = this.read()) {
          sink.chunks.push(chunk)
          sink.length += chunk.length
        }
      }
      if (this.#eof) {
        resolve({ chunks: sink.chunks, length: sink.length })
        this.resume()
        return
      }
      this.#sink = sink
      // The source may have been paused by a full buffer; the sink takes everything.
      this.#source.resume()
    })
  }
}

function textOf({ chunks, length }: Collected): string {
  if (chunks.length === 1) return (chunks[0] as Buffer).toString('utf8')
  return Buffer.concat(chunks, length).toString('utf8')
}

function jsonOf(collected: Collected): unknown {
  return JSON.parse(textOf(collected)) as unknown
}

function bytesOf({ chunks, length }: Collected): Uint8Array {
  return joinChunks(chunks, length)
}

/** @internal `chunks` copied into one Uint8Array of its own ArrayBuffer, `length` bytes. */
export function joinChunks(chunks: readonly Buffer[], length: number): Uint8Array<ArrayBuffer> {
  // Over an ArrayBuffer made first: a small Uint8Array made alone lives in the heap, and asking
  // for its `.buffer` (arrayBuffer()) then moves it out at several times the cost of the copy.
  // A large one is not zeroed first, as undici's own: every byte is written below (`length` is
  // the chunks' sum), and zeroing 64 KiB cost 2 µs of a 10 µs copy on the development VM.
  const bytes = new Uint8Array(
    length < UNZEROED_FROM ? new ArrayBuffer(length) : Buffer.allocUnsafeSlow(length).buffer,
  )
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.length
  }
  // Chunks short of `length` (a caller's mistake) leave zeros, never what the memory held.
  if (offset < length) bytes.fill(0, offset)
  return bytes
}

// Below 4 KiB a zeroed ArrayBuffer costs what an unzeroed one does (about 700 ns on the
// development VM, nearly all of it the allocation); at 16 KiB it costs a third more.
const UNZEROED_FROM = 4096

function arrayBufferOf(collected: Collected): ArrayBuffer {
  return bytesOf(collected).buffer as ArrayBuffer
}

interface Collected {
  chunks: Buffer[]
  length: number
}

interface Sink extends Collected {
  resolve: (collected: Collected) => void
  reject: (error: unknown) => void
}

function bodyDestroyed(): AbortedError {
  return new AbortedError('the response body was destroyed before it was read to its end')
}

function noop(): void {}
