import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  AttemptTimeoutError,
  DeadlineExceededError,
  createClient,
  withDeadline,
  type Client,
} from '../../src/index.ts'
import { createFaultServer, type FaultServer } from '../../src/testing/index.ts'
import { eventually } from './helpers.ts'

// Real sockets and real time: bounds are generous (CI runs on a busy 2-core machine); the exact
// timings are asserted on virtual time in test/timeouts/deadline.test.ts.
const SLACK = 400

let server: FaultServer
let client: Client

beforeEach(async () => {
  server = await createFaultServer()
})

afterEach(async () => {
  await client?.destroy()
  await server.close()
})

/** The default retry policy, retrying at once so that timings depend on the deadline alone. */
const retryAtOnce = { maxRetries: 4, delay: () => 0 }

describe('the deadline against a real server', () => {
  it('fails a call whose attempts take 400 ms each at about 1 s, after at most 3 attempts', async () => {
    server.route('/slow', { status: 503, latency: 400 })
    client = createClient({ origin: server.url, deadline: 1000, retry: retryAtOnce })
    const started = performance.now()
    const error = await client.request('/slow').catch((e: unknown) => e)
    const elapsed = performance.now() - started
    expect(error).toBeInstanceOf(DeadlineExceededError)
    expect(elapsed).toBeGreaterThanOrEqual(990)
    expect(elapsed).toBeLessThan(1000 + SLACK)
    const { attempts } = error as DeadlineExceededError
    expect(attempts.length).toBeGreaterThanOrEqual(2)
    expect(attempts.length).toBeLessThanOrEqual(3)
    expect(server.stats.requests).toBe(attempts.length)
  })

  it('cuts a trickled body at the deadline, although bytes keep arriving within bodyTimeout', async () => {
    // 1 byte every 200 ms for 100 bytes: 20 s in all, never idle for the 1 s bodyTimeout.
    server.route('/trickle', {
      status: 200,
      body: 'x'.repeat(100),
      trickle: { chunk: 1, interval: 200 },
    })
    client = createClient({ origin: server.url, deadline: 1500, agent: { bodyTimeout: 1000 } })
    const started = performance.now()
    const response = await client.request('/trickle')
    const error = await response.body.text().catch((e: unknown) => e)
    const elapsed = performance.now() - started
    expect(error).toBeInstanceOf(DeadlineExceededError)
    expect((error as DeadlineExceededError).attempts).toHaveLength(1)
    expect(elapsed).toBeGreaterThanOrEqual(1490)
    expect(elapsed).toBeLessThan(1500 + SLACK)
    // The socket was destroyed, not returned to the pool with a response half read.
    await eventually(() => server.stats.openConnections === 0)
  })

  it('sends nothing, not even a connection, when the deadline has already passed', async () => {
    client = createClient({ origin: server.url })
    const error = await client
      .request('/', { deadline: new Date(Date.now() - 1000) })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DeadlineExceededError)
    const inherited = await withDeadline(0, () => client.request('/')).catch((e: unknown) => e)
    expect(inherited).toBeInstanceOf(DeadlineExceededError)
    expect(server.stats.requests).toBe(0)
    expect(server.stats.connections).toBe(0)
  })

  it('sends the time left to the server, less the margin', async () => {
    client = createClient({ origin: server.url, deadline: 2000 })
    await (await client.request('/')).body.dump()
    const sent = Number(server.requests[0]?.headers['x-deadline-remaining-ms'])
    expect(sent).toBeLessThanOrEqual(1995)
    expect(sent).toBeGreaterThan(1995 - SLACK)
  })
})

describe('the attempt timeout against a real server', () => {
  it('stops an attempt that gets no headers, destroys its socket, and a retry succeeds', async () => {
    server.route('/stuck-once', [{ stall: 'before-headers' }, { status: 200, body: 'ok' }])
    client = createClient({
      origin: server.url,
      deadline: 5000,
      attemptTimeout: 300,
      retry: retryAtOnce,
    })
    const started = performance.now()
    const response = await client.request('/stuck-once')
    expect(await response.body.text()).toBe('ok')
    const elapsed = performance.now() - started
    expect(elapsed).toBeGreaterThanOrEqual(290)
    expect(elapsed).toBeLessThan(300 + SLACK)
    expect(response.attempts.map((a) => a.error)).toEqual(['NQ_ATTEMPT_TIMEOUT', undefined])
    expect(server.stats.connections).toBe(2)
  })

  it('surfaces AttemptTimeoutError when nothing retries', async () => {
    server.route('/stuck', { stall: 'before-headers' })
    client = createClient({ origin: server.url, attemptTimeout: 200 })
    const error = await client.request('/stuck').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AttemptTimeoutError)
    await eventually(() => server.stats.openConnections === 0)
  })
})
