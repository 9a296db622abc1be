import { request as undiciRequest } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient, explain, type Client } from '../../src/index.ts'
import { createFaultServer, type FaultServer } from '../../src/testing/index.ts'
import { eventually } from './helpers.ts'

let server: FaultServer
const clients: Client[] = []

beforeAll(async () => {
  server = await createFaultServer()
})
afterAll(async () => {
  await Promise.all(clients.map((c) => c.destroy()))
  await server.close()
})

function client(options: Parameters<typeof createClient>[0] = {}): Client {
  const c = createClient({ origin: server.url, deadline: 10_000, ...options })
  clients.push(c)
  return c
}

// The first request on the route hangs before its headers; every later one answers at once.
function firstStalls(path: string): void {
  server.route(path, (_request, index) => (index === 0 ? { stall: 'before-headers' } : 200))
}

const HEDGE_EVERY_CALL = { delay: 50, maxExtraLoad: 1 } as const

describe('hedged requests against a real server', () => {
  it('answers from the hedge, on another connection, and closes the stalled socket', async () => {
    firstStalls('/stall')
    server.resetStats()
    const api = client({ hedge: HEDGE_EVERY_CALL })
    const started = performance.now()
    const response = await api.request('/stall')
    expect(await response.body.text()).toBe('ok')
    // Well before the 10 s deadline: the hedge answered.
    expect(performance.now() - started).toBeLessThan(5_000)
    const [first, hedge] = response.attempts
    expect(first).toMatchObject({
      error: 'NQ_SUPERSEDED',
      sent: true,
      decision: { code: 'hedge-lost' },
    })
    expect(hedge).toMatchObject({ hedge: true, statusCode: 200 })
    const [a, b] = server.requests
    expect(a?.connection).not.toBe(b?.connection)
    // The loser's socket was destroyed; the winner's stays in the pool.
    await eventually(() => server.stats.openConnections === 1)
    expect(server.stats).toMatchObject({ requests: 2, connections: 2 })
    expect(explain(response)).toMatch(/\(hedge\): 200/)
  })

  it('sends the server at most calls × (1 + maxExtraLoad) requests', async () => {
    // A quarter of the requests are slow: every one of them would hedge, were it not capped.
    server.route('/tail', (_request, index) => ({ latency: index % 4 === 0 ? 300 : 2 }))
    server.resetStats()
    const api = client({ hedge: { delay: 50 }, retry: { budget: false } })
    const calls = 100
    for (let batch = 0; batch < calls / 10; batch++) {
      const responses = await Promise.all(
        Array.from({ length: 10 }, () => api.request('/tail').then((r) => r.body.text())),
      )
      expect(responses.every((text) => text === 'ok')).toBe(true)
    }
    const stats = api.stats().origins[0]
    expect(stats?.hedges?.sent).toBeGreaterThan(0)
    expect(stats?.hedges?.sent).toBeLessThanOrEqual(calls * 0.05)
    expect(server.stats.requests).toBeLessThanOrEqual(calls * 1.05)
    expect(server.stats.requests).toBe(calls + (stats?.hedges?.sent ?? NaN))
  })

  it('hedges through client.fetch', async () => {
    firstStalls('/fetch')
    const api = client({ hedge: HEDGE_EVERY_CALL })
    const response = await api.fetch('/fetch')
    expect(await response.text()).toBe('ok')
    expect(response.attempts.map((a) => a.hedge)).toEqual([false, true])
  })

  it('hedges through the dispatcher face, for undici.request and the global fetch', async () => {
    firstStalls('/dispatch')
    firstStalls('/global-fetch')
    const api = client({ hedge: HEDGE_EVERY_CALL })
    const started = performance.now()
    const viaRequest = await undiciRequest(`${server.url}/dispatch`, { dispatcher: api.dispatcher })
    expect(await viaRequest.body.text()).toBe('ok')
    const viaFetch = await fetch(`${server.url}/global-fetch`, {
      dispatcher: api.dispatcher,
    } as RequestInit)
    expect(await viaFetch.text()).toBe('ok')
    expect(performance.now() - started).toBeLessThan(8_000)
    expect(api.stats().origins[0]?.hedges).toMatchObject({ sent: 2, won: 2 })
  })
})

describe("a request's own hedge on a client without hedging (issue 34, 1)", () => {
  it('hedges on a warm origin as a client with hedge: true would', async () => {
    const api = client()
    for (let i = 0; i < 40; i++) await (await api.request('/warm')).body.dump()
    firstStalls('/own-hedge')
    const started = performance.now()
    const response = await api.request('/own-hedge', { hedge: { delay: 50 } })
    expect(await response.body.text()).toBe('ok')
    expect(performance.now() - started).toBeLessThan(5_000)
    expect(response.attempts.map((a) => a.hedge)).toEqual([false, true])
    expect(api.stats().origins[0]?.hedges).toMatchObject({ sent: 1, won: 1 })
  })

  it('says in the record, and in explain(), when a due hedge was not sent', async () => {
    // A cold origin: no calls yet to give hedges a share.
    server.route('/cold', { latency: 150 })
    const api = client({ origin: server.url })
    const response = await api.request('/cold', { hedge: { delay: 20 } })
    await response.body.dump()
    expect(response.attempts).toHaveLength(1)
    expect(response.attempts[0]?.hedgeRefused).toBe(
      'hedges to this origin have used their share, 0.05 of calls in 10 s',
    )
    expect(explain(response)).toContain('(no hedge: hedges to this origin have used their share')
  })
})
