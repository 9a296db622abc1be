import { execFile } from 'node:child_process'
import { createServer } from 'node:net'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { BodyNotReplayableError, createClient, type Client } from '../../src/index.ts'
import { createFaultServer, type FaultServer, type Script } from '../../src/testing/index.ts'

const execFileAsync = promisify(execFile)

let server: FaultServer
let client: Client

beforeEach(async () => {
  server = await createFaultServer()
})

afterEach(async () => {
  await client?.destroy()
  await server.close()
})

/** Bytes that no text encoding round-trips: a body must arrive byte for byte. */
const BINARY = Buffer.from([0x00, 0xff, 0xfe, 0x0a, 0x0d, 0x80, 0xc3, 0x28, 0x7b])

describe('retries against the fault server', () => {
  it('a GET that gets 503, 503, 200 succeeds on the third attempt', async () => {
    server.route('/flaky', [503, 503, { status: 200, body: 'third time' }])
    client = createClient({ origin: server.url })
    const response = await client.request('/flaky')
    expect(await response.body.text()).toBe('third time')
    expect(response.attempts.map((a) => a.statusCode)).toEqual([503, 503, 200])
    expect(response.attempts.map((a) => a.decision?.action)).toEqual(['retry', 'retry', 'return'])
    expect(server.stats.requests).toBe(3)
  })

  it('a POST without a key that gets a 503 is not retried', async () => {
    server.route('/charges', [503, 201])
    client = createClient({ origin: server.url })
    const response = await client.request('/charges', { method: 'POST', body: 'amount=1999' })
    expect(response.statusCode).toBe(503)
    await response.body.dump()
    expect(server.stats.requests).toBe(1)
    expect(response.attempts[0]?.decision).toMatchObject({
      action: 'return',
      code: 'unsafe-method',
    })
  })

  it('a POST with idempotencyKey: true is retried with the same key and an identical body', async () => {
    server.route('/charges', [503, 503, { status: 201, body: 'created' }])
    client = createClient({ origin: server.url })
    const response = await client.request('/charges', {
      method: 'POST',
      body: BINARY,
      idempotencyKey: true,
    })
    expect(await response.body.text()).toBe('created')
    const seen = server.requests
    expect(seen).toHaveLength(3)
    const key = seen[0]?.headers['idempotency-key']
    expect(key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    for (const request of seen) {
      expect(request.headers['idempotency-key']).toBe(key)
      expect(request.body.equals(BINARY)).toBe(true)
    }
  })

  it('a new call gets a new key; a string key is sent as is; a key in the headers wins', async () => {
    client = createClient({ origin: server.url })
    const post = { method: 'POST', body: 'x' }
    for (const options of [
      { idempotencyKey: true },
      { idempotencyKey: true },
      { idempotencyKey: 'order-42' },
      { idempotencyKey: true, headers: { 'Idempotency-Key': 'mine' } },
    ]) {
      await (await client.request('/', { ...post, ...options })).body.dump()
    }
    const keys = server.requests.map((r) => r.headers['idempotency-key'])
    expect(keys[0]).not.toBe(keys[1])
    expect(keys.slice(2)).toEqual(['order-42', 'mine'])
  })

  it('a stream body is not retried, and the record says why', async () => {
    server.route('/upload', [503, 201])
    client = createClient({ origin: server.url })
    const response = await client.request('/upload', {
      method: 'PUT',
      body: Readable.from([BINARY, BINARY]),
    })
    expect(response.statusCode).toBe(503)
    await response.body.dump()
    expect(server.stats.requests).toBe(1)
    expect(response.attempts[0]?.decision).toMatchObject({
      action: 'return',
      code: 'body-not-replayable',
    })
    expect(response.attempts[0]?.decision?.reason).toContain('pass a factory')
  })

  it('a stream body from a factory is made afresh and sent in full on every attempt', async () => {
    server.route('/upload', [503, 503, 201])
    client = createClient({ origin: server.url })
    const response = await client.request('/upload', {
      method: 'PUT',
      body: () => Readable.from([BINARY, BINARY]),
    })
    expect(response.statusCode).toBe(201)
    await response.body.dump()
    const bodies = server.requests.map((r) => r.body)
    expect(bodies).toHaveLength(3)
    for (const body of bodies) expect(body.equals(Buffer.concat([BINARY, BINARY]))).toBe(true)
  })

  it('a factory that hands back the same, spent stream fails the retry, sending nothing more', async () => {
    server.route('/upload', [503, 201])
    client = createClient({ origin: server.url })
    const stream = Readable.from([BINARY])
    const error = await client
      .request('/upload', { method: 'PUT', body: () => stream })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(BodyNotReplayableError)
    expect((error as Error).message).toContain('must make a new stream on each call')
    expect((error as BodyNotReplayableError).attempts).toHaveLength(1)
    expect(server.stats.requests).toBe(1)
  })

  it('a stream that has already been read from is refused, and nothing is sent', async () => {
    client = createClient({ origin: server.url })
    const stream = Readable.from(['first chunk, already read', 'rest'])
    for await (const chunk of stream) {
      expect(chunk).toBeDefined()
      break
    }
    const error = await client
      .request('/upload', { method: 'PUT', body: stream })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(BodyNotReplayableError)
    expect((error as BodyNotReplayableError).attempts).toEqual([])
    expect(server.stats.requests).toBe(0)
  })

  it('a throwing shouldRetry fails the call with its error and frees the socket', async () => {
    server.route('/big', { status: 503, body: { size: 256 * 1024 } })
    // One socket: if the unread 503 kept it, the next call would wait for it.
    client = createClient({ origin: server.url, agent: { connections: 1 }, deadline: 5000 })
    const bug = new Error('bug in shouldRetry')
    const error = await client
      .request('/big', {
        retry: {
          shouldRetry: () => {
            throw bug
          },
        },
      })
      .catch((e: unknown) => e)
    expect(error).toBe(bug)
    expect((error as { attempts: unknown[] }).attempts).toHaveLength(1)
    const next = await client.request('/ok', { deadline: 2000 })
    expect(await next.body.text()).toBe('ok')
  })

  it('once the response has been handed over, nothing is retried', async () => {
    server.route('/half', { reset: 'mid-body', body: { size: 256 * 1024 } })
    client = createClient({ origin: server.url })
    const response = await client.request('/half')
    await expect(response.body.arrayBuffer()).rejects.toThrow()
    expect(server.stats.requests).toBe(1)
    expect(response.attempts).toHaveLength(1)
  })
})

describe('connection failures', () => {
  // The server resets a reused socket as the next request arrives on it, as when it closes an
  // idle keep-alive socket just as the client writes to it; new connections are answered.
  function keepAliveRace(): Script {
    const used = new Set<number>()
    return (request) => {
      if (used.has(request.connection)) return { reset: 'before-headers' }
      used.add(request.connection)
      return { status: 200, body: 'fresh' }
    }
  }

  it('the keep-alive race is absorbed for a GET: retried once, on a new connection', async () => {
    server.route('/race', keepAliveRace())
    // One socket, so the second call must go out on the first call's socket.
    client = createClient({ origin: server.url, agent: { connections: 1 } })
    await (await client.request('/race')).body.text()
    const response = await client.request('/race')
    expect(await response.body.text()).toBe('fresh')
    expect(response.attempts.map((a) => a.error ?? a.statusCode)).toEqual([
      expect.stringMatching(/ECONNRESET|UND_ERR_SOCKET|EPIPE/),
      200,
    ])
    expect(server.stats.connections).toBe(2)
  })

  it('the same race fails a POST without a key after one attempt: it may have been applied', async () => {
    server.route('/race', keepAliveRace())
    // One socket, so the second call must go out on the first call's socket.
    client = createClient({ origin: server.url, agent: { connections: 1 } })
    await (await client.request('/race', { method: 'POST', body: 'a' })).body.text()
    const error = (await client
      .request('/race', { method: 'POST', body: 'b' })
      .catch((e: unknown) => e)) as { code: string; attempts: { decision?: { code?: string } }[] }
    expect(error.code).toMatch(/ECONNRESET|UND_ERR_SOCKET|EPIPE/)
    expect(error.attempts).toHaveLength(1)
    expect(error.attempts[0]?.decision?.code).toBe('unsafe-method')
  })

  it('a refused connection is retried for any method within the deadline, past maxRetries: it never left', async () => {
    const port = await closedPort()
    client = createClient({ retry: { baseDelay: 5 }, breaker: false, deadline: 1_000 })
    const error = (await client
      .request(`http://127.0.0.1:${port}/charges`, { method: 'POST', body: 'x' })
      .catch((e: unknown) => e)) as {
      code: string
      attempts: { error?: string; sent?: boolean; decision?: { code: string; reason: string } }[]
    }
    // The last wait is cut to leave one attempt's time: the call ends with that attempt's
    // refusal, or with the deadline when the timer fired a few ms late.
    expect(['ECONNREFUSED', 'NQ_DEADLINE_EXCEEDED']).toContain(error.code)
    // More than maxRetries (2) allows: transparent retries are not counted against it.
    expect(error.attempts.length).toBeGreaterThan(3)
    for (const attempt of error.attempts) {
      expect(attempt).toMatchObject({ error: 'ECONNREFUSED', sent: false })
    }
    expect(error.attempts[0]?.decision?.reason).toContain(
      'never left the client (full jitter backoff; not counted against maxRetries or the budget)',
    )
    expect(client.stats().origins[0]?.retriesAllowed).toBe(0)
  })

  it('a port that stays closed opens the circuit once 5 callers found nothing for 1 s: calls then fail at once', async () => {
    const port = await closedPort()
    client = createClient({ retry: { baseDelay: 5 } })
    const started = performance.now()
    const url = `http://127.0.0.1:${port}/`
    type Failed = { code: string; attempts: unknown[]; cause?: { code?: string } }
    const callers = (await Promise.all(
      Array.from({ length: 5 }, () => client!.request(url).catch((e: unknown) => e)),
    )) as Failed[]
    const stopped = callers.filter((e) => e.code === 'NQ_CIRCUIT_OPEN')
    expect(stopped.length).toBeGreaterThan(0)
    for (const error of stopped) {
      expect(error.attempts.length).toBeGreaterThanOrEqual(2)
      expect(error.cause?.code).toBe('ECONNREFUSED')
    }
    // The run lasts at least 1 s; the next attempt after it is at most 1 s away.
    expect(performance.now() - started).toBeLessThan(10_000)
    const next = (await client.request(url).catch((e: unknown) => e)) as Failed
    expect(next).toMatchObject({ code: 'NQ_CIRCUIT_OPEN', attempts: [] })
  })

  it("a lone call to a closed port (a wrong port) ends with the port's own ECONNREFUSED", async () => {
    const port = await closedPort()
    client = createClient({ retry: { baseDelay: 5 } })
    const error = (await client.request(`http://127.0.0.1:${port}/`).catch((e: unknown) => e)) as {
      code: string
      attempts: unknown[]
    }
    // One caller's retries are one call's evidence: the circuit stays closed.
    expect(error.code).toBe('ECONNREFUSED')
    expect(error.attempts).toHaveLength(21)
    expect(client.circuits?.get(`http://127.0.0.1:${port}`).state).toBe('closed')
  })
})

describe('server hints against the fault server', () => {
  it('Retry-After: 2 delays the next attempt by at least 2 s', async () => {
    server.route('/busy', [{ status: 503, retryAfter: 2 }, 200])
    client = createClient({ origin: server.url })
    const response = await client.request('/busy')
    await response.body.dump()
    const [first, second] = response.attempts
    expect(first?.decision).toMatchObject({ action: 'retry', delay: 2000, delaySource: 'server' })
    // Timers may fire a fraction of a ms early against performance.now().
    expect((second?.start ?? 0) - (first?.start ?? 0)).toBeGreaterThanOrEqual(1995)
    expect(server.stats.requests).toBe(2)
  })

  it('a Retry-After longer than the time left hands the response back at once', async () => {
    server.route('/busy', { status: 429, retryAfter: 40, body: 'slow down' })
    client = createClient({ origin: server.url, deadline: 30_000 })
    const started = performance.now()
    const response = await client.request('/busy')
    expect(performance.now() - started).toBeLessThan(1500)
    expect(response.statusCode).toBe(429)
    expect(await response.body.text()).toBe('slow down')
    expect(response.attempts[0]?.decision?.reason).toMatch(
      /^status 429 is retryable, but the deadline is too near: the server asks to wait 40000 ms \(retry-after: 40\), and \d+ ms are left/,
    )
    expect(server.stats.requests).toBe(1)
  })

  it('a pending backoff keeps the process alive until the call settles', async () => {
    server.route('/busy', [
      { status: 503, retryAfter: 1 },
      { status: 200, body: 'done' },
    ])
    // In a fresh process where nothing else is alive during the wait: an unref'd timer would
    // let it exit in the middle of the retry.
    const fixture = fileURLToPath(new URL('./fixtures/retry-keeps-alive.ts', import.meta.url))
    const { stdout } = await execFileAsync(process.execPath, [fixture, `${server.url}/busy`], {
      timeout: 15_000,
    })
    expect(stdout.trim()).toBe('200 done after 2 attempts')
  })
})

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as { port: number }
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return port
}
