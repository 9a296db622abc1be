import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { RetryBudget, ThrottledError, createClient, type Client } from '../../src/index.ts'
import { createFaultServer, seededRandom, type FaultServer } from '../../src/testing/index.ts'

let server: FaultServer
let clients: Client[] = []

beforeEach(async () => {
  server = await createFaultServer()
  server.route('/down', 503)
})

afterEach(async () => {
  await Promise.all(clients.map((c) => c.destroy()))
  clients = []
  await server.close()
})

const fast = { baseDelay: 1 }

describe('the retry budget against the fault server', () => {
  it('refuses a retry once spent: the 503 goes back, and the record says the budget refused', async () => {
    // Room for two failed retries in the window, and nothing from the ratio.
    const client = createClient({
      origin: server.url,
      retry: { ...fast, budget: { ratio: 0, minRetriesPerSecond: 0.2 } },
    })
    clients.push(client)
    const first = await client.request('/down')
    await first.body.dump()
    expect(first.attempts).toHaveLength(3)
    const second = await client.request('/down')
    await second.body.dump()
    expect(second.statusCode).toBe(503)
    expect(second.attempts).toHaveLength(1)
    expect(second.attempts[0]?.decision).toMatchObject({ action: 'return', code: 'budget' })
    expect(second.attempts[0]?.decision?.reason).toMatch(
      /^status 503 is retryable, but the retry budget refused: 2 failed and 0 pending retries of 2 allowed/,
    )
    expect(server.stats.requests).toBe(4)
    expect(client.stats().origins[0]).toMatchObject({ retriesAllowed: 2, retriesRefused: 1 })
  })

  it('a flood of 4xx leaves the budget untouched: it neither spends nor refuses (faults.md 15)', async () => {
    server.route('/missing', 404)
    const budget = new RetryBudget({ ratio: 0, minRetriesPerSecond: 0.1 })
    const client = createClient({ origin: server.url, retry: { ...fast, budget } })
    clients.push(client)
    for (let i = 0; i < 200; i++) {
      const response = await client.request('/missing')
      expect(response.statusCode).toBe(404)
      await response.body.dump()
    }
    expect(budget.stats).toMatchObject({ allowed: 0, refused: 0, pending: 0 })
    // Its one retry in the window is still there for the first real failure.
    const down = await client.request('/down')
    await down.body.dump()
    expect(down.attempts).toHaveLength(2)
    expect(server.stats.requests).toBe(202)
  })

  it('one RetryBudget instance caps the retries of several clients together', async () => {
    const shared = new RetryBudget({ ratio: 0, minRetriesPerSecond: 0.2 })
    const a = createClient({ origin: server.url, retry: { ...fast, budget: shared } })
    const b = createClient({ origin: server.url, retry: { ...fast, budget: shared } })
    clients.push(a, b)
    await (await a.request('/down')).body.dump()
    const fromB = await b.request('/down')
    await fromB.body.dump()
    expect(fromB.attempts).toHaveLength(1)
    expect(shared.stats).toMatchObject({ allowed: 2, refused: 1 })
  })

  it('a request may go without the budget, or use another, but not define one', async () => {
    const client = createClient({
      origin: server.url,
      retry: { ...fast, budget: { ratio: 0, minRetriesPerSecond: 0 } },
    })
    clients.push(client)
    const limited = await client.request('/down')
    await limited.body.dump()
    expect(limited.attempts).toHaveLength(1)
    const free = await client.request('/down', { retry: { budget: false } })
    await free.body.dump()
    expect(free.attempts).toHaveLength(3)
    await expect(
      client.request('/down', { retry: { budget: { ratio: 1 } } }),
    ).rejects.toMatchObject({ code: 'NQ_INVALID_OPTION', option: 'retry.budget' })
  })
})

describe('adaptive throttling against the fault server', () => {
  it('rejects calls locally once the origin keeps answering 503, sending nothing for them', async () => {
    const client = createClient({
      origin: server.url,
      retry: false,
      throttle: { minRequests: 5 },
      random: seededRandom(7),
    })
    clients.push(client)
    const outcomes: string[] = []
    for (let i = 0; i < 60; i++) {
      try {
        const response = await client.request('/down')
        await response.body.dump()
        outcomes.push(String(response.statusCode))
      } catch (error) {
        expect(error).toBeInstanceOf(ThrottledError)
        expect((error as ThrottledError).attempts).toEqual([])
        expect((error as ThrottledError).local).toBe(true)
        outcomes.push('throttled')
      }
    }
    const throttled = outcomes.filter((o) => o === 'throttled').length
    // At most 80% rejected once the window holds 5 requests: about 0.8 * 55 = 44 of them.
    expect(throttled).toBeGreaterThan(25)
    expect(server.stats.requests).toBe(60 - throttled)
    expect(client.stats().origins[0]?.shed.throttled).toBe(throttled)
  })

  it('never rejects while the origin answers, whatever the status', async () => {
    server.route('/missing', 404)
    const client = createClient({ origin: server.url, throttle: { minRequests: 1 } })
    clients.push(client)
    for (let i = 0; i < 30; i++) await (await client.request('/missing')).body.dump()
    expect(server.stats.requests).toBe(30)
  })
})
