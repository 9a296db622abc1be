import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  CircuitOpenError,
  DeadlineExceededError,
  createClient,
  type CircuitStateChange,
  type Client,
  type ClientOptions,
} from '../../src/index.ts'
import { createFaultServer, type FaultServer } from '../../src/testing/index.ts'
import { eventually } from './helpers.ts'

let server: FaultServer
let client: Client

beforeEach(async () => {
  server = await createFaultServer()
})

afterEach(async () => {
  await client?.destroy()
  await server.close()
})

/** A client with the breaker only: retries off, so every call is one attempt. */
function breakerClient(breaker: ClientOptions['breaker'], options: ClientOptions = {}) {
  return createClient({ origin: server.url, retry: false, breaker, ...options })
}

/** Sends `n` calls one after another and reads each body. */
async function sequential(n: number, path: string): Promise<void> {
  for (let i = 0; i < n; i++) await (await client.request(path)).body.dump()
}

/** Settles every promise; returns the errors. */
async function errorsOf(calls: Promise<unknown>[]): Promise<unknown[]> {
  const results = await Promise.allSettled(calls)
  return results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []))
}

describe('the circuit breaker against the fault server', () => {
  it('answers at once from an open circuit, sending nothing', async () => {
    server.route('/down', 500)
    client = breakerClient({ minimumCalls: 5, openDuration: 60_000 })
    await sequential(5, '/down')
    expect(client.circuits?.get().state).toBe('open')
    server.resetStats()

    const started = performance.now()
    const errors: unknown[] = []
    for (let i = 0; i < 100; i++)
      await client.request('/down').catch((e: unknown) => errors.push(e))
    const perCall = (performance.now() - started) / 100

    expect(server.stats.requests).toBe(0)
    expect(server.stats.connections).toBe(0)
    expect(errors).toHaveLength(100)
    const [first] = errors as CircuitOpenError[]
    expect(first).toBeInstanceOf(CircuitOpenError)
    expect(first).toMatchObject({ code: 'NQ_CIRCUIT_OPEN', state: 'open', origin: server.url })
    expect(first?.attempts).toHaveLength(0)
    expect(first?.message).toMatch(
      /^the circuit for http:\/\/127\.0\.0\.1:\d+ is open \(5 of 5 calls failed in the last 10 s\); the next call goes through in \d+(\.\d)? s; nothing was sent$/,
    )
    // Tens of microseconds on an idle machine; the bound leaves room for a busy one.
    expect(perCall).toBeLessThan(1)
    expect(first?.retryAt).toBeGreaterThan(Date.now() + 20_000)
    expect(client.circuits?.get().rejected).toBe(100)
  })

  for (const probes of [1, 3]) {
    it(`lets exactly ${probes} of 100 concurrent calls through while half-open`, async () => {
      server.route('/flaky', (_req, index) => (index < 2 ? 500 : { status: 200, latency: 50 }))
      client = breakerClient({ minimumCalls: 2, openDuration: 100, halfOpenProbes: probes })
      await sequential(2, '/flaky')
      await eventually(() => client.circuits?.get().state === 'half-open')
      server.resetStats()

      const calls = Array.from({ length: 100 }, () =>
        client.request('/flaky').then((r) => r.body.dump()),
      )
      const errors = await errorsOf(calls)

      expect(server.stats.requests).toBe(probes)
      expect(errors).toHaveLength(100 - probes)
      expect(errors.every((e) => e instanceof CircuitOpenError && e.state === 'half-open')).toBe(
        true,
      )
      // The probes succeeded: the circuit is closed and traffic flows again.
      expect(client.circuits?.get()).toMatchObject({ state: 'closed', trips: 1 })
      await sequential(3, '/flaky')
      expect(server.stats.requests).toBe(probes + 3)
    })
  }

  it('never opens on a flood of 404s', async () => {
    server.route('/missing', 404)
    client = breakerClient({ minimumCalls: 5 })
    const calls = Array.from({ length: 200 }, () =>
      client.request('/missing').then((r) => r.body.dump()),
    )
    expect(await errorsOf(calls)).toHaveLength(0)
    expect(client.circuits?.get()).toMatchObject({ state: 'closed', calls: 200, failures: 0 })
    expect(server.stats.requests).toBe(200)
  })

  it('opens again when a probe stalls past its deadline: it never stays half-open', async () => {
    server.route('/stuck', (_req, index) => (index < 2 ? 500 : { stall: 'before-headers' }))
    client = breakerClient({ minimumCalls: 2, openDuration: 100 })
    await sequential(2, '/stuck')
    await eventually(() => client.circuits?.get().state === 'half-open')
    const probe = client.request('/stuck', { deadline: 200 })
    await expect(client.request('/stuck')).rejects.toMatchObject({ state: 'half-open' })
    await expect(probe).rejects.toBeInstanceOf(DeadlineExceededError)
    expect(client.circuits?.get()).toMatchObject({
      state: 'open',
      trips: 2,
      reason: 'a half-open probe failed',
    })
    expect(server.stats.requests).toBe(3)
  })

  it('opens for the server’s Retry-After when serverDirected, and a retry that waited it out goes through', async () => {
    const changes: CircuitStateChange[] = []
    server.route('/busy', [{ status: 503, retryAfter: 1 }, 200])
    client = createClient({
      origin: server.url,
      breaker: { serverDirected: true },
      onCircuitStateChange: (e) => changes.push(e),
    })
    const retried = client.request('/busy')
    // While the first call waits out the server's second, others fail fast and send nothing.
    await eventually(() => client.circuits?.get().state === 'open')
    const error = (await client.request('/busy').catch((e: unknown) => e)) as CircuitOpenError
    expect(error).toBeInstanceOf(CircuitOpenError)
    expect(error.retryAt).toBeGreaterThan(Date.now() + 500)
    expect(error.retryAt).toBeLessThanOrEqual(Date.now() + 1_001)
    expect(error.message).toContain('the server asked to wait 1 s')

    const response = await retried
    await response.body.dump()
    expect(response.statusCode).toBe(200)
    expect(response.attempts.map((a) => a.statusCode)).toEqual([503, 200])
    expect(server.stats.requests).toBe(2)
    expect(changes.map((e) => [e.from, e.to])).toEqual([
      ['closed', 'open'],
      ['open', 'closed'],
    ])
    expect(changes[0]).toMatchObject({ origin: server.url, reason: 'the server asked to wait 1 s' })
  })

  it('keeps calling when the state-change hook throws, and reports it as a warning', async () => {
    const warnings: Error[] = []
    const onWarning = (w: Error) => warnings.push(w)
    process.on('warning', onWarning)
    try {
      server.route('/down', 500)
      client = breakerClient(
        { minimumCalls: 1 },
        {
          onCircuitStateChange: () => {
            throw new Error('logger down')
          },
        },
      )
      const response = await client.request('/down')
      await response.body.dump()
      expect(response.statusCode).toBe(500)
      expect(client.circuits?.get().state).toBe('open')
      await eventually(() => warnings.length > 0)
      expect(warnings[0]).toMatchObject({ name: 'NetiquetteHookWarning', code: 'NQ_HOOK_THREW' })
      expect(warnings[0]?.message).toContain('logger down')
    } finally {
      process.off('warning', onWarning)
    }
  })

  it('isolates an origin by hand until it is reset', async () => {
    client = breakerClient({})
    client.circuits?.isolate(undefined, 'failing over')
    await expect(client.request('/')).rejects.toMatchObject({
      code: 'NQ_CIRCUIT_OPEN',
      state: 'isolated',
      retryAt: undefined,
    })
    expect(server.stats.requests).toBe(0)
    client.circuits?.reset()
    await (await client.request('/')).body.dump()
    expect(server.stats.requests).toBe(1)
  })
})
