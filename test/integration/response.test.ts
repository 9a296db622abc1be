import { once } from 'node:events'
import { finished } from 'node:stream/promises'
import { Agent } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { AbortedError, InvalidOptionError, createClient, type Client } from '../../src/index.ts'
import { createFaultServer, type FaultServer } from '../../src/testing/index.ts'
import { createBlockingServer } from '../support/blocking-server.ts'
import { eventually } from './helpers.ts'

let server: FaultServer
let client: Client

beforeEach(async () => {
  server = await createFaultServer()
  client = createClient({ origin: server.url })
})

afterEach(async () => {
  await client.destroy()
  await server.close()
})

describe('response bodies', () => {
  it('offers undici-style helpers, each reading the body once', async () => {
    server.route('/json', { body: '{"a":1}', headers: { 'content-type': 'application/json' } })
    expect(await (await client.request('/json')).body.json()).toEqual({ a: 1 })
    expect(new TextDecoder().decode(await (await client.request('/json')).body.bytes())).toBe(
      '{"a":1}',
    )
    expect((await (await client.request('/json')).body.arrayBuffer()).byteLength).toBe(7)
    const blob = await (await client.request('/json')).body.blob()
    expect(blob.type).toBe('application/json')
    const res = await client.request('/json')
    await res.body.text()
    expect(res.body.bodyUsed).toBe(true)
    await expect(res.body.text()).rejects.toMatchObject({ code: 'NQ_BODY_USED' })
  })

  it('reads a body that had fully arrived before the helper was called', async () => {
    server.route('/early', { body: 'x'.repeat(1000) })
    const res = await client.request('/early')
    // The attempt's duration is set when undici has delivered the whole body.
    await eventually(() => res.attempts[0]?.duration !== undefined)
    expect(await res.body.text()).toBe('x'.repeat(1000))
    if (!res.body.closed) await once(res.body, 'close')
    // Read by a helper without a trip through the stream, it still ended as a stream does.
    expect(res.body.readableEnded).toBe(true)
  })

  it('a body a helper has read is an ended stream to code that uses it as one afterwards', async () => {
    server.route('/read', { body: 'hello' })
    const res = await client.request('/read')
    expect(await res.body.text()).toBe('hello')
    // The stream is made only now, by the first use of the stream API: it starts ended.
    await finished(res.body)
    const chunks: unknown[] = []
    for await (const chunk of res.body) chunks.push(chunk)
    expect(chunks).toEqual([])
    expect(res.body.readableEnded).toBe(true)
  })

  it('dump() of a body that has arrived whole keeps its connection for the next call', async () => {
    server.route('/small', { body: 'x'.repeat(100) })
    for (let i = 0; i < 3; i++) {
      const res = await client.request('/small')
      await eventually(() => res.attempts[0]?.duration !== undefined)
      await res.body.dump()
      expect(res.body.bodyUsed).toBe(true)
      await expect(res.body.text()).rejects.toMatchObject({ code: 'NQ_BODY_USED' })
      // undici hands a finished connection back on its next turn of the event loop (with
      // pipelining 1 it resumes from a setImmediate): a call before that would open another.
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(server.stats.connections).toBe(1)
  })

  it('streams a body that had fully arrived before anyone read it, in order', async () => {
    server.route('/early', { body: 'abcdefghij'.repeat(5_000) })
    const res = await client.request('/early')
    await eventually(() => res.attempts[0]?.duration !== undefined)
    res.body.setEncoding('latin1')
    let text = ''
    for await (const chunk of res.body) text += chunk as string
    expect(text).toBe('abcdefghij'.repeat(5_000))
    expect(res.body.readableEnded).toBe(true)
  })

  it('holds the server back while nobody reads a large body, then delivers all of it', async () => {
    const origin = await createBlockingServer(32 * 1024 * 1024)
    const open = createClient({ origin: origin.url })
    try {
      const res = await open.request('/')
      await eventually(() => origin.blocked)
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(origin.written).toBeLessThan(origin.total / 2)
      expect((await res.body.bytes()).byteLength).toBe(origin.total)
    } finally {
      await open.destroy()
      await origin.close()
    }
  })

  it('reads a large body arriving in many chunks, byte for byte', async () => {
    const size = 3 * 1024 * 1024 + 7
    server.route('/big', { body: { size } })
    const bytes = await (await client.request('/big')).body.bytes()
    expect(bytes.byteLength).toBe(size)
    expect(bytes.every((b) => b === 0x78)).toBe(true)
  })

  it('reads every byte of a large body into arrayBuffer() and bytes(), in order', async () => {
    // Bytes that differ by position: the helpers fill a buffer that is not zeroed first, so a
    // chunk copied to the wrong place or not at all shows as a difference here.
    const sent = Buffer.alloc(200_003)
    for (let i = 0; i < sent.length; i++) sent[i] = (i * 7 + (i >> 8)) & 0xff
    server.route('/pattern', { body: sent })
    const viaArrayBuffer = Buffer.from(await (await client.request('/pattern')).body.arrayBuffer())
    const viaBytes = Buffer.from(await (await client.request('/pattern')).body.bytes())
    expect(viaArrayBuffer.equals(sent)).toBe(true)
    expect(viaBytes.equals(sent)).toBe(true)
  })

  it('rejects a helper read when the connection resets mid-body', async () => {
    server.route('/half', { reset: 'mid-body', body: { size: 512 * 1024 } })
    const res = await client.request('/half')
    await expect(res.body.text()).rejects.toThrow()
  })

  it('a body that fails while nobody reads it does not crash the process', async () => {
    server.route('/half', { reset: 'mid-body', body: { size: 512 * 1024 } })
    const res = await client.request('/half')
    const unhandled: unknown[] = []
    const onUncaught = (error: unknown) => unhandled.push(error)
    process.on('uncaughtException', onUncaught)
    try {
      await eventually(() => res.body.destroyed)
      await new Promise((resolve) => setImmediate(resolve))
    } finally {
      process.off('uncaughtException', onUncaught)
    }
    expect(unhandled).toEqual([])
    expect(res.body.errored).toBeTruthy()
  })

  it('fills trailers once the body has ended', async () => {
    server.route('/trailers', { body: 'data', trailers: { 'x-checksum': 'abc' } })
    const res = await client.request('/trailers')
    expect(await res.body.text()).toBe('data')
    expect(res.trailers['x-checksum']).toBe('abc')
  })

  it('destroying a body mid-stream aborts the request and closes its socket', async () => {
    server.route('/stall', { stall: 'mid-body', body: { size: 1024 } })
    const res = await client.request('/stall')
    expect(server.stats.openConnections).toBe(1)
    res.body.destroy()
    await once(res.body, 'close')
    await eventually(() => server.stats.openConnections === 0)
    expect(res.attempts[0]?.duration).toBeGreaterThanOrEqual(0)
  })

  it('records the attempt duration once the body has been received', async () => {
    server.route('/trickle', { body: 'abcdef', trickle: { chunk: 2, interval: 20 } })
    const res = await client.request('/trickle')
    const attempt = res.attempts[0]
    expect(attempt?.duration).toBeUndefined()
    await res.body.text()
    expect(attempt?.duration).toBeGreaterThanOrEqual(attempt?.timeToHeaders ?? 0)
  })
})

describe('undici request options', () => {
  it('passes query, opaque and timeouts through', async () => {
    const res = await client.request('/q', { query: { a: '1 2' }, opaque: { id: 7 } })
    await res.body.text()
    expect(server.requests[0]?.path).toBe('/q?a=1%202')
    expect(res.opaque).toEqual({ id: 7 })

    server.route('/stall', { stall: 'before-headers' })
    const error = (await client
      .request('/stall', { headersTimeout: 100 })
      .catch((e: unknown) => e)) as {
      code: string
      attempts: { outcome: string }[]
    }
    expect(error.code).toBe('UND_ERR_HEADERS_TIMEOUT')
    expect(error.attempts[0]?.outcome).toBe('overload')
  })

  it('calls onInfo for informational responses', async () => {
    server.route('/hints', { earlyHints: { link: '</style.css>; rel=preload' } })
    const infos: number[] = []
    const res = await client.request('/hints', {
      onInfo: ({ statusCode }) => infos.push(statusCode),
    })
    await res.body.text()
    expect(res.statusCode).toBe(200)
    expect(infos).toEqual([103])
  })

  it('rejects options it cannot honour, naming them', async () => {
    await expect(client.request('/x', { upgrade: 'websocket' } as never)).rejects.toBeInstanceOf(
      InvalidOptionError,
    )
    await expect(client.request('/x', { responseHeaders: 'raw' } as never)).rejects.toThrow(
      /responseHeaders/,
    )
    await expect(client.request('/x', { highWaterMark: -1 })).rejects.toThrow(/highWaterMark/)
    expect(server.stats.requests).toBe(0)
  })
})

describe('aborting', () => {
  it('settles at once a call still queued inside undici, and never sends it', async () => {
    const agent = new Agent({ connections: 1 })
    const single = createClient({ origin: server.url, dispatcher: agent })
    server.route('/hold', { stall: 'before-headers' })
    const held = single.request('/hold').catch((e: unknown) => e)
    await eventually(() => server.stats.requests === 1)
    const controller = new AbortController()
    const queued = single.request('/queued', { signal: controller.signal })
    controller.abort()
    const error = (await queued.catch((e: unknown) => e)) as AbortedError
    expect(error).toBeInstanceOf(AbortedError)
    expect(error.attempts[0]?.outcome).toBe('cancelled')
    await single.destroy()
    await held
    await agent.destroy()
    expect(server.requests.map((r) => r.path)).toEqual(['/hold'])
  })
})
