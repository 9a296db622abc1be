import { Transform, pipeline, type Readable, type TransformCallback } from 'node:stream'
import zlib from 'node:zlib'
import type { AttemptRecord } from '../core/attempt-record.ts'
import { DecompressionError, InvalidOptionError } from '../errors.ts'
import { checkKnownKeys, intInRange, isPlainObject, numberInRange } from '../core/validate.ts'

/**
 * How `client.fetch` decodes compressed responses, as the global fetch does, within limits the
 * global fetch does not have.
 */
export interface DecompressOptions {
  /**
   * Most bytes a body may decode to. Past it the body errors with `DecompressionError`
   * (`limit: 'maxSize'`) and the connection is closed.
   * @defaultValue 33554432 (32 MiB): `client.fetch` bodies are usually read whole into memory;
   *   a larger one is a download, for `client.request`, which decodes nothing
   */
  maxSize?: number
  /**
   * Most decoded bytes per received byte, checked once a body has decoded to 1 MiB. Text and
   * JSON compress 3 to 20 times, very repetitive data about 100; a decompression bomb 1,000
   * times and more.
   * @defaultValue 200
   */
  maxRatio?: number
}

/** @internal Validated {@link DecompressOptions}. */
export interface DecompressPolicy {
  readonly maxSize: number
  readonly maxRatio: number
}

/** The defaults of {@link DecompressOptions}, with their reasons in its TSDoc. */
export const DEFAULT_DECOMPRESS: Readonly<Required<DecompressOptions>> = Object.freeze({
  maxSize: 32 * 1024 * 1024,
  maxRatio: 200,
})

// Codings nested deeper than this are an attack, not an encoding (undici's fetch refuses too).
const MAX_CODINGS = 5
// Below this, a high ratio is harmless: a small, very compressible body.
const RATIO_FLOOR = 1024 * 1024

const DECODERS: Record<string, (() => Transform) | undefined> = {
  gzip: () => zlib.createGunzip(GZIP_OPTIONS),
  'x-gzip': () => zlib.createGunzip(GZIP_OPTIONS),
  deflate: () => new InflateEither(),
  br: () => zlib.createBrotliDecompress({ flush: zlib.constants.BROTLI_OPERATION_FLUSH }),
  // Node ≥ 22.15 and 23.8 have zstd; the engines field asks for 22.19.
  zstd:
    typeof zlib.createZstdDecompress === 'function'
      ? () => zlib.createZstdDecompress() as unknown as Transform
      : undefined,
}

// As undici's fetch: lenient on a body that ends early, as browsers are.
const GZIP_OPTIONS = {
  flush: zlib.constants.Z_SYNC_FLUSH,
  finishFlush: zlib.constants.Z_SYNC_FLUSH,
}

/** The `Accept-Encoding` `client.fetch` sends unless the request sets one, as the global fetch. */
export const ACCEPT_ENCODING = `gzip, deflate, br${DECODERS.zstd === undefined ? '' : ', zstd'}`

/** @internal Validates the client's `decompress` option. */
export function resolveDecompress(option: unknown): DecompressPolicy | false {
  if (option === false) return false
  if (option === undefined || option === true) return DEFAULT_DECOMPRESS
  if (!isPlainObject(option)) {
    throw new InvalidOptionError(
      'decompress',
      option,
      'true, false or an object { maxSize, maxRatio }',
    )
  }
  checkKnownKeys('decompress', option, Object.keys(DEFAULT_DECOMPRESS))
  return {
    maxSize: intInRange(
      'decompress.maxSize',
      option.maxSize,
      1,
      Number.MAX_SAFE_INTEGER,
      DEFAULT_DECOMPRESS.maxSize,
    ),
    maxRatio: numberInRange(
      'decompress.maxRatio',
      option.maxRatio,
      1,
      Number.MAX_SAFE_INTEGER,
      DEFAULT_DECOMPRESS.maxRatio,
    ),
  }
}

/**
 * @internal The codings of a `Content-Encoding` value in the order to undo them (last applied
 * first), or `undefined` when one is unknown: the body is then handed over as received, as the
 * global fetch does. Throws past {@link MAX_CODINGS}.
 */
export function decodersFor(
  contentEncoding: string | null,
  attempts: readonly AttemptRecord[],
): (() => Transform)[] | undefined {
  if (contentEncoding === null) return undefined
  const codings = contentEncoding
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity')
  if (codings.length === 0) return undefined
  if (codings.length > MAX_CODINGS) {
    throw new DecompressionError(
      `the response has ${codings.length} content codings; at most ${MAX_CODINGS} are decoded`,
      { attempts, reason: 'codings' },
    )
  }
  const decoders: (() => Transform)[] = []
  for (const coding of codings.reverse()) {
    const decoder = DECODERS[coding]
    if (decoder === undefined) return undefined
    decoders.push(decoder)
  }
  return decoders
}

/**
 * @internal `body` through `decoders`, metered: the result errors with `DecompressionError`
 * once the decoded size or ratio passes `policy`, which destroys `body` and closes its
 * connection. A decoder's error (corrupt data) ends the result the same way.
 */
export function decodeBody(
  body: Readable,
  decoders: readonly (() => Transform)[],
  policy: DecompressPolicy,
  attempts: readonly AttemptRecord[],
): Readable {
  let received = 0
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length
      callback(null, chunk)
    },
  })
  const meter = new Meter(policy, () => received, attempts)
  const decoding = decoders.map((make) => make())
  for (const decoder of decoding) {
    // zlib's own error (`Z_DATA_ERROR`) would reach the reader untyped: name it. This listener
    // comes before pipeline's, so the reader sees this error first.
    decoder.once('error', (error: Error) => {
      meter.destroy(
        new DecompressionError(
          `the response body is not valid for its Content-Encoding (${error.message})`,
          { attempts, reason: 'corrupt', cause: error },
        ),
      )
    })
  }
  const stages = [body, counter, ...decoding, meter] as const
  // pipeline destroys every stage when one fails: the response body too, so its socket closes.
  pipeline(stages as unknown as [Readable, Transform], noop)
  return meter
}

/** Counts decoded bytes and stops the stream at the first limit passed. */
class Meter extends Transform {
  #decoded = 0
  readonly #policy: DecompressPolicy
  readonly #received: () => number
  readonly #attempts: readonly AttemptRecord[]

  constructor(
    policy: DecompressPolicy,
    received: () => number,
    attempts: readonly AttemptRecord[],
  ) {
    super()
    this.#policy = policy
    this.#received = received
    this.#attempts = attempts
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#decoded += chunk.length
    const { maxSize, maxRatio } = this.#policy
    if (this.#decoded > maxSize) {
      callback(
        new DecompressionError(
          `the response body decodes to more than ${maxSize} bytes (decompress.maxSize); stopped there`,
          { attempts: this.#attempts, reason: 'maxSize' },
        ),
      )
      return
    }
    const received = Math.max(1, this.#received())
    if (this.#decoded > RATIO_FLOOR && this.#decoded / received > maxRatio) {
      callback(
        new DecompressionError(
          `the response body decodes to ${this.#decoded} bytes from ${received} received, more than ${maxRatio} times (decompress.maxRatio): a decompression bomb; stopped there`,
          { attempts: this.#attempts, reason: 'maxRatio' },
        ),
      )
      return
    }
    callback(null, chunk)
  }
}

/**
 * `deflate` as servers send it: zlib-wrapped (RFC 1950) as the standard says, or raw (RFC 1951)
 * as some servers do; the first byte tells which, as in undici's fetch.
 */
class InflateEither extends Transform {
  #inner: Transform | undefined

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#inner === undefined) {
      // A zlib header's first byte has compression method 8 in its low nibble.
      this.#inner =
        ((chunk[0] ?? 0) & 0x0f) === 0x08
          ? zlib.createInflate(GZIP_OPTIONS)
          : zlib.createInflateRaw(GZIP_OPTIONS)
      this.#inner.on('data', (data: Buffer) => this.push(data))
      this.#inner.on('error', (error: Error) => this.destroy(error))
    }
    this.#inner.write(chunk, callback)
  }

  override _flush(callback: TransformCallback): void {
    if (this.#inner === undefined) {
      callback()
      return
    }
    this.#inner.once('end', () => callback())
    this.#inner.end()
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#inner?.destroy()
    callback(error)
  }
}

function noop(): void {}
