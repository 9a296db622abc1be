import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { FormData as UndiciFormData } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createClient, explain, type Client } from '../../src/index.ts'
import { createFaultServer, type FaultServer } from '../../src/testing/index.ts'
import { createBlockingServer } from '../support/blocking-server.ts'
import { BOTH_PROTOCOLS, agentTrusting, eventually } from './helpers.ts'

let server: FaultServer
let client: Client

beforeEach(async () => {
  server = await createFaultServer()
  client = createClient({ origin: server.url, retry: { baseDelay: 1, maxDelay: 5 } })
})

afterEach(async () => {
  await client.destroy()
  await server.close()
})

/** The last request the server received. */
function lastRequest() {
  const request = server.requests.at(-1)
  if (request === undefined) throw new Error('the server received nothing')
  return request
}

/** The agent options a client of the current test's server needs: its CA, over TLS. */
const tlsAgent = () => agentTrusting(server)

// The face on both protocols: undici offers h2 to every https origin.
describe.each(BOTH_PROTOCOLS)('client.fetch over $name', ({ h2, version }) => {
  beforeEach(async () => {
    if (!h2) return
    await client.destroy()
    await server.close()
    server = await createFaultServer({ tls: true, http2: true })
    client = createClient({
      origin: server.url,
      retry: { baseDelay: 1, maxDelay: 5 },
      agent: tlsAgent(),
    })
  })

  afterEach(() => {
    expect(server.requests.every((r) => r.httpVersion === version)).toBe(true)
  })

  it('returns a WHATWG Response through the stack, with the attempts on it', async () => {
    server.route('/flaky', [503, { status: 200, headers: { 'x-served': 'yes' }, body: '{"a":1}' }])
    const response = await client.fetch('/flaky')
    expect(response).toBeInstanceOf(Response)
    expect(response.status).toBe(200)
    expect(response.ok).toBe(true)
    expect(response.url).toBe(`${server.url}/flaky`)
    expect(response.redirected).toBe(false)
    expect(response.headers.get('x-served')).toBe('yes')
    expect(await response.json()).toEqual({ a: 1 })
    expect(response.attempts.map((a) => a.statusCode)).toEqual([503, 200])
    expect(explain(response)).toMatch(
      /^GET https?:\/\/127\.0\.0\.1:\d+\/flaky got 200 after 2 attempts in /,
    )
    expect(explain(response)).toContain('#1 at +')
    expect(server.stats.requests).toBe(2)
    // The global fetch's Response carries no record, and says so rather than "failed".
    const global = await fetch(`${server.url}/plain`, {
      dispatcher: client.dispatcher,
    } as RequestInit)
    await global.text()
    expect(explain(global)).toBe(
      "call got 200; it carries no attempt record (not an error or response of netiquette's)",
    )
  })

  it('takes a URL object and a Request, and init over the Request', async () => {
    await (await client.fetch(new URL(`${server.url}/u?q=1`))).text()
    expect(lastRequest().path).toBe('/u?q=1')

    const request = new Request(`${server.url}/r`, {
      method: 'PUT',
      headers: { 'x-from': 'request' },
      body: 'from the request',
    })
    await (await client.fetch(request)).text()
    expect(lastRequest()).toMatchObject({ method: 'PUT', path: '/r' })
    expect(lastRequest().headers['x-from']).toBe('request')
    expect(lastRequest().body.toString()).toBe('from the request')

    const again = new Request(`${server.url}/r`, { method: 'PUT', body: 'x' })
    await (await client.fetch(again, { method: 'PATCH', headers: { 'x-from': 'init' } })).text()
    expect(lastRequest().method).toBe('PATCH')
    expect(lastRequest().headers['x-from']).toBe('init')
  })

  const bodies: [string, () => unknown, string, string | undefined][] = [
    ['a string', () => 'hello', 'hello', 'text/plain;charset=UTF-8'],
    ['a Buffer', () => Buffer.from('bytes'), 'bytes', undefined],
    ['a Uint8Array', () => new TextEncoder().encode('typed'), 'typed', undefined],
    ['an ArrayBuffer', () => new TextEncoder().encode('ab').buffer, 'ab', undefined],
    ['a Blob', () => new Blob(['blob'], { type: 'text/x-blob' }), 'blob', 'text/x-blob'],
    [
      'URLSearchParams',
      () => new URLSearchParams({ a: '1', b: 'two words' }),
      'a=1&b=two+words',
      'application/x-www-form-urlencoded;charset=UTF-8',
    ],
  ]
  for (const [kind, make, sent, contentType] of bodies) {
    it(`sends ${kind} body, and sends it again on a retry`, async () => {
      server.route('/echo', [503, 200])
      const response = await client.fetch('/echo', {
        method: 'PUT',
        body: make() as RequestInit['body'],
      })
      expect(response.status).toBe(200)
      await response.arrayBuffer()
      const [first, second] = server.requests
      expect(first?.body.toString()).toBe(sent)
      expect(second?.body.toString()).toBe(sent)
      expect(second?.headers['content-type']).toBe(contentType)
    })
  }

  it('sends FormData as multipart, encoded once and sent again on a retry', async () => {
    server.route('/form', [503, 200])
    const form = new FormData()
    form.append('name', 'ada')
    form.append('file', new Blob(['contents'], { type: 'text/plain' }), 'a.txt')
    const response = await client.fetch('/form', {
      method: 'POST',
      body: form,
      idempotencyKey: true,
    })
    expect(response.status).toBe(200)
    await response.text()
    expect(server.requests).toHaveLength(2)
    for (const received of server.requests) {
      const type = received.headers['content-type'] as string
      expect(type).toMatch(/^multipart\/form-data; boundary=/)
      // Parse it back with the platform's own multipart reader.
      const parsed = await new Response(received.body, {
        headers: { 'content-type': type },
      }).formData()
      expect(parsed.get('name')).toBe('ada')
      expect(await (parsed.get('file') as File).text()).toBe('contents')
    }
  })

  it('sends a stream body once, and does not retry it', async () => {
    server.route('/stream', [503, 200])
    const web = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('web '))
        controller.enqueue(new TextEncoder().encode('stream'))
        controller.close()
      },
    })
    const response = await client.fetch('/stream', {
      method: 'PUT',
      body: web,
      duplex: 'half',
    } as RequestInit)
    expect(response.status).toBe(503)
    await response.text()
    expect(response.attempts[0]?.decision?.code).toBe('body-not-replayable')
    expect(lastRequest().body.toString()).toBe('web stream')

    server.route('/node', 200)
    await (
      await client.fetch('/node', {
        method: 'PUT',
        body: Readable.from(['node ', 'stream']) as never,
      })
    ).text()
    expect(lastRequest().body.toString()).toBe('node stream')
  })

  it('refuses what fetch refuses, before sending anything', async () => {
    await expect(client.fetch('/x', { body: 'no' })).rejects.toMatchObject({
      code: 'NQ_INVALID_REQUEST',
      message: expect.stringContaining('GET request cannot have a body'),
    })
    await expect(
      client.fetch('/x', { method: 'POST', body: { a: 1 } as never }),
    ).rejects.toMatchObject({
      code: 'NQ_INVALID_REQUEST',
      message: expect.stringContaining('fetch body'),
    })
    await expect(client.fetch(42 as never)).rejects.toMatchObject({ code: 'NQ_INVALID_REQUEST' })
    await expect(client.fetch('/x', { method: 'G ET' })).rejects.toMatchObject({
      code: 'NQ_INVALID_REQUEST',
    })
    await expect(client.fetch('/x', { method: 'get', body: 'no' })).rejects.toMatchObject({
      code: 'NQ_INVALID_REQUEST',
    })
    expect(server.stats.requests).toBe(0)
  })

  it('aborts before the response and while the body streams', async () => {
    server.route('/stall', { stall: 'before-headers' })
    const early = new AbortController()
    const pending = client.fetch('/stall', { signal: early.signal })
    early.abort()
    await expect(pending).rejects.toMatchObject({ name: 'AbortError', code: 'NQ_ABORTED' })

    server.route('/half', { stall: 'mid-body', body: { size: 100_000 } })
    const late = new AbortController()
    const response = await client.fetch('/half', { signal: late.signal })
    expect(response.status).toBe(200)
    const text = response.text()
    late.abort()
    // As fetch: the body errors with the signal's own reason.
    await expect(text).rejects.toBe(late.signal.reason)
  })

  it('survives a cancelled body, as SDKs cancel error responses, and frees its connection', async () => {
    // Part of the body arrives, then the server waits: chunks are in flight as the body is cancelled.
    server.route('/half', { status: 503, stall: 'mid-body', body: { size: 100_000 } })
    for (let i = 0; i < 3; i++) {
      const response = await client.fetch('/half', { retry: false })
      expect(response.status).toBe(503)
      await response.body?.cancel()
      expect(response.bodyUsed).toBe(true)
    }
    // An uncaught error from the stream would fail this test run; the client is still usable.
    await eventually(() => client.stats().origins[0]?.inFlight === 0)
    server.route('/ok', 200)
    expect((await client.fetch('/ok')).status).toBe(200)
  })

  it('works detached from the client, as SDKs take it: `fetch: client.fetch`', async () => {
    server.route('/ok', { status: 200, body: 'detached' })
    const { fetch, request, stats } = client
    expect(await (await fetch('/ok')).text()).toBe('detached')
    expect(await (await request('/ok')).body.text()).toBe('detached')
    expect(stats().origins[0]?.inFlight).toBe(0)
    const sdk = { fetch: client.fetch }
    expect((await sdk.fetch('/ok')).status).toBe(200)
  })

  it('rejects as a TimeoutError under AbortSignal.timeout(), as the global fetch does', async () => {
    server.route('/stall', { stall: 'before-headers' })
    const error = (await client
      .fetch('/stall', { signal: AbortSignal.timeout(50) })
      .catch((caught: unknown) => caught)) as Error & { code: string; attempts: unknown[] }
    expect(error.name).toBe('TimeoutError')
    expect(error.code).toBe('NQ_ABORTED')
    expect((error.cause as Error).name).toBe('TimeoutError')
    expect(error.attempts).toHaveLength(1)
    // A plain abort stays an AbortError.
    const controller = new AbortController()
    const pending = client.fetch('/stall', { signal: controller.signal })
    controller.abort()
    await expect(pending).rejects.toMatchObject({ name: 'AbortError', code: 'NQ_ABORTED' })
  })

  it("explain() follows the cause of the global fetch's `TypeError: fetch failed`", async () => {
    server.route('/stall', { stall: 'before-headers' })
    const short = createClient({
      origin: server.url,
      deadline: 300,
      retry: false,
      agent: tlsAgent(),
    })
    try {
      const error = await fetch(`${server.url}/stall`, {
        dispatcher: short.dispatcher,
      } as RequestInit).catch((caught: unknown) => caught)
      expect(error).toBeInstanceOf(TypeError)
      const text = explain(error)
      expect(text).toMatch(
        /^GET .*\/stall failed with TypeError \(fetch failed\), caused by NQ_DEADLINE_EXCEEDED/,
      )
      expect(text).toContain('#1 at +')
      expect(text).not.toContain('before any attempt')
    } finally {
      await short.destroy()
    }
  })

  it('gives a HEAD and a 204 a null body, and frees their connections', async () => {
    server.route('/empty', 204)
    const head = await client.fetch('/x', { method: 'HEAD' })
    expect(head.body).toBeNull()
    const empty = await client.fetch('/empty')
    expect(empty.status).toBe(204)
    expect(empty.body).toBeNull()
    expect(client.stats().origins[0]?.inFlight).toBe(0)
  })
})

// With a server of its own, which counts what it could write.
describe('client.fetch, backpressure', () => {
  it('streams a large response body with backpressure', async () => {
    const origin = await createBlockingServer(32 * 1024 * 1024)
    const open = createClient()
    try {
      const response = await open.fetch(origin.url)
      const reader = (response.body as ReadableStream<Uint8Array>).getReader()
      // Nobody reads: the server must end up blocked on a full socket, far short of the end.
      await eventually(() => origin.blocked)
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(origin.written).toBeLessThan(origin.total / 2)
      let received = 0
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        received += value.length
      }
      expect(received).toBe(origin.total)
    } finally {
      await open.destroy()
      await origin.close()
    }
  })
})

describe('client.fetch redirects', () => {
  it('follows them, each hop through the stack, and keeps every attempt', async () => {
    server.route('/old', { status: 301, headers: { location: '/new' } })
    server.route('/new', [503, { status: 302, headers: { location: `${server.url}/final#frag` } }])
    server.route('/final', { body: 'here' })
    const response = await client.fetch('/old')
    expect(await response.text()).toBe('here')
    expect(response.url).toBe(`${server.url}/final`)
    expect(response.redirected).toBe(true)
    expect(response.attempts.map((a) => `${a.path} ${a.statusCode}`)).toEqual([
      '/old 301',
      '/new 503',
      '/new 302',
      '/final 200',
    ])
  })

  it('turns a POST into a GET on 303, and keeps method and body on 307', async () => {
    server.route('/see-other', { status: 303, headers: { location: '/result' } })
    server.route('/temporary', { status: 307, headers: { location: '/result' } })
    await (
      await client.fetch('/see-other', {
        method: 'POST',
        body: 'payload',
        headers: { 'content-type': 'text/plain' },
      })
    ).text()
    expect(lastRequest()).toMatchObject({ method: 'GET', path: '/result' })
    expect(lastRequest().body.length).toBe(0)
    expect(lastRequest().headers['content-type']).toBeUndefined()

    // A lower-case method is the standard one: `put` keeps its body across a 307 as PUT does.
    await (await client.fetch('/temporary', { method: 'put', body: 'payload' })).text()
    expect(lastRequest()).toMatchObject({ method: 'PUT', path: '/result' })
    expect(lastRequest().body.toString()).toBe('payload')
  })

  it("hands a 307 with a one-shot body back unfollowed, and honours 'manual' and 'error'", async () => {
    server.route('/temporary', { status: 307, headers: { location: '/result' } })
    const streamed = await client.fetch('/temporary', {
      method: 'PUT',
      body: Readable.from(['once']) as never,
    })
    expect(streamed.status).toBe(307)
    await streamed.text()

    const manual = await client.fetch('/temporary', { redirect: 'manual' })
    expect(manual.status).toBe(307)
    expect(manual.headers.get('location')).toBe('/result')
    await manual.text()

    await expect(client.fetch('/temporary', { redirect: 'error' })).rejects.toMatchObject({
      code: 'NQ_REDIRECT',
      attempts: [expect.objectContaining({ statusCode: 307 })],
    })
    expect(server.requests.filter((r) => r.path === '/result')).toHaveLength(0)
  })

  it('reads a Location sent as raw UTF-8 as UTF-8, as undici and browsers do', async () => {
    const raw = http.createServer((request, response) => {
      if (request.url === '/redirect') {
        response.writeHead(302, { location: `/${Buffer.from('안녕').toString('latin1')}` }).end()
      } else response.end(request.url)
    })
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve))
    const origin = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`
    const open = createClient()
    try {
      const response = await open.fetch(`${origin}/redirect`)
      const encoded = `/${encodeURIComponent('안녕')}`
      expect(response.url).toBe(`${origin}${encoded}`)
      expect(await response.text()).toBe(encoded)
    } finally {
      await open.destroy()
      await new Promise<void>((resolve) => raw.close(() => resolve()))
    }
  })

  it('refuses loops past 20 hops and non-http locations', async () => {
    server.route('/loop', { status: 302, headers: { location: '/loop' } })
    await expect(client.fetch('/loop')).rejects.toMatchObject({
      code: 'NQ_REDIRECT',
      message: expect.stringContaining('more than 20'),
    })
    expect(server.stats.requests).toBe(21)

    server.route('/file', { status: 302, headers: { location: 'file:///etc/passwd' } })
    await expect(client.fetch('/file')).rejects.toMatchObject({
      code: 'NQ_REDIRECT',
      message: expect.stringContaining('not an http(s) URL'),
    })
  })

  it('never sends credentials along a redirect to another origin', async () => {
    const other = await createFaultServer()
    const open = createClient({ headers: { authorization: 'Bearer default', 'x-team': 'a' } })
    try {
      server.route('/away', { status: 302, headers: { location: `${other.url}/landing` } })
      const response = await open.fetch(`${server.url}/away`, {
        headers: { cookie: 'session=1', 'x-api-key': 'k', 'x-trace': 't' },
      })
      await response.text()
      expect(server.requests[0]?.headers).toMatchObject({
        authorization: 'Bearer default',
        cookie: 'session=1',
        'x-api-key': 'k',
      })
      const landed = other.requests[0]?.headers
      expect(landed).toMatchObject({ 'x-team': 'a', 'x-trace': 't' })
      expect(landed?.authorization).toBeUndefined()
      expect(landed?.cookie).toBeUndefined()
      expect(landed?.['x-api-key']).toBeUndefined()

      // A client bound to an origin never leaves it.
      await expect(client.fetch('/away')).rejects.toMatchObject({ code: 'NQ_CROSS_ORIGIN' })
      expect(other.stats.requests).toBe(1)
    } finally {
      await open.destroy()
      await other.close()
    }
  })
})

describe("client.fetch where undici's own fetch tests found it apart (issue 34, O)", () => {
  it("sends undici's own FormData, as it sends the global one", async () => {
    const form = new UndiciFormData()
    form.append('name', 'value')
    form.append('file', new Blob(['hello']), 'a.txt')
    await (await client.fetch('/form', { method: 'POST', body: form as never })).text()
    const received = lastRequest()
    expect(received.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/)
    const text = received.body.toString()
    expect(text).toContain('name="name"')
    expect(text).toContain('value')
    expect(text).toContain('filename="a.txt"')
    expect(text).toContain('hello')
  })

  it('errors a body already received when the caller aborts before reading it', async () => {
    server.route('/small', { body: { size: 20_000 } })
    const controller = new AbortController()
    const response = await client.fetch('/small', { signal: controller.signal })
    // Let every byte arrive before the abort.
    await eventually(() => client.stats().origins[0]?.inFlight === 0)
    controller.abort()
    await expect(response.text()).rejects.toMatchObject({ name: 'AbortError' })
    // Aborted as the read starts, with every byte already here: the read fails (undici's
    // issue-1711 test).
    const racing = new AbortController()
    const raced = await client.fetch('/small', { signal: racing.signal })
    await eventually(() => client.stats().origins[0]?.inFlight === 0)
    const reading = raced.arrayBuffer()
    racing.abort()
    await expect(reading).rejects.toBe(racing.signal.reason)
    // Read to its end first, an abort changes nothing.
    const read = new AbortController()
    const whole = await client.fetch('/small', { signal: read.signal })
    expect((await whole.text()).length).toBe(20_000)
    read.abort()
  })

  it('cancels a ReadableStream body when the signal is already aborted', async () => {
    let cancelled: unknown
    const body = new ReadableStream({
      cancel(reason) {
        cancelled = reason
      },
    })
    const controller = new AbortController()
    controller.abort()
    await expect(
      client.fetch('/x', {
        method: 'POST',
        body,
        duplex: 'half',
        signal: controller.signal,
      } as never),
    ).rejects.toMatchObject({ name: 'AbortError' })
    expect(cancelled).toBe(controller.signal.reason)
    expect(server.stats.requests).toBe(0)
  })

  it("sends the URL's Host, not a caller's, as undici's fetch does", async () => {
    await (await client.fetch('/h', { headers: { host: 'elsewhere.example' } })).text()
    expect(lastRequest().headers.host).toBe(new URL(server.url).host)
  })
  it("reads a body by a helper as the global fetch's Response does", async () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf])
    const json = Buffer.concat([bom, Buffer.from('{"a":"é"}')])
    server.route('/bom', {
      status: 201,
      headers: { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] },
      body: json,
    })
    // The byte order mark is not text, and JSON.parse would refuse it.
    expect(await (await client.fetch('/bom')).text()).toBe('{"a":"é"}')
    const parsed = await client.fetch('/bom')
    expect(await parsed.json()).toEqual({ a: 'é' })
    expect(parsed.bodyUsed).toBe(true)
    // A second read is refused as fetch refuses it, whatever the helper.
    await expect(parsed.text()).rejects.toBeInstanceOf(TypeError)
    await expect(parsed.blob()).rejects.toBeInstanceOf(TypeError)
    expect(() => parsed.clone()).toThrow(TypeError)
    expect(parsed.headers.getSetCookie()).toEqual(['a=1', 'b=2'])
    expect(parsed.status).toBe(201)
    const bytes = await (await client.fetch('/bom')).bytes()
    expect(bytes).toBeInstanceOf(Uint8Array)
    expect(Buffer.from(bytes).equals(json)).toBe(true)
    const buffer = await (await client.fetch('/bom')).arrayBuffer()
    expect(buffer).toBeInstanceOf(ArrayBuffer)
    expect(buffer.byteLength).toBe(json.length)
    const blob = await (await client.fetch('/bom')).blob()
    expect(blob.type).toBe('application/json')
    expect(blob.size).toBe(json.length)
  })

  it('clones a response into two readable ones, each with the call on it', async () => {
    server.route('/twice', { status: 200, body: 'same bytes' })
    const response = await client.fetch('/twice')
    const copy = response.clone() as typeof response
    expect(copy).toBeInstanceOf(Response)
    expect(copy.url).toBe(response.url)
    expect(copy.attempts).toBe(response.attempts)
    expect(copy.headers.get('content-length')).toBe('10')
    expect(await copy.text()).toBe('same bytes')
    expect(await response.text()).toBe('same bytes')
    // Streamed first, then read by a helper: the helper reads the stream, and the body is used.
    const streamed = await client.fetch('/twice')
    const reader = (streamed.body as ReadableStream<Uint8Array>).getReader()
    const first = await reader.read()
    expect(Buffer.from(first.value as Uint8Array).toString()).toBe('same bytes')
    expect(streamed.bodyUsed).toBe(true)
    reader.releaseLock()
    await expect(streamed.text()).rejects.toBeInstanceOf(TypeError)
  })
})
