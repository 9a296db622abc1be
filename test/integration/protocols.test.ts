// The faults of the hardening checklist that exist on both protocols, run on each: HTTP/1.1 in
// cleartext and HTTP/2 over TLS (the fault server's `http2`). One suite, two runs: a fix made for
// one protocol that the other lacks fails here. Each test says which protocol served it.
import { Readable } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createClient, explain, type AttemptRecord, type Client } from '../../src/index.ts'
import { createFaultServer, type FaultServer } from '../../src/testing/index.ts'
import { eventually } from './helpers.ts'

const protocols = [
  { name: 'HTTP/1.1', server: {}, version: '1.1', protocol: undefined },
  { name: 'HTTP/2', server: { tls: true, http2: true }, version: '2.0', protocol: '2' },
] as const

const codes = (attempts: readonly AttemptRecord[]) => attempts.map((a) => a.statusCode ?? a.error)

describe.each(protocols)('$name', ({ server: serverOptions, version, protocol }) => {
  let server: FaultServer
  let client: Client

  beforeEach(async () => {
    server = await createFaultServer(serverOptions)
    client = createClient({
      origin: server.url,
      retry: { baseDelay: 1, maxDelay: 5 },
      agent: server.ca === undefined ? {} : { connect: { ca: server.ca } },
    })
  })

  afterEach(async () => {
    await client.destroy()
    expect(
      server.requests.every((r) => r.httpVersion === (version === '2.0' ? '2.0' : '1.1')),
    ).toBe(true)
    await server.close()
  })

  it('attempt records name the connection: the connect that opened it, then reuse', async () => {
    // One connection per origin: undici's pool may open a second one for a call made as the
    // first one's body ends, before that connection is marked free.
    const own = createClient({
      origin: server.url,
      agent: {
        connections: 1,
        ...(server.ca === undefined ? {} : { connect: { ca: server.ca } }),
      },
    })
    try {
      const first = await own.request('/')
      await first.body.text()
      expect(first.attempts.at(-1)!).toMatchObject({
        reused: false,
        connect: { raced: false, family: 4, warm: false },
      })
      expect(first.attempts.at(-1)!.connect!.ms).toBeGreaterThan(0)
      expect(explain(first)).toMatch(/new connection \(connect [\d.]+ ms\)/)
      const second = await own.request('/')
      await second.body.text()
      expect(second.attempts.at(-1)!).toMatchObject({ reused: true, connect: undefined })
      expect(explain(second)).toMatch(/reused connection/)
    } finally {
      await own.destroy()
    }
  })

  it('a reset before the headers is retried for a GET', async () => {
    server.route('/reset', [{ reset: 'before-headers' }, 200])
    const response = await client.request('/reset')
    await response.body.text()
    expect(response.statusCode).toBe(200)
    expect(response.attempts).toHaveLength(2)
    if (protocol !== undefined) expect(response.attempts[1]?.protocol).toBe(protocol)
  })

  it('a reset before the headers fails an unkeyed POST after one attempt', async () => {
    server.route('/reset', [{ reset: 'before-headers' }, 200])
    const error = await client.request('/reset', { method: 'POST', body: 'x' }).then(
      () => undefined,
      (e: unknown) => e as { attempts: AttemptRecord[] },
    )
    expect(error?.attempts).toHaveLength(1)
    expect(error?.attempts[0]?.decision?.code).toBe('unsafe-method')
  })

  it('a 503 with Retry-After is retried after the wait it asks', async () => {
    server.route('/busy', [{ status: 503, retryAfter: 0 }, 200])
    const response = await client.request('/busy')
    await response.body.text()
    expect(codes(response.attempts)).toEqual([503, 200])
    expect(response.attempts[0]?.decision?.delaySource).toBe('server')
  })

  it('a stall before the headers is cut by the attempt timeout and retried', async () => {
    server.route('/stall', [{ stall: 'before-headers' }, 200])
    const response = await client.request('/stall', { attemptTimeout: 200, deadline: 5_000 })
    await response.body.text()
    expect(codes(response.attempts)).toEqual(['NQ_ATTEMPT_TIMEOUT', 200])
  })

  it('a stall is ended by the deadline with a typed error', async () => {
    server.route('/stall', { stall: 'before-headers' })
    const error = await client.request('/stall', { deadline: 300 }).then(
      () => undefined,
      (e: unknown) => e as { code: string },
    )
    expect(error?.code).toBe('NQ_DEADLINE_EXCEEDED')
  })

  it('a reset in the middle of the body reaches the reader, with the attempts', async () => {
    server.route('/cut', { reset: 'mid-body', body: { size: 256 * 1024 } })
    const response = await client.request('/cut')
    const error = await response.body.arrayBuffer().then(
      () => undefined,
      (e: unknown) => e as { attempts?: unknown[] },
    )
    expect(error).toBeDefined()
    expect(error?.attempts).toHaveLength(1)
  })

  it('a restart that closes the port for 300 ms is ridden out by retries', async () => {
    await (await client.request('/warm')).body.text()
    const restarted = server.restart(300)
    const response = await client.request('/after', {
      deadline: 5_000,
      retry: { baseDelay: 50, maxDelay: 200 },
    })
    await response.body.text()
    await restarted
    expect(response.statusCode).toBe(200)
  })

  it('faults.md 2: a keyed POST that gets a 503 is sent again with the same key and body', async () => {
    server.route('/pay', [503, 201])
    const body = Buffer.from([0, 1, 2, 255, 13, 10])
    const response = await client.request('/pay', {
      method: 'POST',
      headers: { 'idempotency-key': 'order-7' },
      body,
    })
    await response.body.text()
    expect(response.statusCode).toBe(201)
    const sent = server.requests.filter((r) => r.path === '/pay')
    expect(sent.map((r) => r.headers['idempotency-key'])).toEqual(['order-7', 'order-7'])
    expect(sent.every((r) => r.body.equals(body))).toBe(true)
  })

  it('faults.md 5: a stream body already sent is not sent again', async () => {
    server.route('/upload', [503, 201])
    const response = await client.request('/upload', {
      method: 'PUT',
      body: Readable.from([Buffer.from('part')]),
    })
    await response.body.dump()
    expect(response.statusCode).toBe(503)
    expect(response.attempts[0]?.decision?.code).toBe('body-not-replayable')
    expect(server.stats.requests).toBe(1)
  })

  it('faults.md 8: a 4xx is handed back at once with its body', async () => {
    server.route('/missing', { status: 404, body: 'no such order' })
    const response = await client.request('/missing')
    expect(response.statusCode).toBe(404)
    expect(await response.body.text()).toBe('no such order')
    expect(response.attempts).toHaveLength(1)
  })

  it('faults.md 9: a caller abort during a backoff ends the call at once, nothing more sent', async () => {
    server.route('/busy', 503)
    const controller = new AbortController()
    const call = client.request('/busy', {
      signal: controller.signal,
      retry: { baseDelay: 5_000, maxDelay: 5_000 },
      deadline: 20_000,
    })
    await eventually(() => server.stats.requests === 1)
    const aborted = performance.now()
    controller.abort()
    await expect(call).rejects.toMatchObject({ code: 'NQ_ABORTED' })
    expect(performance.now() - aborted).toBeLessThan(1_000)
    expect(server.stats.requests).toBe(1)
  })

  it('faults.md 16: an open circuit rejects at once, with no request sent', async () => {
    client = createClient({
      origin: server.url,
      retry: false,
      breaker: { minimumCalls: 5 },
      agent: server.ca === undefined ? {} : { connect: { ca: server.ca } },
    })
    server.route('/down', 500)
    let opened = false
    for (let i = 0; i < 20 && !opened; i++) {
      opened = await client.request('/down').then(
        async (response) => {
          await response.body.dump()
          return false
        },
        (error: { code?: string }) => error.code === 'NQ_CIRCUIT_OPEN',
      )
    }
    expect(opened).toBe(true)
    const before = server.stats.requests
    await expect(client.request('/down')).rejects.toMatchObject({ code: 'NQ_CIRCUIT_OPEN' })
    expect(server.stats.requests).toBe(before)
  })

  it('faults.md 21: a body trickled slower than the deadline is cut by the deadline', async () => {
    server.route('/trickle', { body: { size: 64 }, trickle: { chunk: 1, interval: 200 } })
    const started = performance.now()
    const response = await client.request('/trickle', { deadline: 600 })
    await expect(response.body.text()).rejects.toMatchObject({ code: 'NQ_DEADLINE_EXCEEDED' })
    expect(performance.now() - started).toBeLessThan(3_000)
  })

  it('faults.md 22: a deadline bounds slow attempts and their retries', async () => {
    server.route('/slow', { latency: 400 })
    const started = performance.now()
    const error = await client.request('/slow', { deadline: 1_000, attemptTimeout: 300 }).then(
      () => undefined,
      (e: unknown) => e as { code: string; attempts: AttemptRecord[] },
    )
    // The last attempt's own timeout, or the deadline, whichever the timing made last.
    expect(['NQ_DEADLINE_EXCEEDED', 'NQ_ATTEMPT_TIMEOUT']).toContain(error?.code)
    expect(error?.attempts.length).toBeGreaterThan(1)
    expect(error?.attempts.length).toBeLessThanOrEqual(3)
    expect(performance.now() - started).toBeLessThan(2_500)
  })

  it('faults.md 30: an abort in the middle of the body stops it; the next call is served', async () => {
    server.route('/big', { body: { size: 1024 * 1024 }, trickle: { chunk: 16_384, interval: 20 } })
    const controller = new AbortController()
    const response = await client.request('/big', { signal: controller.signal })
    const reader = response.body[Symbol.asyncIterator]()
    await reader.next()
    controller.abort()
    await expect(reader.next()).rejects.toBeDefined()
    await eventually(() => server.stats.inFlight === 0)
    const next = await client.request('/after')
    expect(await next.body.text()).toBe('ok')
    // HTTP/2 resets the stream and keeps the session; HTTP/1.1 closes the connection.
    expect(server.stats.connections).toBe(version === '2.0' ? 1 : 2)
  })

  it('trailers arrive after the body', async () => {
    server.route('/trailers', { trailers: { 'x-checksum': 'abc' } })
    const response = await client.request('/trailers')
    await response.body.text()
    expect(response.trailers['x-checksum']).toBe('abc')
  })
})
