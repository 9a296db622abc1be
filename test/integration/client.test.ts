import { execFile } from 'node:child_process'
import { getEventListeners, once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Agent } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  AbortedError,
  ClientClosedError,
  CrossOriginError,
  InvalidOptionError,
  InvalidRequestError,
  createClient,
  discardResponse,
  explain,
  type Client,
  type ClientResponse,
  type Middleware,
  type RequestOptions,
} from '../../src/index.ts'
import { createFaultServer, type FaultServer } from '../../src/testing/index.ts'
import { eventually } from './helpers.ts'

const execFileAsync = promisify(execFile)

/** Reads a body to its end and waits for its close, when undici hands the socket back. */
async function consume(res: ClientResponse): Promise<string> {
  const text = await res.body.text()
  if (!res.body.closed) await once(res.body, 'close')
  return text
}

let server: FaultServer
let client: Client

beforeEach(async () => {
  server = await createFaultServer()
})

afterEach(async () => {
  await client?.destroy()
  await server.close()
})

describe('client.request against a real loopback server', () => {
  it('passes status, headers and body through, and records the attempt', async () => {
    server.route('/teapot', {
      status: 418,
      headers: { 'x-kind': 'teapot' },
      body: 'short and stout',
    })
    client = createClient({ origin: server.url })
    const res = await client.request('/teapot')
    expect(res.statusCode).toBe(418)
    expect(res.headers['x-kind']).toBe('teapot')
    expect(await res.body.text()).toBe('short and stout')
    expect(res.attempts).toHaveLength(1)
    expect(res.attempts[0]).toMatchObject({
      number: 1,
      method: 'GET',
      origin: server.url,
      path: '/teapot',
      statusCode: 418,
      outcome: 'success',
      decision: { action: 'return' },
    })
    expect(res.attempts[0]?.timeToHeaders).toBeGreaterThanOrEqual(0)
  })

  it('sends method, merged headers and body as given', async () => {
    client = createClient({
      origin: server.url,
      headers: { 'x-team': 'payments', 'x-over': 'default' },
    })
    const res = await client.request('/echo', {
      method: 'put',
      headers: { 'X-Over': 'mine', 'content-type': 'text/plain' },
      body: 'hello',
    })
    await res.body.dump()
    const received = server.requests[0]
    expect(received?.method).toBe('PUT')
    expect(received?.headers['x-team']).toBe('payments')
    expect(received?.headers['x-over']).toBe('mine')
    expect(received?.body.toString()).toBe('hello')
  })

  it('works without an origin for absolute URLs', async () => {
    client = createClient()
    const res = await client.request(`${server.url}/abs`)
    expect(await res.body.text()).toBe('ok')
  })

  it('streams a large body in chunks', async () => {
    const size = 4 * 1024 * 1024
    server.route('/big', { body: { size } })
    client = createClient({ origin: server.url })
    const res = await client.request('/big')
    let chunks = 0
    let bytes = 0
    for await (const chunk of res.body) {
      chunks++
      bytes += (chunk as Buffer).length
    }
    expect(bytes).toBe(size)
    expect(chunks).toBeGreaterThan(1)
  })

  // undici's pool may hand the next request to a second socket when it is dispatched before the
  // first socket reports itself free (bare undici.request does the same), so "reuse" here means
  // the connection count stays bounded instead of growing with every request.
  it('dumps a body a policy discards, so its socket goes back to the pool', async () => {
    const retryOnce: Middleware = async (request, next) => {
      const first = await next(request)
      if (first.statusCode !== 503) return first
      discardResponse(first)
      return next(request)
    }
    client = createClient({ origin: server.url, middleware: [retryOnce] })
    for (let i = 0; i < 10; i++) {
      // 100 KiB: above undici's 64 KiB highWaterMark, so an undumped body stays paused and pins
      // its socket (one new connection per round); below the 128 KiB dump limit, so a dumped
      // body is read to the end and its socket kept.
      server.route('/flaky', [{ status: 503, body: { size: 100 * 1024 } }, 200])
      const res = await client.request('/flaky')
      expect(res.attempts.map((a) => a.statusCode)).toEqual([503, 200])
      await consume(res)
      // The discarded attempt completes on the network only if its body was drained: an
      // undumped body larger than the buffer stays paused forever.
      await eventually(() => res.attempts[0]?.duration !== undefined)
    }
    expect(server.stats.requests).toBe(20)
    // Undumped bodies would pin a socket per round (11 connections); a busy machine can let a
    // keep-alive socket lapse once, hence 3 rather than 2.
    expect(server.stats.connections).toBeLessThanOrEqual(3)
  })

  it('reuses connections for sequential requests whose bodies are consumed', async () => {
    client = createClient({ origin: server.url })
    for (let i = 0; i < 20; i++) await consume(await client.request('/seq'))
    expect(server.stats.connections).toBeLessThanOrEqual(2)
  })

  it('surfaces a reset as undici error with an attempt record', async () => {
    server.route('/reset', { reset: 'before-headers' })
    client = createClient({ origin: server.url, retry: false })
    const error = (await client.request('/reset').catch((e: unknown) => e)) as {
      code: string
      attempts: unknown[]
    }
    expect(error.code).toMatch(/ECONNRESET|UND_ERR_SOCKET/)
    expect(error.attempts).toHaveLength(1)
    expect(error.attempts[0]).toMatchObject({
      number: 1,
      outcome: 'failure',
      decision: { action: 'fail' },
    })
    expect(explain(error)).toMatch(/failed with .* after 1 attempt/)
  })

  it('surfaces a reset in the middle of the body as a stream error', async () => {
    server.route('/half', { reset: 'mid-body', body: { size: 256 * 1024 } })
    client = createClient({ origin: server.url })
    const res = await client.request('/half')
    expect(res.statusCode).toBe(200)
    await expect(res.body.arrayBuffer()).rejects.toThrow()
  })

  it('leaves no listener on a long-lived signal after 10,000 requests', async () => {
    client = createClient({ origin: server.url })
    const longLived = new AbortController()
    const baseline = getEventListeners(longLived.signal, 'abort').length
    const inFlight = 50
    let next = 0
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next++ < 10_000) {
          const res = await client.request('/leak', { signal: longLived.signal })
          await res.body.text()
        }
      }),
    )
    await eventually(() => getEventListeners(longLived.signal, 'abort').length === baseline)
    expect(server.stats.requests).toBe(10_000)
  })

  it('aborts a call mid-body when the caller aborts, with a typed error', async () => {
    server.route('/stall', { stall: 'mid-body', body: { size: 1024 } })
    client = createClient({ origin: server.url })
    const controller = new AbortController()
    const res = await client.request('/stall', { signal: controller.signal })
    const reading = res.body.text()
    controller.abort(new Error('caller gave up'))
    await expect(reading).rejects.toThrow('caller gave up')
    await eventually(() => getEventListeners(controller.signal, 'abort').length === 0)
  })

  it('aborts a call waiting for headers and says the caller aborted', async () => {
    server.route('/stall', { stall: 'before-headers' })
    client = createClient({ origin: server.url })
    const controller = new AbortController()
    const pending = client.request('/stall', { signal: controller.signal })
    await eventually(() => server.stats.requests === 1)
    controller.abort()
    const error = (await pending.catch((e: unknown) => e)) as AbortedError
    expect(error).toBeInstanceOf(AbortedError)
    expect(error.name).toBe('AbortError')
    expect(error.code).toBe('NQ_ABORTED')
    expect(error.attempts).toHaveLength(1)
    expect(error.attempts[0]?.outcome).toBe('cancelled')
  })

  it('dispatches nothing for an already aborted signal', async () => {
    client = createClient({ origin: server.url })
    const error = (await client
      .request('/x', { signal: AbortSignal.abort() })
      .catch((e: unknown) => e)) as AbortedError
    expect(error).toBeInstanceOf(AbortedError)
    expect(error.attempts).toEqual([])
    expect(server.stats.requests).toBe(0)
  })
})

describe('bad input fails before any byte is sent', () => {
  it.each([
    ['a cross-origin URL', 'http://evil.example/', {}, CrossOriginError],
    ['a scheme-relative URL', '//evil.example/', {}, CrossOriginError],
    ['CR LF in the path', '/a\r\nX: y', {}, InvalidRequestError],
    [
      'CR LF in a header value',
      '/a',
      { headers: { 'x-a': 'b\r\nX-Injected: 1' } },
      InvalidRequestError,
    ],
    ['NUL in a header name', '/a', { headers: { 'x\u0000a': 'b' } }, InvalidRequestError],
    ['a space in the method', '/a', { method: 'GE T' }, InvalidRequestError],
    // Options other clients take, that would be silently ignored: refused, naming the key.
    ['an unknown option: timeout', '/a', { timeout: 5000 }, InvalidOptionError],
    ['an unknown option: json', '/a', { json: { a: 1 } }, InvalidOptionError],
  ])('%s', async (_name, url, options, ErrorClass) => {
    client = createClient({ origin: server.url })
    const error = await client.request(url, options as RequestOptions).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ErrorClass)
    if (ErrorClass === InvalidOptionError) {
      expect((error as Error).message).toMatch(
        /^invalid option (timeout|json): .*no such request option/,
      )
    }
    expect(server.stats.connections).toBe(0)
  })
})

describe('closing', () => {
  it('rejects requests after close() with ClientClosedError', async () => {
    client = createClient({ origin: server.url })
    await client.close()
    await expect(client.request('/x')).rejects.toBeInstanceOf(ClientClosedError)
    expect(server.stats.requests).toBe(0)
  })

  it('close() waits for a body in flight, then leaves no active handle', async () => {
    // In a fresh process: the test runner's own timers and sockets would hide a leak here.
    const fixture = fileURLToPath(new URL('./fixtures/close-leaves-nothing.ts', import.meta.url))
    const { stdout } = await execFileAsync(process.execPath, [fixture], { timeout: 15_000 })
    const result = JSON.parse(stdout.trim().split('\n').at(-1) as string) as {
      text: string
      resources: string[]
    }
    expect(result.text).toBe('abcdefgh')
    expect(result.resources.filter((r) => !['PipeWrap', 'TTYWrap'].includes(r))).toEqual([])
  })

  it('every close() waits for the same calls and then resolves', async () => {
    server.route('/trickle', { body: 'abcd', trickle: { chunk: 1, interval: 10 } })
    client = createClient({ origin: server.url })
    const res = await client.request('/trickle')
    const first = client.close()
    const second = client.close()
    expect(await res.body.text()).toBe('abcd')
    await Promise.all([first, second])
    expect(client.closed).toBe(true)
  })

  it('destroy() aborts calls in flight with ClientClosedError', async () => {
    server.route('/stall', { stall: 'before-headers' })
    client = createClient({ origin: server.url })
    const pending = client.request('/stall').catch((e: unknown) => e)
    await eventually(() => server.stats.requests === 1)
    await client.destroy()
    const error = (await pending) as ClientClosedError
    expect(error).toBeInstanceOf(ClientClosedError)
    expect(error.attempts).toHaveLength(1)
  })

  it('leaves a dispatcher it was given open', async () => {
    const agent = new Agent()
    client = createClient({ origin: server.url, dispatcher: agent })
    await (await client.request('/x')).body.text()
    await client.close()
    expect(agent.closed).toBe(false)
    await agent.close()
  })
})

describe('an origin with a path prefix', () => {
  it('sends request, fetch and dispatcher paths under it, and refuses what leaves it', async () => {
    client = createClient({ origin: `${server.url}/v1/` })
    await consume(await client.request('/charges/42?x=1'))
    await (await client.fetch('/refunds')).text()
    // A dispatch names its whole path: the prefix is not added to it twice.
    await (
      await fetch(`${server.url}/v1/disputes`, { dispatcher: client.dispatcher } as RequestInit)
    ).text()
    expect(server.requests.map((r) => r.path)).toEqual([
      '/v1/charges/42?x=1',
      '/v1/refunds',
      '/v1/disputes',
    ])
    for (const escape of ['/../admin', '/%2e%2e/admin', `${server.url}/admin`, '//evil/']) {
      await expect(client.request(escape)).rejects.toBeInstanceOf(CrossOriginError)
    }
    await expect(client.fetch('/../admin')).rejects.toBeInstanceOf(CrossOriginError)
    const outside = await fetch(`${server.url}/admin`, {
      dispatcher: client.dispatcher,
    } as RequestInit).catch((e: unknown) => e)
    expect((outside as Error).cause).toBeInstanceOf(CrossOriginError)
    expect(server.stats.requests).toBe(3)
  })
})
