import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import Fastify from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import {
  DeadlineExceededError,
  createClient,
  currentDeadline,
  expressDeadline,
  fastifyDeadline,
  httpDeadline,
  type Client,
} from '../../src/index.ts'
import { createFaultServer, type FaultServer } from '../../src/testing/index.ts'

const SLACK = 400
const cleanup: (() => Promise<unknown>)[] = []

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  cleanup.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(resolve)
      }),
  )
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function clientFor(origin: string): Client {
  const client = createClient({ origin })
  cleanup.push(() => client.destroy())
  return client
}

interface Hop {
  /** The deadline the hop saw when its handler started, in ms left. */
  seen?: number
  /** When (ms after the caller started) the hop's own work ended. */
  endedAt?: number
  /** What its own outbound call ended with: a status, or an error. */
  status?: number
  error?: unknown
}

describe('three hops', () => {
  it('shrink the deadline at every hop, and no hop works past the caller’s deadline', async () => {
    const started = performance.now()
    const since = () => performance.now() - started
    const a: Hop = {}
    const b: Hop = {}
    const c: Hop = {}

    // C never answers on its own; it only stops when its caller goes away.
    const serverC = createServer(
      httpDeadline((req: IncomingMessage, res: ServerResponse) => {
        c.seen = currentDeadline()?.remaining()
        res.on('close', () => (c.endedAt = since()))
        void req.resume()
      }),
    )
    const urlC = await listen(serverC)

    /** A hop that calls the next one with the deadline it inherited, and reports back. */
    const relay = (hop: Hop, next: Client) =>
      httpDeadline(async (_req: IncomingMessage, res: ServerResponse) => {
        hop.seen = currentDeadline()?.remaining()
        try {
          const response = await next.request('/')
          hop.status = response.statusCode
          res.statusCode = response.statusCode
          res.end(await response.body.text())
        } catch (error) {
          hop.error = error
          res.statusCode = 504
          res.end()
        } finally {
          hop.endedAt = since()
        }
      })
    const urlB = await listen(createServer(relay(b, clientFor(urlC))))
    const urlA = await listen(createServer(relay(a, clientFor(urlB))))

    const caller = clientFor(urlA)
    const outcome = await caller.request('/', { deadline: 600 }).then(
      (response) => response.statusCode,
      (error: unknown) => error,
    )
    const callerEnded = since()
    // Each hop gives up a margin before its caller does, so the 504 of the hop below may come
    // back just in time; either way the caller is answered at its deadline, not later.
    if (typeof outcome === 'number') expect(outcome).toBe(504)
    else expect(outcome).toBeInstanceOf(DeadlineExceededError)
    expect(callerEnded).toBeLessThan(600 + SLACK)

    // Every hop saw less time than the one before it.
    expect(a.seen).toBeLessThanOrEqual(595)
    expect(b.seen).toBeLessThan(a.seen as number)
    expect(c.seen).toBeLessThan(b.seen as number)

    // The hops finish on their own timers, around the time the caller does: wait for them.
    for (const hop of [a, b, c]) {
      await expect.poll(() => hop.endedAt, { timeout: 5000 }).toBeDefined()
    }
    // B's call to C, which never answers, failed on the deadline B inherited; A's call to B
    // failed the same way or got B's 504.
    expect(b.error).toBeInstanceOf(DeadlineExceededError)
    expect((b.error as Error).message).toContain('inherited from the incoming request')
    if (a.error !== undefined) expect(a.error).toBeInstanceOf(DeadlineExceededError)
    else expect(a.status).toBe(504)
    // Nobody was still working after the caller's deadline: C's request was closed under it.
    for (const hop of [a, b, c]) expect(hop.endedAt).toBeLessThan(600 + SLACK)
  })
})

describe('server helpers with real frameworks', () => {
  let backend: FaultServer

  async function startBackend(): Promise<Client> {
    backend = await createFaultServer()
    cleanup.push(() => backend.close())
    return clientFor(backend.url)
  }
  const sentToBackend = () => Number(backend.requests.at(-1)?.headers['x-deadline-remaining-ms'])

  it('Express: a JSON POST handled after express.json() inherits the deadline', async () => {
    const toBackend = await startBackend()
    const app = express()
    app.use(expressDeadline())
    app.use(express.json())
    app.post('/', async (req, res) => {
      await (await toBackend.request('/')).body.dump()
      res.json({ got: (req.body as { n: number }).n })
    })
    const url = await listen(createServer(app))
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-deadline-remaining-ms': '700' },
      body: JSON.stringify({ n: 1 }),
    })
    expect(await res.json()).toEqual({ got: 1 })
    expect(sentToBackend()).toBeLessThanOrEqual(695)
    expect(sentToBackend()).toBeGreaterThan(695 - SLACK)
  })

  it('Fastify: an onRequest hook carries grpc-timeout into the handler', async () => {
    const toBackend = await startBackend()
    const app = Fastify()
    cleanup.push(() => app.close())
    app.addHook('onRequest', fastifyDeadline())
    app.post('/', async (request) => {
      await (await toBackend.request('/')).body.dump()
      return { got: (request.body as { n: number }).n }
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as AddressInfo
    const res = await fetch(`http://127.0.0.1:${port}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'grpc-timeout': '900m' },
      body: JSON.stringify({ n: 2 }),
    })
    expect(await res.json()).toEqual({ got: 2 })
    expect(sentToBackend()).toBeLessThanOrEqual(895)
    expect(sentToBackend()).toBeGreaterThan(895 - SLACK)
  })

  it('ignores a garbage header: the outbound call keeps its own deadline', async () => {
    const toBackend = await startBackend()
    const url = await listen(
      createServer(
        httpDeadline(async (_req: IncomingMessage, res: ServerResponse) => {
          await (await toBackend.request('/')).body.dump()
          res.end()
        }),
      ),
    )
    const res = await fetch(url, { headers: { 'x-deadline-remaining-ms': '-1; drop table' } })
    expect(res.status).toBe(200)
    // The client's default deadline, 30 s, less the margin.
    expect(sentToBackend()).toBeGreaterThan(29_000)
  })
})

describe('the propagation header on the wire', () => {
  async function echoServer(): Promise<{ origin: string; seen: (string | undefined)[] }> {
    const seen: (string | undefined)[] = []
    const origin = await listen(
      createServer((req, res) => {
        seen.push(req.headers['x-deadline-remaining-ms'] as string | undefined)
        res.end('ok')
      }),
    )
    return { origin, seen }
  }

  it('goes out on every call without touching a header record a middleware passed down', async () => {
    const { origin, seen } = await echoServer()
    // A middleware's own record, reused for every call: it must not collect the header.
    const shared: Record<string, string> = { 'x-tenant': 'acme' }
    const client = createClient({
      origin,
      deadline: 10_000,
      middleware: (defaults) => [
        (request, next) => next({ ...request, headers: shared }),
        ...defaults,
      ],
    })
    cleanup.push(() => client.destroy())
    const plain = clientFor(origin)
    for (let i = 0; i < 2; i++) await (await client.request('/')).body.text()
    const given = { 'x-caller': '1' }
    await (await plain.request('/', { headers: given, deadline: 5_000 })).body.text()
    expect(shared).toEqual({ 'x-tenant': 'acme' })
    expect(given).toEqual({ 'x-caller': '1' })
    expect(seen).toHaveLength(3)
    for (const value of seen.slice(0, 2)) expect(Number(value)).toBeGreaterThan(9_000)
    expect(Number(seen[2])).toBeGreaterThan(4_000)
    expect(Number(seen[2])).toBeLessThanOrEqual(5_000)
  })
})
