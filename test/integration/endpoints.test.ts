import diagnosticsChannel from 'node:diagnostics_channel'
import { createServer as createHttpsServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createClient, type Client, type EndpointEvent } from '../../src/index.ts'
import { createFaultServer, type FaultServer } from '../../src/testing/index.ts'
import { selfSignedCertificate } from '../support/certificates.ts'
import { eventually } from './helpers.ts'

// On Linux every 127.x.y.z is a local address: three servers on one port stand for the three
// addresses of one hostname, as a headless Kubernetes service or a DNS round robin gives them.
const ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3']

const cleanup: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

async function threeServers(): Promise<FaultServer[]> {
  const first = await createFaultServer({ host: '127.0.0.1' })
  const servers = [first]
  for (const host of ADDRESSES.slice(1)) {
    servers.push(await createFaultServer({ host, port: first.port }))
  }
  cleanup.push(() => Promise.all(servers.map((s) => s.close())))
  return servers
}

function client(port: number, options: Parameters<typeof createClient>[0] = {}): Client {
  const c = createClient({
    origin: `http://svc.test:${port}`,
    deadline: 10_000,
    endpoints: { resolve: () => ADDRESSES },
    ...options,
  })
  cleanup.push(() => c.destroy())
  return c
}

function endpointEvents(): EndpointEvent[] {
  const events: EndpointEvent[] = []
  const listener = (message: unknown) => events.push(message as EndpointEvent)
  diagnosticsChannel.subscribe('netiquette:endpoint', listener)
  cleanup.push(() => {
    diagnosticsChannel.unsubscribe('netiquette:endpoint', listener)
  })
  return events
}

async function get(api: Client, path = '/'): Promise<string | undefined> {
  const response = await api.request(path)
  expect(response.statusCode).toBe(200)
  await response.body.text()
  return response.attempts.at(-1)?.address
}

describe('endpoints on loopback: one name, three addresses', () => {
  it('spreads calls over every address, with the name as Host', async () => {
    const servers = await threeServers()
    const api = client(servers[0]!.port)
    const used = new Set<string | undefined>()
    for (let i = 0; i < 30; i++) used.add(await get(api))
    expect([...used].sort()).toEqual(ADDRESSES)
    for (const server of servers) {
      expect(server.stats.requests).toBeGreaterThan(0)
      expect(server.requests[0]?.headers.host).toBe(`svc.test:${server.port}`)
    }
  })

  it('moves traffic off an address that turns slow mid-run, and the calls keep succeeding', async () => {
    const servers = await threeServers()
    const api = client(servers[0]!.port)
    for (let i = 0; i < 30; i++) await get(api)
    // 127.0.0.3 now takes 300 ms per answer; the others stay fast. Ten calls at once: with
    // attempts in flight everywhere, each address gets some of them.
    servers[2]!.route('/', { latency: 300 })
    const batch = () => Promise.all(Array.from({ length: 10 }, () => get(api)))
    // Until 127.0.0.3 has answered once (its cost starts from the warm-up's latency, which on a
    // loaded machine can be high enough that a batch or two goes elsewhere): at most five.
    let reached = false
    for (let i = 0; i < 5 && !reached; i++) reached = (await batch()).includes('127.0.0.3')
    expect(reached).toBe(true)
    const slow = () => api.stats().origins[0]?.endpoints?.find((e) => e.address === '127.0.0.3')
    expect(slow()?.latency).toBeGreaterThan(250)
    // Its first slow answer made it the costly choice: round robin would send it a third of the
    // next 100 calls.
    for (const s of servers) s.resetStats()
    for (let i = 0; i < 10; i++) await batch()
    expect(servers[2]!.stats.requests).toBeLessThan(5)
    expect(servers[0]!.stats.requests + servers[1]!.stats.requests).toBeGreaterThan(95)
  })

  it('ejects an address whose server dies, keeps succeeding, and readmits it once it is back', async () => {
    const events = endpointEvents()
    const servers = await threeServers()
    const { port } = servers[0]!
    const api = client(port, {
      endpoints: {
        resolve: () => ADDRESSES,
        ejection: { baseTime: 300, consecutiveFailures: 3 },
      },
      // Refused connects are retried on another address; the breaker would see them too.
      breaker: false,
    })
    // Make 127.0.0.2 the cheapest address, so that the choice keeps drawing it once it is dead
    // (an address slower than both others would never be drawn at all, dead or alive).
    servers[0]!.route('/', { latency: 20 })
    servers[2]!.route('/', { latency: 20 })
    for (let i = 0; i < 20; i++) await get(api)
    servers[0]!.route('/', 200)
    servers[2]!.route('/', 200)
    await servers[1]!.close()
    // Every call still succeeds: a refused connect never reached a server, so it is retried on
    // another address at once. The dead address is drawn whenever it is one of the two (its
    // fast refusals never make it look slow), and its third refusal in a row ejects it.
    for (let i = 0; i < 100 && !events.some((e) => e.action === 'ejected'); i++) {
      expect(await get(api)).not.toBe('127.0.0.2')
    }
    const ejected = events.find((e) => e.action === 'ejected')
    expect(ejected).toMatchObject({ address: '127.0.0.2', reason: '3 failures in a row' })
    const dead = api.stats().origins[0]?.endpoints?.find((e) => e.address === '127.0.0.2')
    expect(dead?.failures).toBeGreaterThanOrEqual(3)

    // The server comes back on the same address and port; after its ejection the address is
    // readmitted on its own and gets calls again.
    const revived = await createFaultServer({ host: '127.0.0.2', port })
    cleanup.push(() => revived.close())
    await eventually(() => {
      void get(api).catch(() => {})
      return revived.stats.requests > 0
    }, 8_000)
    expect(events.some((e) => e.action === 'readmitted' && e.address === '127.0.0.2')).toBe(true)
  })

  it('verifies TLS against the hostname, not the address it connects to', async () => {
    const good = await selfSignedCertificate('svc.test', 'DNS:svc.test')
    const other = await selfSignedCertificate('other.test', 'DNS:other.test')
    const servers: Server[] = []
    const listen = async (host: string, port: number, cert: typeof good) => {
      const server = createHttpsServer(cert, (req, res) => res.end(`${host} ${req.headers.host}`))
      servers.push(server)
      await new Promise<void>((resolve) => server.listen(port, host, resolve))
      return (server.address() as AddressInfo).port
    }
    cleanup.push(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))))
    const port = await listen('127.0.0.2', 0, good)
    await listen('127.0.0.3', port, other)
    const make = (addresses: string[], ca: Buffer) => {
      const c = createClient({
        origin: `https://svc.test:${port}`,
        endpoints: { resolve: () => addresses },
        agent: { connect: { ca } },
        retry: false,
      })
      cleanup.push(() => c.destroy())
      return c
    }
    const response = await make(['127.0.0.2'], good.cert).request('/')
    expect(await response.body.text()).toBe(`127.0.0.2 svc.test:${port}`)
    // A server whose certificate names another host is refused, as it would be without endpoints.
    await expect(make(['127.0.0.3'], other.cert).request('/')).rejects.toMatchObject({
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    })
  })
})
