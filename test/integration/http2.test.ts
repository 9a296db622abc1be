// HTTP/2 failures (issue 35), on the fault server speaking h2 over TLS: a refused stream, a reset
// stream, GOAWAY, a session that stops answering, a peer that allows one stream, and the
// session's age and request count. Faults that also exist on HTTP/1.1 run on both protocols in
// protocols.test.ts.
import { setTimeout as delay } from 'node:timers/promises'
import { eventually } from './helpers.ts'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  createClient,
  explain,
  type AttemptRecord,
  type Client,
  type ClientOptions,
} from '../../src/index.ts'
import { createFaultServer, type FaultServer } from '../../src/testing/index.ts'

let server: FaultServer
let client: Client

async function start(
  serverOptions: Parameters<typeof createFaultServer>[0] = {},
  options: ClientOptions = {},
): Promise<void> {
  server = await createFaultServer({ tls: true, http2: true, ...serverOptions })
  client = createClient({
    origin: server.url,
    retry: { baseDelay: 1, maxDelay: 5 },
    ...options,
    agent: { connect: { ca: server.ca }, ...options.agent },
  })
}

afterEach(async () => {
  await client?.destroy()
  await server?.close()
})

const refused = { reset: 'before-headers', resetCode: 'REFUSED_STREAM' } as const
const h2Errors = (attempts: readonly AttemptRecord[]) =>
  attempts.map((a) => a.h2Error ?? a.statusCode)

describe('a refused stream (RFC 9113 8.7: not processed)', () => {
  beforeEach(() => start())

  for (const method of ['GET', 'POST'] as const) {
    it(`is sent again transparently, ${method}, outside maxRetries`, async () => {
      server.route('/refuse', [refused, refused, refused, refused, 200])
      const response = await client.request('/refuse', {
        method,
        body: method === 'POST' ? 'order' : undefined,
        retry: { maxRetries: 0 },
      })
      await response.body.text()
      expect(response.statusCode).toBe(200)
      const failed = response.attempts.slice(0, -1)
      expect(failed.length).toBeGreaterThan(0)
      for (const attempt of failed) {
        expect(attempt.h2Error).toBe('REFUSED_STREAM')
        expect(attempt.decision?.reason).toContain('the server did not process the request')
        expect(attempt.decision?.reason).toContain('not counted against maxRetries')
      }
      expect(response.attempts.at(-1)?.protocol).toBe('2')
      expect(explain(response)).toContain('REFUSED_STREAM: the server did not process it')
      expect(server.requests.every((r) => r.httpVersion === '2.0')).toBe(true)
    })
  }
})

describe('a stream reset before the headers', () => {
  beforeEach(() => start())

  it('is retried for a GET and a keyed POST, as a connection reset is', async () => {
    for (const headers of [undefined, { 'idempotency-key': 'k-1' }]) {
      server.route('/reset', [{ reset: 'before-headers' }, 200])
      const method = headers === undefined ? 'GET' : 'POST'
      const response = await client.request('/reset', { method, headers, body: headers && 'x' })
      await response.body.text()
      expect(response.statusCode).toBe(200)
      expect(h2Errors(response.attempts)).toEqual(['INTERNAL_ERROR', 200])
    }
  })

  it('is not retried for a POST without an Idempotency-Key: the server may have acted', async () => {
    server.route('/reset', [{ reset: 'before-headers' }, 200])
    const error = await client.request('/reset', { method: 'POST', body: 'x' }).then(
      () => undefined,
      (e: unknown) => e as { attempts: AttemptRecord[] },
    )
    expect(error?.attempts).toHaveLength(1)
    expect(error?.attempts[0]?.h2Error).toBe('INTERNAL_ERROR')
    expect(error?.attempts[0]?.decision?.code).toBe('unsafe-method')
    expect(explain(error)).toContain('INTERNAL_ERROR: the stream was reset')
  })

  it('with ENHANCE_YOUR_CALM counts as the origin asking for less', async () => {
    server.route('/calm', [{ reset: 'before-headers', resetCode: 'ENHANCE_YOUR_CALM' }, 200])
    const response = await client.request('/calm')
    await response.body.text()
    expect(response.attempts[0]?.h2Error).toBe('ENHANCE_YOUR_CALM')
    expect(response.attempts[0]?.outcome).toBe('overload')
  })
})

describe('GOAWAY', () => {
  beforeEach(() => start())

  it('below an open stream: the stream goes again on a new session, even a POST', async () => {
    server.route('/away', [{ goaway: 'unprocessed' }, 200])
    const response = await client.request('/away', { method: 'POST', body: 'x' })
    await response.body.text()
    expect(response.statusCode).toBe(200)
    expect(server.stats.connections).toBe(2)
  })

  it('graceful: streams in flight finish, later calls use a new session', async () => {
    server.route('/slow', { latency: 150 })
    server.route('/away', { goaway: 'graceful' })
    await (await client.request('/warm')).body.text()
    const slow = Array.from({ length: 5 }, () => client.request('/slow'))
    // The GOAWAY goes out while the five are in flight on the same session.
    const away = await client.request('/away')
    await away.body.text()
    const done = await Promise.all(slow)
    for (const response of done) {
      await response.body.text()
      expect(response.attempts.map((a) => a.statusCode)).toEqual([200])
    }
    const after = await client.request('/after')
    await after.body.text()
    expect(after.statusCode).toBe(200)
    expect(server.stats.connections).toBe(2)
    expect(server.requests.at(-1)?.connection).toBe(2)
  })
})

describe('a session that stops answering', () => {
  it('is closed after an unanswered PING, and calls move to a new session', async () => {
    await start({}, { deadline: 5_000 })
    for (let i = 0; i < 3; i++) await (await client.request('/warm')).body.text()
    server.silenceConnections()
    const started = performance.now()
    // Twenty at once: one dead session fails them together, which must neither open the
    // breaker nor spend the retry budget (their retries go on a new connection).
    const responses = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const response = await client.request('/after')
        await response.body.text()
        return { response, took: performance.now() - started }
      }),
    )
    for (const { response, took } of responses) {
      expect(response.statusCode).toBe(200)
      expect(h2Errors(response.attempts)).toEqual(['UNRESPONSIVE', 200])
      expect(response.attempts[0]?.decision?.reason).toContain('on a new connection')
      // pingAfter + pingTimeout (2 s) and a new connection; generous for a loaded machine.
      expect(took).toBeLessThan(4_500)
    }
    expect(server.stats.connections).toBe(2)
  })

  it('is checked before a request that cannot be sent again goes on it after a quiet spell', async () => {
    await start({}, { deadline: 5_000, agent: { http2: { pingAfter: 100, pingTimeout: 500 } } })
    await (await client.request('/warm')).body.text()
    // Quiet for longer than pingAfter: the session must prove itself before a POST goes on it.
    await delay(250)
    server.silenceConnections()
    const response = await client.request('/order', { method: 'POST', body: 'x' })
    await response.body.text()
    expect(response.statusCode).toBe(200)
    expect(response.attempts).toHaveLength(1)
    expect(server.stats.connections).toBe(2)
  })
})

describe("a peer's SETTINGS_MAX_CONCURRENT_STREAMS of 1", () => {
  it('20 calls at once all succeed within their deadline', async () => {
    await start({ maxConcurrentStreams: 1 }, { deadline: 5_000 })
    server.route('/one', { latency: 10 })
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        client.request('/one').then(async (r) => {
          await r.body.text()
          return r
        }),
      ),
    )
    expect(responses.every((r) => r.statusCode === 200)).toBe(true)
    expect(server.stats.h2Requests).toBe(20)
    // More streams than one session may carry open more sessions (undici's pool, up to
    // agent.connections), and stats() says so.
    const stats = client.stats().origins[0]?.connections
    expect(stats?.protocol).toBe('2')
    expect(stats?.maxConcurrentStreams).toBe(1)
    expect(stats?.sessions).toBeGreaterThan(1)
    expect(server.stats.connections).toBeGreaterThan(1)
  })
})

describe('session age and request count', () => {
  it('a session drains after maxSessionRequests: streams finish, new ones use a new session', async () => {
    await start({}, { agent: { http2: { maxSessionRequests: 3 } } })
    server.route('/slow', { latency: 50 })
    const first = await Promise.all([1, 2, 3].map(() => client.request('/slow')))
    const later = client.request('/slow')
    for (const response of [...first, await later]) {
      await response.body.text()
      expect(response.attempts.map((a) => a.statusCode)).toEqual([200])
    }
    expect(server.stats.connections).toBe(2)
  })
})

describe('on every face', () => {
  beforeEach(() => start())

  it('client.fetch and client.dispatcher retry a refused stream and ride a GOAWAY', async () => {
    const { request } = await import('undici')
    server.route('/refuse', [refused, refused, refused, refused, 200])
    const viaFetch = await client.fetch(`${server.url}/refuse`, { method: 'POST', body: 'x' })
    expect(viaFetch.status).toBe(200)
    await viaFetch.text()

    server.route('/refuse', [refused, refused, refused, refused, 200])
    const viaDispatcher = await request(`${server.url}/refuse`, {
      dispatcher: client.dispatcher,
      method: 'POST',
      body: 'x',
    })
    expect(viaDispatcher.statusCode).toBe(200)
    await viaDispatcher.body.text()

    server.route('/away', [{ goaway: 'unprocessed' }, 200])
    const away = await client.fetch(`${server.url}/away`, { method: 'POST', body: 'x' })
    expect(away.status).toBe(200)
    await away.text()
    expect(server.requests.every((r) => r.httpVersion === '2.0')).toBe(true)
  })
})

describe("a hedge's loser", () => {
  it('is reset with CANCEL, which the server sees at once, and the session stays open', async () => {
    await start({}, { hedge: { delay: 50, maxExtraLoad: 1 } })
    await (await client.request('/warm')).body.text()
    // The first attempt waits 2 s; its hedge, 50 ms later, is answered at once.
    server.route('/tail', [{ latency: 2_000 }, 200])
    const response = await client.request('/tail')
    await response.body.text()
    expect(response.attempts.map((a) => a.hedge)).toEqual([false, true])
    await eventually(() => server.stats.clientResets.CANCEL === 1)
    expect(server.stats.clientResets).toEqual({ CANCEL: 1 })
    expect(server.stats.connections).toBe(1)
  })
})
