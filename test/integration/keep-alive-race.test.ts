// The keep-alive race (issue 38 item 2) on real sockets: a raw server whose idle timer "fires as
// the request arrives". On a connection that sat idle longer than its idle timeout it reads the
// request and closes the connection without an answer: with a reset (what a server that closes
// a socket holding unread bytes sends) or a FIN. Each call's client keeps idle connections for
// 10 s, as a client misconfigured against a server with a 600 ms idle timeout would. (The agent
// learns only from closes after at least 500 ms idle, so the timeout here is not shorter.)
import { once } from 'node:events'
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { createClient, explain, type AttemptRecord, type Client } from '../../src/index.ts'

const IDLE = 600
// The idle gap between calls: past the server's idle timeout, with room for a slow machine.
const GAP = 700

interface RaceServer {
  origin: string
  connections: number
  resets: number
  /** Reset every request from now on, whatever its connection's idle time. */
  resetAll: boolean
  server: Server
}

/**
 * A server with an idle timeout of `IDLE` ms that acts on it only when a request arrives (so
 * every request on a connection idle for longer meets the race), with `close` as its way out.
 * With `finWhenIdle`, it also closes idle connections by its timer, with a FIN, as most servers do.
 */
async function raceServer(
  close: 'reset' | 'fin',
  finWhenIdle = false,
  idle = IDLE,
): Promise<RaceServer> {
  const state = { origin: '', connections: 0, resets: 0, resetAll: false } as RaceServer
  state.server = createServer((socket: Socket) => {
    state.connections++
    let idleSince: number | undefined
    let buffered = ''
    let timer: NodeJS.Timeout | undefined
    socket.on('error', () => {})
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1')
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n')
        if (end < 0) return
        const head = buffered.slice(0, end)
        const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0)
        if (buffered.length < end + 4 + length) return
        buffered = buffered.slice(end + 4 + length)
        if (timer !== undefined) clearTimeout(timer)
        if (state.resetAll || (idleSince !== undefined && performance.now() - idleSince > idle)) {
          state.resets++
          if (close === 'reset') socket.resetAndDestroy()
          else socket.destroy()
          return
        }
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
        idleSince = performance.now()
        if (finWhenIdle) timer = setTimeout(() => socket.end(), idle)
      }
    })
  })
  state.server.listen(0, '127.0.0.1')
  await once(state.server, 'listening')
  state.origin = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}`
  return state
}

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

async function setup(close: 'reset' | 'fin', finWhenIdle = false, connections?: number) {
  const server = await raceServer(close, finWhenIdle)
  const client: Client = createClient({
    origin: server.origin,
    agent: { keepAliveTimeout: 10_000, ...(connections === undefined ? {} : { connections }) },
    // No retries of its own: what is retried here is the keep-alive race alone.
    retry: { maxRetries: 0 },
  })
  cleanup.push(
    () => new Promise((resolve) => server.server.close(resolve)),
    () => client.destroy(),
  )
  return { server, client }
}

function keepAliveTimeout(client: Client, origin: string): number | undefined {
  return client.stats().origins.find((o) => o.origin === origin)?.connections?.keepAliveTimeout
}

describe('the keep-alive race', () => {
  for (const close of ['reset', 'fin'] as const) {
    it(`retries a GET at once, outside maxRetries, when the server closed the idle connection (${close})`, async () => {
      const { server, client } = await setup(close)
      await (await client.request('/')).body.text()
      await sleep(GAP)
      const res = await client.request('/')
      expect(await res.body.text()).toBe('ok')
      expect(server.resets).toBe(1)
      expect(res.attempts).toHaveLength(2)
      expect(res.attempts[0]).toMatchObject({
        reused: true,
        error: close === 'reset' ? 'ECONNRESET' : 'UND_ERR_SOCKET',
        decision: { action: 'retry', delay: 0 },
      })
      expect(explain(res)).toContain('the server closed an idle connection as it was reused')
    })
  }

  it('learns from two races at the same idle age, and the races stop', async () => {
    // One connection: undici's pool would otherwise open a new one for the next call (it takes
    // the first of its clients that is free, here the one whose connection was reset).
    const { server, client } = await setup('reset', false, 1)
    await (await client.request('/')).body.text()
    for (let i = 0; i < 2; i++) {
      await sleep(GAP)
      const raced = await client.request('/')
      await raced.body.text()
      expect(raced.attempts.map((a) => a.reused)).toEqual([true, false])
    }
    // Two closes after about GAP ms idle: the client now keeps idle connections less than that.
    const learned = keepAliveTimeout(client, server.origin)
    expect(learned).toBeLessThan(IDLE)
    for (let i = 0; i < 2; i++) {
      await sleep(GAP)
      const next = await client.request('/')
      await next.body.text()
      expect(next.attempts).toHaveLength(1)
    }
    expect(server.resets).toBe(2)
  })

  it('closes the other connections idle as long, so the retry goes on a new one', async () => {
    const { server, client } = await setup('reset')
    // Two idle connections in the pool; the call meets the race on one of them.
    const pair = await Promise.all([client.request('/'), client.request('/')])
    await Promise.all(pair.map((res) => res.body.text()))
    await sleep(GAP)
    const res = await client.request('/')
    await res.body.text()
    expect(res.attempts.map((a) => a.reused)).toEqual([true, false])
    // One reset: the other stale connection was closed, not tried.
    expect(server.resets).toBe(1)
    expect(server.connections).toBe(3)
  })

  it('retries for free only on a reused connection: a server resetting every request gets one', async () => {
    const { server, client } = await setup('reset')
    await (await client.request('/')).body.text()
    // Idle for a moment (a connection reused back to back never met an idle timer).
    await sleep(50)
    server.resetAll = true
    const error = await client.request('/').then(
      () => undefined,
      (e: unknown) => e as { attempts: AttemptRecord[] },
    )
    if (error === undefined) throw new Error('expected the call to fail')
    const [first, second] = error.attempts
    expect(first).toMatchObject({ reused: true, decision: { action: 'retry', delay: 0 } })
    // A new connection reset before any answer is no keep-alive race: maxRetries (0) applies.
    expect(second?.reused).toBe(false)
    expect(second?.decision).toMatchObject({ action: 'fail', code: 'retries-exhausted' })
    expect(error.attempts).toHaveLength(2)
  })

  it('retries a POST with an Idempotency-Key; a POST without one that was written fails, saying why', async () => {
    const { server, client } = await setup('reset')
    await (await client.request('/')).body.text()
    await sleep(GAP)
    const keyed = await client.request('/', {
      method: 'POST',
      body: 'charge',
      headers: { 'idempotency-key': 'k-1' },
    })
    await keyed.body.text()
    expect(keyed.attempts.map((a) => a.reused)).toEqual([true, false])
    // Put the next POST on an idle connection again: a fresh client, same server.
    const plain = createClient({ origin: server.origin, agent: { keepAliveTimeout: 10_000 } })
    cleanup.push(() => plain.destroy())
    await (await plain.request('/')).body.text()
    await sleep(GAP)
    const error = await plain.request('/', { method: 'POST', body: 'charge' }).then(
      () => undefined,
      (e: unknown) => e as { code: string; attempts: readonly AttemptRecord[] },
    )
    if (error === undefined) throw new Error('expected the unkeyed POST to fail')
    expect(error.code).toBe('ECONNRESET')
    expect(error.attempts).toHaveLength(1)
    expect(error.attempts[0]).toMatchObject({
      reused: true,
      decision: { action: 'fail', code: 'unsafe-method' },
    })
    expect(explain(error)).toMatch(
      /the server closed an idle connection as it was reused, but POST is not idempotent and has no Idempotency-Key, and it was written/,
    )
    expect(server.resets).toBe(2)
  })

  it('learns the idle timeout from FINs on idle connections, before any race', async () => {
    const { server, client } = await setup('fin', true)
    expect(keepAliveTimeout(client, server.origin)).toBeUndefined()
    await (await client.request('/')).body.text()
    expect(keepAliveTimeout(client, server.origin)).toBe(10_000)
    // One close teaches nothing (a restart closes idle connections at any age); two that agree do.
    await sleep(GAP)
    expect(keepAliveTimeout(client, server.origin)).toBe(10_000)
    await (await client.request('/')).body.text()
    await sleep(GAP)
    const learned = keepAliveTimeout(client, server.origin)
    expect(learned).toBeLessThan(IDLE)
    // 0.75 of the idle age the client saw, a little less than the server's timer.
    expect(learned).toBeGreaterThanOrEqual(IDLE * 0.7)
    expect(server.resets).toBe(0)
  })

  it('learns nothing from resets of connections idle for less than 500 ms', async () => {
    const { server, client } = await setup('reset', false, 1)
    await (await client.request('/')).body.text()
    for (let i = 0; i < 2; i++) {
      await sleep(GAP)
      await (await client.request('/')).body.text()
    }
    expect(keepAliveTimeout(client, server.origin)).toBeLessThan(IDLE)
    // The same races, on a server that resets at once: a crash on a request, not an idle timer.
    const quick = await raceServer('reset', false, 20)
    const other = createClient({
      origin: quick.origin,
      agent: { keepAliveTimeout: 10_000, connections: 1 },
    })
    cleanup.push(
      () => new Promise((resolve) => quick.server.close(resolve)),
      () => other.destroy(),
    )
    await (await other.request('/')).body.text()
    for (let i = 0; i < 2; i++) {
      await sleep(60)
      await (await other.request('/')).body.text()
    }
    expect(quick.resets).toBe(2)
    expect(keepAliveTimeout(other, quick.origin)).toBe(10_000)
  })
})
