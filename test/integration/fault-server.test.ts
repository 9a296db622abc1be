import { createServer } from 'node:net'
import { Agent, request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { InvalidOptionError } from '../../src/index.ts'
import { createFaultServer, type FaultServer } from '../../src/testing/index.ts'
import { eventually } from './helpers.ts'

let server: FaultServer | undefined
const agent = new Agent({ keepAliveTimeout: 10_000 })

afterEach(async () => {
  await server?.close()
  server = undefined
})

async function get(path: string, options: { headersTimeout?: number } = {}) {
  const res = await request(`${server?.url}${path}`, { dispatcher: agent, ...options })
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
}

describe('createFaultServer', () => {
  it('listens on a free loopback port and answers 200 ok by default', async () => {
    server = await createFaultServer()
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(await get('/anything')).toMatchObject({ status: 200, text: 'ok' })
  })

  it('plays a status sequence per route, repeating the last', async () => {
    server = await createFaultServer()
    server.route('/seq', [503, 502, 200])
    const statuses = []
    for (let i = 0; i < 4; i++) statuses.push((await get('/seq')).status)
    expect(statuses).toEqual([503, 502, 200, 200])
  })

  it('scripts per request with a function of the request and its index', async () => {
    server = await createFaultServer()
    server.route('/fn', (req, index) => ({ status: 200 + index, body: req.method }))
    expect(await get('/fn')).toMatchObject({ status: 200, text: 'GET' })
    expect(await get('/fn?x=1')).toMatchObject({ status: 201 })
  })

  it('sends Retry-After and custom headers', async () => {
    server = await createFaultServer()
    server.route('/busy', { status: 429, retryAfter: 2, headers: { 'x-why': 'busy' } })
    const res = await get('/busy')
    expect(res.status).toBe(429)
    expect(res.headers['retry-after']).toBe('2')
    expect(res.headers['x-why']).toBe('busy')
  })

  it('delays by a fixed latency', async () => {
    server = await createFaultServer()
    server.route('/slow', { latency: 100 })
    const start = performance.now()
    await get('/slow')
    // Generous lower bound only: timers never fire early, a busy machine may fire them late.
    expect(performance.now() - start).toBeGreaterThanOrEqual(95)
  })

  it('draws random latency within bounds', async () => {
    server = await createFaultServer({ seed: 7 })
    server.route('/jitter', { latency: { min: 20, max: 40 } })
    const start = performance.now()
    await get('/jitter')
    expect(performance.now() - start).toBeGreaterThanOrEqual(19)
  })

  it('resets the connection before headers', async () => {
    server = await createFaultServer()
    server.route('/reset', { reset: 'before-headers' })
    await expect(get('/reset')).rejects.toMatchObject({
      code: expect.stringMatching(/ECONNRESET|UND_ERR_SOCKET/),
    })
  })

  it('resets the connection in the middle of the body', async () => {
    server = await createFaultServer()
    server.route('/half', { reset: 'mid-body', body: { size: 200_000 } })
    const res = await request(`${server.url}/half`, { dispatcher: agent })
    expect(res.statusCode).toBe(200)
    await expect(res.body.arrayBuffer()).rejects.toThrow()
  })

  it('stalls before headers until the client gives up', async () => {
    server = await createFaultServer()
    server.route('/stall', { stall: 'before-headers' })
    await expect(get('/stall', { headersTimeout: 100 })).rejects.toMatchObject({
      code: 'UND_ERR_HEADERS_TIMEOUT',
    })
  })

  it('trickles a body in chunks at an interval', async () => {
    server = await createFaultServer()
    server.route('/trickle', { body: 'abcdef', trickle: { chunk: 2, interval: 30 } })
    const res = await request(`${server.url}/trickle`, { dispatcher: agent })
    const chunks: string[] = []
    for await (const chunk of res.body) chunks.push(String(chunk))
    expect(chunks.join('')).toBe('abcdef')
    expect(chunks.length).toBeGreaterThan(1)
  })

  it('counts requests, connections and body bytes, and records requests', async () => {
    server = await createFaultServer()
    const fresh = new Agent()
    for (let i = 0; i < 3; i++) {
      const res = await request(`${server.url}/up`, {
        dispatcher: fresh,
        method: 'POST',
        body: 'abcd',
      })
      await res.body.text()
    }
    expect(server.stats).toMatchObject({ requests: 3, bodyBytes: 12 })
    expect(server.requests.map((r) => r.body.toString())).toEqual(['abcd', 'abcd', 'abcd'])
    expect(server.requests[0]?.method).toBe('POST')
    server.resetStats()
    expect(server.stats.requests).toBe(0)
    expect(server.requests).toEqual([])
    await fresh.close()
  })

  it('closes idle keep-alive sockets on demand', async () => {
    server = await createFaultServer()
    const fresh = new Agent()
    await (await request(`${server.url}/a`, { dispatcher: fresh })).body.text()
    await eventually(() => server?.stats.openConnections === 1)
    server.closeIdleConnections()
    await eventually(() => server?.stats.openConnections === 0)
    await fresh.close()
  })

  it('with finite capacity, queues FIFO so overload shows up as waiting time', async () => {
    server = await createFaultServer({ capacity: 1 })
    server.route('/work', (req) => ({ latency: 50, body: req.path }))
    const fresh = new Agent({ connections: 10 })
    const order: string[] = []
    const calls = ['/work?1', '/work?2', '/work?3'].map(async (path, i) => {
      // Stagger the sends so arrival order is defined.
      await eventually(() => (server?.stats.requests ?? 0) >= i)
      const res = await request(`${server?.url}${path}`, { dispatcher: fresh })
      order.push(await res.body.text())
    })
    await eventually(() => server?.stats.queued === 2)
    expect(server.stats.inFlight).toBe(1)
    await Promise.all(calls)
    expect(order).toEqual(['/work?1', '/work?2', '/work?3'])
    await fresh.close()
  })

  it('changes its capacity mid-run: raising it starts waiting requests at once', async () => {
    server = await createFaultServer({ capacity: 1 })
    server.route('/hold', { stall: 'before-headers' })
    const fresh = new Agent({ connections: 10 })
    const held = [1, 2, 3].map(() =>
      request(`${server?.url}/hold`, { dispatcher: fresh }).catch(() => undefined),
    )
    await eventually(() => server?.stats.inFlight === 1 && server.stats.queued === 2)
    server.setCapacity(3)
    expect(server.stats).toMatchObject({ inFlight: 3, queued: 0 })
    expect(() => server?.setCapacity(0)).toThrow(InvalidOptionError)
    await fresh.destroy()
    await Promise.all(held)
  })

  it('answers 503 at once when its queue is full', async () => {
    server = await createFaultServer({ capacity: 1, queueLimit: 0 })
    server.route('/hold', { stall: 'before-headers' })
    const fresh = new Agent({ connections: 10 })
    const held = request(`${server.url}/hold`, { dispatcher: fresh }).catch(() => undefined)
    await eventually(() => server?.stats.inFlight === 1)
    const res = await request(`${server.url}/other`, { dispatcher: fresh })
    expect(res.statusCode).toBe(503)
    await res.body.dump()
    expect(server.stats.rejected).toBe(1)
    await fresh.destroy()
    await held
  })

  it('rejects bad options with a typed error', async () => {
    await expect(createFaultServer({ capacity: 0 })).rejects.toBeInstanceOf(InvalidOptionError)
    await expect(createFaultServer({ capcity: 1 } as never)).rejects.toThrow(/capcity/)
  })

  it('restart() resets connections, refuses connects while down, then serves on the same port', async () => {
    server = await createFaultServer({ fallback: { status: 200, latency: 300 } })
    const inService = get('/slow').catch((e: { code?: string }) => e.code)
    await eventually(() => server!.stats.inFlight === 1)
    const restarted = server.restart(200)
    expect(await inService).toMatch(/ECONNRESET|UND_ERR_SOCKET/)
    const refused = await request(server.url, { dispatcher: new Agent() }).catch(
      (e: { code?: string }) => e.code,
    )
    expect(refused).toBe('ECONNREFUSED')
    await restarted
    server.route('/fast', 200)
    expect(await get('/fast')).toMatchObject({ status: 200 })
  })

  it('maxConnections refuses a connect while that many are open, and takes one again once one closes', async () => {
    server = await createFaultServer({ maxConnections: 1, keepAliveTimeout: 60_000 })
    const first = new Agent({ connections: 1 })
    const second = new Agent({ connections: 1 })
    try {
      await (await request(server.url, { dispatcher: first })).body.text()
      const error = await request(server.url, { dispatcher: second }).catch(
        (e: { code?: string }) => e.code,
      )
      expect(error).toBe('ECONNREFUSED')
      await first.destroy()
      // The port opens again once the connection's close has been seen: poll until it has.
      let status: number | undefined
      const until = performance.now() + 5_000
      while (status === undefined && performance.now() < until) {
        status = await request(server.url, { dispatcher: second }).then(
          async (res) => {
            await res.body.text()
            return res.statusCode
          },
          () => undefined,
        )
      }
      expect(status).toBe(200)
    } finally {
      await first.destroy()
      await second.destroy()
    }
  })

  it('restart() rejects when the port was taken while it was down', async () => {
    server = await createFaultServer()
    const restarted = server.restart(1_000)
    // restart() closes the port before its first await returns; a refused connect shows it.
    const refused = await request(server.url, { dispatcher: new Agent() }).catch(
      (e: { code?: string }) => e.code,
    )
    expect(refused).toBe('ECONNREFUSED')
    const squatter = createServer()
    await new Promise<void>((resolve) => squatter.listen(server!.port, '127.0.0.1', resolve))
    try {
      await expect(restarted).rejects.toMatchObject({ code: 'EADDRINUSE' })
    } finally {
      squatter.close()
    }
  })
})

describe('createFaultServer over TLS and HTTP/2', () => {
  it('serves h2 on a certificate it generates and exposes as ca, HTTP/1.1 to clients that ask for it', async () => {
    server = await createFaultServer({ tls: true, http2: true })
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
    expect(server.ca).toContain('BEGIN CERTIFICATE')
    const h2 = new Agent({ connect: { ca: server.ca } })
    const h1 = new Agent({ connect: { ca: server.ca }, allowH2: false })
    try {
      for (const dispatcher of [h2, h1]) {
        const res = await request(`${server.url}/x`, { dispatcher })
        expect(await res.body.text()).toBe('ok')
      }
    } finally {
      await h2.close()
      await h1.close()
    }
    expect(server.requests.map((r) => r.httpVersion)).toEqual(['2.0', '1.1'])
    expect(server.stats.h2Requests).toBe(1)
  })

  it('sends a 204 and a 304 without content, on HTTP/2 and HTTP/1.1', async () => {
    // A content-length or a body on a 204 is a protocol error to an HTTP/2 client's session.
    server = await createFaultServer({ tls: true, http2: true })
    server.route('/none', 204)
    server.route('/same', { status: 304, body: 'ignored' })
    const h2 = new Agent({ connect: { ca: server.ca } })
    const h1 = new Agent({ connect: { ca: server.ca }, allowH2: false })
    try {
      for (const dispatcher of [h2, h1]) {
        for (const [path, status] of [
          ['/none', 204],
          ['/same', 304],
        ] as const) {
          const res = await request(`${server.url}${path}`, { dispatcher })
          expect(res.statusCode).toBe(status)
          expect(res.headers['content-length']).toBeUndefined()
          expect(await res.body.text()).toBe('')
        }
      }
    } finally {
      await h2.close()
      await h1.close()
    }
    expect(server.requests.map((r) => r.httpVersion)).toEqual(['2.0', '2.0', '1.1', '1.1'])
  })

  it('resets a stream with the code asked, and the session goes on', async () => {
    server = await createFaultServer({ tls: true, http2: true })
    server.route('/calm', [{ reset: 'before-headers', resetCode: 'ENHANCE_YOUR_CALM' }, 200])
    const dispatcher = new Agent({ connect: { ca: server.ca } })
    try {
      const error = await request(`${server.url}/calm`, { dispatcher }).then(
        () => undefined,
        (e: unknown) => e as Error,
      )
      expect(error?.message).toContain('NGHTTP2_ENHANCE_YOUR_CALM')
      const res = await request(`${server.url}/calm`, { dispatcher })
      expect(res.statusCode).toBe(200)
      await res.body.text()
    } finally {
      await dispatcher.close()
    }
    expect(server.stats.connections).toBe(1)
  })

  it('goAway(grace) lets new requests use a new session and destroys the old one after grace', async () => {
    server = await createFaultServer({ tls: true, http2: true })
    server.route('/slow', { latency: 2_000 })
    const dispatcher = new Agent({ connect: { ca: server.ca } })
    try {
      await (await request(`${server.url}/warm`, { dispatcher })).body.text()
      const slow = request(`${server.url}/slow`, { dispatcher }).then(
        () => 'answered',
        () => 'reset',
      )
      await eventually(() => server?.stats.inFlight === 1)
      server.goAway(50)
      expect(await slow).toBe('reset')
      await (await request(`${server.url}/after`, { dispatcher })).body.text()
      expect(server.requests.at(-1)?.connection).toBe(2)
    } finally {
      await dispatcher.destroy()
    }
  })

  it('refuses http2 without tls, and a bad tls option, with typed errors', async () => {
    await expect(createFaultServer({ http2: true })).rejects.toThrow(InvalidOptionError)
    await expect(createFaultServer({ tls: 'yes' as never })).rejects.toThrow(/tls/)
    await expect(
      createFaultServer({ tls: true, http2: true, maxConcurrentStreams: 0 }),
    ).rejects.toThrow(/maxConcurrentStreams/)
  })
})
