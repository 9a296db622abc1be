// agent.totalConnections (issue 38 item 3): a cap on connections across origins, counted from
// the servers' side on real loopback sockets.
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createClient, type Client } from '../../src/index.ts'

/** Connections open at the servers, all of them together, and the most seen at once. */
interface Census {
  open: number
  max: number
}

async function startServers(count: number, census: Census, delay = 5): Promise<Server[]> {
  const servers: Server[] = []
  for (let i = 0; i < count; i++) {
    const server = createServer((_req, res) => {
      setTimeout(() => res.end('ok'), delay)
    })
    server.on('connection', (socket: Socket) => {
      census.open++
      let counted = true
      // A client that closes a connection sends a FIN first: the server's 'end'.
      const gone = () => {
        if (counted) census.open--
        counted = false
      }
      socket.once('end', gone)
      socket.once('close', gone)
      // Looked at once the events already on the wire are read: a close the client made before
      // this connect is then counted, whatever order the poll returned them in.
      setImmediate(() => {
        census.max = Math.max(census.max, census.open)
      })
    })
    server.listen(0, '127.0.0.1')
    servers.push(server)
  }
  await Promise.all(servers.map((server) => once(server, 'listening')))
  return servers
}

const origin = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

function track(client: Client, servers: Server[]): void {
  cleanup.push(
    async () => Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve)))),
    () => client.destroy(),
  )
}

describe('agent.totalConnections', () => {
  it('200 origins x 20 calls at once with a cap of 64: never more than 64 open, every call succeeds', async () => {
    const census: Census = { open: 0, max: 0 }
    const servers = await startServers(200, census)
    // A deadline with room for a loaded machine: 4,000 connects go through 64 places, one request
    // each (undici's pools bind a request to the connection it waits for).
    const client = createClient({ agent: { totalConnections: 64 }, deadline: 45_000 })
    track(client, servers)
    let peak = 0
    const watch = setInterval(() => {
      const totals = client.stats().connections
      if (totals !== undefined) peak = Math.max(peak, totals.open + totals.connecting)
    }, 5)
    try {
      const calls = servers.flatMap((server) =>
        Array.from({ length: 20 }, async () => {
          const res = await client.request(`${origin(server)}/`)
          return res.body.text()
        }),
      )
      const bodies = await Promise.all(calls)
      expect(bodies.filter((b) => b === 'ok')).toHaveLength(4_000)
    } finally {
      clearInterval(watch)
    }
    expect(census.max).toBeLessThanOrEqual(64)
    expect(peak).toBeLessThanOrEqual(64)
    // The cap was what bound it: the connections were all in use at some point.
    expect(census.max).toBeGreaterThanOrEqual(60)
    expect(client.stats().connections).toMatchObject({ limit: 64, waiting: 0 })
    expect(client.stats().connections!.evicted).toBeGreaterThan(0)
  }, 120_000)

  it('closes the least recently used idle connection of another origin to make room', async () => {
    const census: Census = { open: 0, max: 0 }
    const [a, b] = await startServers(2, census)
    const client = createClient({ agent: { totalConnections: 2 } })
    track(client, [a!, b!])
    const both = await Promise.all([
      client.request(`${origin(a!)}/`),
      client.request(`${origin(a!)}/`),
    ])
    await Promise.all(both.map((res) => res.body.text()))
    expect(client.stats().origins.find((o) => o.origin === origin(a!))?.connections).toMatchObject({
      open: 2,
      idle: 2,
      busy: 0,
    })
    await (await client.request(`${origin(b!)}/`)).body.text()
    const stats = client.stats()
    expect(stats.connections).toMatchObject({ open: 2, evicted: 1 })
    expect(stats.origins.find((o) => o.origin === origin(a!))?.connections?.open).toBe(1)
    expect(stats.origins.find((o) => o.origin === origin(b!))?.connections?.open).toBe(1)
  })

  it('gives a place back when its connection closes, with nothing evicted', async () => {
    const census: Census = { open: 0, max: 0 }
    const [closing] = await startServers(1, census)
    const [other] = await startServers(1, census)
    // The server closes each connection after its response.
    closing!.prependListener('request', (_req, res) => res.setHeader('connection', 'close'))
    const client = createClient({ agent: { totalConnections: 1 } })
    track(client, [closing!, other!])
    await (await client.request(`${origin(closing!)}/`)).body.text()
    await vi.waitFor(() => expect(client.stats().connections?.open).toBe(0), { timeout: 10_000 })
    await (await client.request(`${origin(other!)}/`)).body.text()
    expect(client.stats().connections).toMatchObject({ open: 1, evicted: 0 })
  })

  it('waits for a busy connection to go idle', async () => {
    const census: Census = { open: 0, max: 0 }
    const [slow] = await startServers(1, census, 400)
    const [fast] = await startServers(1, census)
    const client = createClient({ agent: { totalConnections: 1 } })
    track(client, [slow!, fast!])
    // The one place is busy for 400 ms: the next origin's connect waits, then takes it.
    const held = client.request(`${origin(slow!)}/`)
    await vi.waitFor(() => expect(client.stats().connections?.busy).toBe(1))
    const waited = await client.request(`${origin(fast!)}/`)
    await waited.body.text()
    await (await held).body.text()
    expect(census.max).toBe(1)
  })

  describe('a wait that ends', () => {
    // A server whose body trickles for 2 s: its connection stays busy, headers or not.
    let server: HttpServer
    let other: Server
    beforeAll(async () => {
      server = createHttpServer((_req, res) => {
        res.writeHead(200)
        res.write('a')
        setTimeout(() => res.end('b'), 2_000)
      })
      server.listen(0, '127.0.0.1')
      await once(server, 'listening')
      other = (await startServers(1, { open: 0, max: 0 }))[0]!
    })
    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve))
      await new Promise((resolve) => other.close(resolve))
    })

    it("ends at the call's deadline, and leaves the queue (undici cancels the connect)", async () => {
      const client = createClient({ agent: { totalConnections: 1 }, retry: false })
      cleanup.push(() => client.destroy())
      const busy = await client.request(`${origin(server)}/`)
      const error = await client
        .request(`${origin(other)}/`, { deadline: 300 })
        .catch((e: unknown) => e)
      expect(error).toMatchObject({ code: 'NQ_DEADLINE_EXCEEDED' })
      // Well before the busy connection frees its place (1.7 s later).
      await vi.waitFor(() => expect(client.stats().connections?.waiting).toBe(0), {
        timeout: 1_000,
      })
      await busy.body.text()
    })

    it('fails with NQ_CONNECTION_LIMIT after headersTimeout at most', async () => {
      const client = createClient({
        agent: { totalConnections: 1, headersTimeout: 200 },
        retry: false,
      })
      cleanup.push(() => client.destroy())
      const busy = await client.request(`${origin(server)}/`)
      const error = await client.request(`${origin(other)}/`).catch((e: unknown) => e)
      expect(error).toMatchObject({ code: 'NQ_CONNECTION_LIMIT', local: true })
      expect((error as Error).message).toMatch(
        /all 1 connections \(agent.totalConnections\) stayed busy for 200 ms/,
      )
      await busy.body.text()
    })
  })
})
