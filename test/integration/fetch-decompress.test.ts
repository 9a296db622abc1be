import http from 'node:http'
import type { AddressInfo } from 'node:net'
import zlib from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient, type Client } from '../../src/index.ts'
import { eventually } from './helpers.ts'

// client.fetch decodes as the global fetch does, within limits. The server encodes with Node's
// zlib, as real servers do, and records what each request asked for.

const TEXT = JSON.stringify({
  items: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item ${i}` })),
})
const encoders: Record<string, (input: Buffer) => Buffer> = {
  gzip: (b) => zlib.gzipSync(b),
  deflate: (b) => zlib.deflateSync(b),
  'deflate-raw': (b) => zlib.deflateRawSync(b),
  br: (b) => zlib.brotliCompressSync(b),
  zstd: (b) => zlib.zstdCompressSync(b),
}

let server: http.Server
let url: string
let client: Client
const acceptEncoding: (string | undefined)[] = []

beforeAll(async () => {
  server = http.createServer((request, response) => {
    acceptEncoding.push(request.headers['accept-encoding'])
    const target = new URL(request.url ?? '/', 'http://x')
    // ?codings=gzip,br: applied in order, so Content-Encoding lists them in order.
    const codings = (target.searchParams.get('codings') ?? '').split(',').filter(Boolean)
    let body: Buffer =
      target.pathname === '/bomb' ? Buffer.alloc(64 * 1024 * 1024) : Buffer.from(TEXT)
    for (const coding of codings) body = (encoders[coding] as (b: Buffer) => Buffer)(body)
    const named = codings.map((c) => (c === 'deflate-raw' ? 'deflate' : c))
    // ?label=x-custom: a coding nobody knows, on a body left as it is.
    const label = target.searchParams.get('label')
    if (label !== null) named.push(label)
    response.writeHead(200, {
      'content-type': 'application/json',
      ...(named.length > 0 ? { 'content-encoding': named.join(', ') } : {}),
    })
    response.end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  client = createClient({ origin: url, retry: false })
})

afterAll(async () => {
  await client.destroy()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

describe('client.fetch decompression', () => {
  it.each(['gzip', 'deflate', 'deflate-raw', 'br', 'zstd', 'gzip,br'])(
    'decodes %s as the global fetch does',
    async (codings) => {
      const ours = await client.fetch(`/data?codings=${codings}`)
      const theirs = await fetch(`${url}/data?codings=${codings}`)
      expect(ours.headers.get('content-encoding')).toBe(theirs.headers.get('content-encoding'))
      expect(await ours.text()).toBe(TEXT)
      // The same bytes read as a stream, and by the other helpers.
      const streamed = await client.fetch(`/data?codings=${codings}`)
      expect(await new Response(streamed.body).text()).toBe(TEXT)
      const bytes = await (await client.fetch(`/data?codings=${codings}`)).bytes()
      expect(Buffer.from(bytes).toString()).toBe(TEXT)
      const buffer = await (await client.fetch(`/data?codings=${codings}`)).arrayBuffer()
      expect(Buffer.from(buffer).toString()).toBe(TEXT)
      // Node 22's fetch (undici 6) does not decode zstd; Node 24's does.
      const theirsDecodes =
        codings !== 'zstd' || Number(process.versions.undici?.split('.')[0]) >= 7
      if (theirsDecodes) expect(await theirs.text()).toBe(TEXT)
      else await theirs.arrayBuffer()
    },
  )

  it('asks for what it can decode, unless told otherwise', async () => {
    acceptEncoding.length = 0
    await (await client.fetch('/data')).text()
    await (await client.fetch('/data', { headers: { 'Accept-Encoding': 'identity' } })).text()
    const plain = createClient({ origin: url, decompress: false })
    try {
      await (await plain.fetch('/data')).text()
      // Nothing decoded: the bytes as they came.
      const raw = await plain.fetch('/data?codings=gzip')
      expect(zlib.gunzipSync(Buffer.from(await raw.arrayBuffer())).toString()).toBe(TEXT)
    } finally {
      await plain.close()
    }
    expect(acceptEncoding.slice(0, 3)).toEqual(['gzip, deflate, br, zstd', 'identity', undefined])
  })

  it('stops a gzip bomb at maxRatio, closing the connection, with a typed error', async () => {
    const response = await client.fetch('/bomb?codings=gzip')
    const error = await response.arrayBuffer().catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'NQ_DECOMPRESSION', reason: 'maxRatio' })
    expect((error as { attempts: unknown[] }).attempts).toHaveLength(1)
    await eventually(() => client.stats().origins[0]?.inFlight === 0)
  })

  it('stops a body at maxSize', async () => {
    const small = createClient({ origin: url, decompress: { maxSize: 1000 } })
    try {
      const response = await small.fetch('/data?codings=br')
      await expect(response.text()).rejects.toMatchObject({
        code: 'NQ_DECOMPRESSION',
        reason: 'maxSize',
        message: expect.stringContaining('1000 bytes'),
      })
    } finally {
      await small.destroy()
    }
  })

  it('refuses more than 5 codings, and hands an unknown coding over as received', async () => {
    await expect(client.fetch('/data?codings=gzip,gzip,gzip,gzip,gzip,gzip')).rejects.toMatchObject(
      {
        code: 'NQ_DECOMPRESSION',
        reason: 'codings',
      },
    )
    const unknown = await client.fetch('/data?label=x-custom')
    expect(unknown.headers.get('content-encoding')).toBe('x-custom')
    expect(await unknown.text()).toBe(TEXT)
  })

  it('refuses bad options', () => {
    expect(() => createClient({ decompress: { maxSize: 0 } })).toThrow(/decompress\.maxSize/)
    expect(() => createClient({ decompress: { level: 1 } as never })).toThrow(/decompress\.level/)
    expect(() => createClient({ decompress: 'yes' as never })).toThrow(/decompress/)
  })
})
