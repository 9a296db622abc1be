import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  Agent,
  RetryAgent,
  errors,
  getGlobalDispatcher,
  interceptors,
  request,
  setGlobalDispatcher,
  type Dispatcher,
} from 'undici'
import { createClient, type Client } from '../../src/index.ts'
import { createFaultServer, type FaultServer } from '../../src/testing/index.ts'
import { createBlockingServer } from '../support/blocking-server.ts'
import { BOTH_PROTOCOLS, agentTrusting, eventually } from './helpers.ts'

let server: FaultServer
let client: Client
let previous: Dispatcher

beforeEach(async () => {
  server = await createFaultServer()
  client = createClient({ retry: { baseDelay: 1, maxDelay: 5 } })
  previous = getGlobalDispatcher()
})

/** The agent options a client of the current test's server needs: its CA, over TLS. */
const tlsAgent = () => agentTrusting(server)

afterEach(async () => {
  setGlobalDispatcher(previous)
  await client.destroy()
  await server.close()
})

describe('client.dispatcher', () => {
  it("gives the global fetch() the client's own connections: one HTTP/2 session for all calls", async () => {
    // Node's fetch sees the dispatcher through undici's wrapper for handlers of its first API,
    // which asks every dispatch for HTTP/1.1 (allowH2: false). Passed on, that sent the global
    // fetch's calls to a second pool of the agent's, beside the one the client's calls use.
    const h2 = await createFaultServer({ tls: true, http2: true })
    const own = createClient({ agent: { connect: { ca: h2.ca } } })
    try {
      setGlobalDispatcher(own.dispatcher)
      const fetched = await fetch(`${h2.url}/`)
      await fetched.text()
      const requested = await own.request(`${h2.url}/`)
      await requested.body.text()
      expect(h2.requests.map((r) => r.httpVersion)).toEqual(['2.0', '2.0'])
      expect(requested.attempts[0]).toMatchObject({ reused: true, protocol: '2' })
      expect(h2.stats.connections).toBe(1)
    } finally {
      setGlobalDispatcher(previous)
      await own.destroy()
      await h2.close()
    }
  })

  it('streams with backpressure: a paused reader holds the server back', async () => {
    const origin = await createBlockingServer(32 * 1024 * 1024)
    try {
      const response = await request(origin.url, { dispatcher: client.dispatcher })
      await eventually(() => origin.blocked)
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(origin.written).toBeLessThan(origin.total / 2)
      let received = 0
      for await (const chunk of response.body) received += (chunk as Buffer).length
      expect(received).toBe(origin.total)
    } finally {
      await origin.close()
    }
  })

  it('refuses upgrades', async () => {
    const error = await request(server.url, {
      dispatcher: client.dispatcher,
      upgrade: 'websocket',
    } as never).catch((e: unknown) => e)
    // undici's class through its own API; our typed error as the cause.
    expect(error).toBeInstanceOf(errors.InvalidArgumentError)
    expect(error).toMatchObject({ cause: { code: 'NQ_INVALID_REQUEST' } })
    expect(server.stats.requests).toBe(0)
  })

  it('closing it closes the client', async () => {
    await client.dispatcher.close()
    expect(client.closed).toBe(true)
  })
})

describe('what reaches the wire through the faces, as undici sends it', () => {
  /** A server that records each request's raw header names and its target as written. */
  async function rawServer() {
    const seen: { url: string; names: string[] }[] = []
    const raw = http.createServer((req, res) => {
      seen.push({ url: req.url ?? '', names: req.rawHeaders.filter((_, i) => i % 2 === 0) })
      res.end('ok')
    })
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`
    return { seen, url, close: () => new Promise((resolve) => raw.close(resolve)) }
  }

  it('keeps header-name case and an empty query, for the global fetch, client.fetch and request', async () => {
    const raw = await rawServer()
    try {
      const headers = { 'Content-Type': 'text/plain', 'X-Custom-Header': 'a' }
      const init = { method: 'POST', body: 'x', headers }
      // The global fetch on its own, then through the dispatcher: what reaches the wire must be
      // the same (Node 22's fetch drops an empty query itself; Node 24's keeps it).
      await (await fetch(`${raw.url}/echo?`, init)).text()
      await (
        await fetch(`${raw.url}/echo?`, { ...init, dispatcher: client.dispatcher } as RequestInit)
      ).text()
      await (await client.fetch(`${raw.url}/echo?`, init)).text()
      await (await client.request(`${raw.url}/echo?`, init)).body.text()
      const withDefaults = createClient({ origin: raw.url, headers: { 'X-Api-Version': '2' } })
      try {
        await (await withDefaults.request('/d', { headers: { 'x-lower': '1' } })).body.text()
      } finally {
        await withDefaults.close()
      }
      const [bare, dispatched, fetched, requested, defaults] = raw.seen
      const custom = (names: string[] | undefined) =>
        (names ?? []).filter((name) => /^(content-type|x-custom-header)$/i.test(name)).sort()
      expect(dispatched?.url).toBe(bare?.url)
      expect(custom(dispatched?.names)).toEqual(custom(bare?.names))
      for (const request of [fetched, requested]) {
        expect(request?.url).toBe('/echo?')
        expect(custom(request?.names)).toEqual(['Content-Type', 'X-Custom-Header'])
      }
      expect(defaults?.names).toEqual(expect.arrayContaining(['X-Api-Version', 'x-lower']))
    } finally {
      await raw.close()
    }
  })

  it("gives the global fetch's resource timing in order: requestStart <= responseStart", async () => {
    server.route('/timed', { status: 200, latency: 20, body: 'ok' })
    const url = `${server.url}/timed`
    await (await fetch(url, { dispatcher: client.dispatcher } as RequestInit)).text()
    // Node adds the entry once the body is read; it is there by now.
    await eventually(() => performance.getEntriesByName(url).length > 0)
    const entry = performance.getEntriesByName(url)[0] as unknown as Record<
      'requestStart' | 'responseStart' | 'responseEnd',
      number
    >
    expect(entry.requestStart).toBeGreaterThan(0)
    expect(entry.responseStart).toBeGreaterThanOrEqual(entry.requestStart)
    expect(entry.responseEnd).toBeGreaterThanOrEqual(entry.responseStart)
  })
})

describe("undici's retries and ours", () => {
  it('neutralises a retry interceptor composed below the stack', async () => {
    server.route('/down', 503)
    const below = new Agent().compose(interceptors.retry({ maxRetries: 5, minTimeout: 1 }))
    const wrapped = createClient({ dispatcher: below, retry: { baseDelay: 1, maxDelay: 5 } })
    try {
      const response = await wrapped.request(`${server.url}/down`)
      expect(response.statusCode).toBe(503)
      await response.body.dump()
      // Ours alone: 1 + 2 retries. With the interceptor live it would be 3 x 6.
      expect(server.stats.requests).toBe(3)
    } finally {
      await wrapped.destroy()
      await below.close()
    }
  })

  it('refuses a RetryAgent as the dispatcher while retries are on', async () => {
    const agent = new RetryAgent(new Agent())
    try {
      expect(() => createClient({ dispatcher: agent })).toThrow(
        expect.objectContaining({ code: 'NQ_INVALID_OPTION', option: 'dispatcher' }),
      )
      await createClient({ dispatcher: agent, retry: false }).close()
    } finally {
      await agent.close()
    }
  })

  it('warns once when undici’s retry interceptor is composed above client.dispatcher', async () => {
    server.route('/ok', 200)
    const warnings: Error[] = []
    const onWarning = (warning: Error) => warnings.push(warning)
    process.on('warning', onWarning)
    try {
      const above = client.dispatcher.compose(interceptors.retry({ maxRetries: 1 }))
      for (let i = 0; i < 2; i++) {
        await (await request(`${server.url}/ok`, { dispatcher: above })).body.text()
      }
      await new Promise((resolve) => setImmediate(resolve))
    } finally {
      process.off('warning', onWarning)
    }
    expect(warnings.map((w) => (w as Error & { code?: string }).code)).toEqual(['NQ_RETRY_STACKED'])
  })
})

describe("client.dispatcher under undici's own request API (undici's redirect and request suites)", () => {
  it('passes maxRedirections to a redirect interceptor composed into the client, with its history', async () => {
    server.route('/old', { status: 302, headers: { location: '/new' } })
    server.route('/new', { status: 200, body: 'moved' })
    const below = new Agent().compose(interceptors.redirect())
    const redirecting = createClient({ dispatcher: below })
    try {
      // undici 8's types dropped maxRedirections; its redirect interceptor still reads it.
      const response = await request(`${server.url}/old`, {
        dispatcher: redirecting.dispatcher,
        maxRedirections: 2,
      } as never)
      expect(response.statusCode).toBe(200)
      expect(await response.body.text()).toBe('moved')
      // The handler's context is the one the interceptor filled: undici's request() returns it.
      const history = (response as { context?: { history?: URL[] } }).context?.history
      expect(history?.map((url) => url.pathname)).toEqual(['/old', '/new'])
    } finally {
      await redirecting.destroy()
      await below.close()
    }
  })

  it('refuses maxRedirections as undici does when nothing below follows redirects', async () => {
    server.route('/old', { status: 302, headers: { location: '/new' } })
    const error = await request(`${server.url}/old`, {
      dispatcher: client.dispatcher,
      maxRedirections: 2,
    } as never).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(errors.InvalidArgumentError)
    expect((error as Error).message).toBe(
      'maxRedirections is not supported, use the redirect interceptor',
    )
    expect(server.stats.requests).toBe(0)
  })

  it("reports a header it refuses as undici's InvalidArgumentError, ours as the cause", async () => {
    const error = await request(`${server.url}/x`, {
      dispatcher: client.dispatcher,
      headers: { 'bad header': 'x' },
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(errors.InvalidArgumentError)
    expect((error as { cause?: { code?: string } }).cause?.code).toBe('NQ_INVALID_REQUEST')
    expect(server.stats.requests).toBe(0)
  })
})

// The face's core behaviour on both protocols: undici offers h2 to every https origin.
describe.each(BOTH_PROTOCOLS)('client.dispatcher over $name', ({ h2, version }) => {
  beforeEach(async () => {
    if (!h2) return
    await client.destroy()
    await server.close()
    server = await createFaultServer({ tls: true, http2: true })
    client = createClient({ retry: { baseDelay: 1, maxDelay: 5 }, agent: tlsAgent() })
  })

  afterEach(() => {
    expect(server.requests.every((r) => r.httpVersion === version)).toBe(true)
  })

  it('gives the global fetch() the client policies: a 503 then 200 succeeds', async () => {
    server.route('/flaky', [503, { status: 200, body: 'second time' }])
    setGlobalDispatcher(client.dispatcher)
    const response = await fetch(`${server.url}/flaky`)
    expect(response.status).toBe(200)
    expect(await response.text()).toBe('second time')
    expect(server.stats.requests).toBe(2)
    expect(client.stats().origins[0]).toMatchObject({ calls: 1, attempts: 2, retriesAllowed: 1 })
  })

  it('serves undici.request with { dispatcher }: a 503 then 200 succeeds', async () => {
    server.route('/flaky', [503, { status: 200, body: 'second time' }])
    const response = await request(`${server.url}/flaky?x=1`, { dispatcher: client.dispatcher })
    expect(response.statusCode).toBe(200)
    expect(await response.body.text()).toBe('second time')
    expect(server.requests.map((r) => r.path)).toEqual(['/flaky?x=1', '/flaky?x=1'])
  })

  it('passes request bodies, headers and undici options on', async () => {
    await (
      await request(server.url, {
        dispatcher: client.dispatcher,
        method: 'PUT',
        headers: { 'x-one': '1' },
        body: 'payload',
        query: { q: 'a b' },
      })
    ).body.text()
    expect(server.requests[0]).toMatchObject({ method: 'PUT', path: '/?q=a%20b' })
    expect(server.requests[0]?.headers['x-one']).toBe('1')
    expect(server.requests[0]?.body.toString()).toBe('payload')
  })

  it('aborts through the caller signal, before headers and mid-body', async () => {
    server.route('/stall', { stall: 'before-headers' })
    const early = new AbortController()
    const pending = request(`${server.url}/stall`, {
      dispatcher: client.dispatcher,
      signal: early.signal,
    })
    await eventually(() => server.stats.requests === 1)
    early.abort(new Error('gave up'))
    await expect(pending).rejects.toThrow('gave up')

    setGlobalDispatcher(client.dispatcher)
    server.route('/half', { stall: 'mid-body', body: { size: 100_000 } })
    const late = new AbortController()
    const response = await fetch(`${server.url}/half`, { signal: late.signal })
    const text = response.text()
    late.abort()
    await expect(text).rejects.toMatchObject({ name: 'AbortError' })
    await eventually(() => client.stats().origins[0]?.inFlight === 0)
  })

  it("counts a handler's abort as the caller's, not against the origin", async () => {
    // Aborts are failures to the breaker unless the caller asked for them: ten of these in a
    // row would open a breaker that took them for the origin's.
    const outcomes: string[] = []
    const watched = createClient({
      agent: tlsAgent(),
      breaker: { consecutiveFailures: 3 },
      onAttempt: ({ attempt }) => void outcomes.push(attempt.outcome ?? 'none'),
    })
    server.route('/stall', { stall: 'before-headers' })
    for (let i = 0; i < 10; i++) {
      const abort = new AbortController()
      const pending = request(`${server.url}/stall`, {
        dispatcher: watched.dispatcher,
        signal: abort.signal,
      })
      await eventually(() => server.stats.requests === i + 1)
      abort.abort(new Error('gave up'))
      await expect(pending).rejects.toThrow('gave up')
    }
    expect(outcomes).toEqual(Array.from({ length: 10 }, () => 'cancelled'))
    server.route('/ok', { status: 200 })
    const ok = await request(`${server.url}/ok`, { dispatcher: watched.dispatcher })
    await ok.body.dump()
    expect(ok.statusCode).toBe(200)
    await watched.destroy()
  })

  it('holds a body that ended while its handler was paused until the handler resumes', async () => {
    server.route('/small', { status: 200, body: 'all of it' })
    const events: string[] = []
    let controller: Dispatcher.DispatchController | undefined
    const done = new Promise<void>((resolve, reject) => {
      client.dispatcher.dispatch(
        { origin: server.url, path: '/small', method: 'GET' },
        {
          onResponseStart(c: Dispatcher.DispatchController) {
            controller = c
            c.pause()
          },
          onResponseData: (_c: unknown, chunk: Buffer) => void events.push(chunk.toString()),
          onResponseEnd: () => {
            events.push('end')
            resolve()
          },
          onResponseError: (_c: unknown, error: Error) => reject(error),
        },
      )
    })
    // The call is over once the whole body has arrived from the server, held by the face.
    await eventually(() => controller !== undefined && client.stats().origins[0]?.inFlight === 0)
    expect(events).toEqual([])
    controller?.resume()
    await done
    expect(events).toEqual(['all of it', 'end'])
  })

  it('accepts handlers of undici’s first API (onConnect, onHeaders, onData, onComplete)', async () => {
    server.route('/flaky', [503, { status: 200, body: 'legacy' }])
    const seen: string[] = []
    const chunks: Buffer[] = []
    await new Promise<void>((resolve, reject) => {
      client.dispatcher.dispatch({ origin: server.url, path: '/flaky', method: 'GET' }, {
        onConnect: () => seen.push('connect'),
        onHeaders: (status: number, raw: Buffer[]) => {
          seen.push(`headers ${status} ${raw.length % 2 === 0}`)
          return true
        },
        onData: (chunk: Buffer) => {
          chunks.push(chunk)
          return true
        },
        onComplete: () => {
          seen.push('complete')
          resolve()
        },
        onError: reject,
      } as unknown as Dispatcher.DispatchHandler)
    })
    expect(seen).toEqual(['connect', 'headers 200 true', 'complete'])
    expect(Buffer.concat(chunks).toString()).toBe('legacy')
  })
})
