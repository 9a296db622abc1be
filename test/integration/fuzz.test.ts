// faults.md item 35, after undici's test/fuzzing: a raw server answers with random bytes, split at
// random points, through all three faces. Only typed errors may escape; no unhandled rejection, no
// uncaught exception, no call left in flight.
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request as undiciRequest } from 'undici'
import {
  NetiquetteError,
  createClient,
  type AttemptRecord,
  type ClientOptions,
} from '../../src/index.ts'
import { createRawServer, type RawServer } from '../support/raw-server.ts'

/** What the server writes for the current run: chunks, one per turn of its event loop. */
let chunks: Uint8Array[] = []
let raw: RawServer
const escaped: unknown[] = []
const onEscape = (error: unknown) => escaped.push(error)

beforeAll(async () => {
  raw = await createRawServer((socket) => {
    const script = chunks
    let i = 0
    const next = () => {
      if (socket.destroyed) return
      if (i === script.length) return void socket.end()
      socket.write(script[i++] as Uint8Array, () => setImmediate(next))
    }
    next()
  })
  process.on('unhandledRejection', onEscape)
  process.on('uncaughtException', onEscape)
})

afterAll(async () => {
  process.off('unhandledRejection', onEscape)
  process.off('uncaughtException', onEscape)
  await raw.close()
})

const ascii = (text: string) => new Uint8Array(Buffer.from(text, 'latin1'))

/** Bytes that reach the parser's deeper states more often than uniform noise would. */
const responseBytes = fc.oneof(
  fc.uint8Array({ maxLength: 512 }),
  fc.uint8Array({ maxLength: 256 }).map((tail) => new Uint8Array([...ascii('HTTP/1.1 '), ...tail])),
  fc
    .record({
      status: fc.integer({ min: 0, max: 1099 }),
      headers: fc.array(
        fc.oneof(
          fc.nat({ max: 300 }).map((n) => `content-length: ${n}`),
          fc.constant('transfer-encoding: chunked'),
          fc.constant('connection: close'),
          fc.constant('content-encoding: gzip'),
          fc.string({ maxLength: 20 }).map((v) => `x-junk: ${v}`),
        ),
        { maxLength: 4 },
      ),
      body: fc.uint8Array({ maxLength: 300 }),
    })
    .map(
      ({ status, headers, body }) =>
        new Uint8Array([
          ...ascii(`HTTP/1.1 ${status} Fuzz\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`),
          ...body,
        ]),
    ),
)

/** `bytes` cut at the given points (each taken modulo the length). */
function split(bytes: Uint8Array, points: number[]): Uint8Array[] {
  const cuts = [...new Set(points.map((p) => (bytes.length === 0 ? 0 : p % bytes.length)))]
  cuts.sort((a, b) => a - b)
  const pieces: Uint8Array[] = []
  let from = 0
  for (const cut of cuts) {
    if (cut > from) pieces.push(bytes.subarray(from, cut))
    from = Math.max(from, cut)
  }
  pieces.push(bytes.subarray(from))
  return pieces
}

/** Only what a caller can handle: a netiquette error, or an undici error class, with attempts. */
function isTyped(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const { name, code, attempts } = error as Error & {
    code?: unknown
    attempts?: readonly AttemptRecord[]
  }
  const named = error instanceof NetiquetteError || typeof code === 'string' || name !== 'Error'
  return named && name !== 'TypeError' && name !== 'RangeError' && Array.isArray(attempts)
}

describe('random responses through every face (faults.md 35)', () => {
  it('only typed errors escape, nothing crashes, and no call is left in flight', async () => {
    const options: ClientOptions = {
      retry: { baseDelay: 1, maxDelay: 2 },
      breaker: false,
      deadline: 5_000,
    }
    const client = createClient({ origin: raw.url, ...options })
    const open = createClient(options)
    const untyped: unknown[] = []
    await fc.assert(
      fc.asyncProperty(
        responseBytes,
        fc.array(fc.nat(), { maxLength: 4 }),
        fc.constantFrom('request', 'fetch', 'dispatcher'),
        async (bytes, points, face) => {
          chunks = split(bytes, points)
          try {
            if (face === 'request') await (await client.request('/')).body.text()
            else if (face === 'fetch') await (await client.fetch('/')).arrayBuffer()
            else
              await (
                await undiciRequest(`${raw.url}/`, { dispatcher: open.dispatcher })
              ).body.text()
          } catch (error) {
            if (!isTyped(error)) untyped.push(error)
          }
        },
      ),
      { numRuns: 400, seed: 17 },
    )
    expect(untyped).toEqual([])
    expect(escaped).toEqual([])
    for (const c of [client, open]) {
      expect(c.stats().origins.reduce((sum, o) => sum + o.inFlight, 0)).toBe(0)
      await c.close()
    }
  })
})
