// faults.md items 24 and 29: peers that are slow on purpose or by accident. Every wait is bounded
// by the call's deadline, and a slow reader still gets every byte.
import type { Socket } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { createClient, type Client } from '../../src/index.ts'
import { createFaultServer } from '../../src/testing/index.ts'
import { createRawServer, type RawServer } from '../support/raw-server.ts'
import { eventually } from './helpers.ts'

let raw: RawServer | undefined
let client: Client | undefined

afterEach(async () => {
  await client?.destroy()
  await raw?.close()
  client = undefined
  raw = undefined
})

describe('bounded by the deadline (faults.md 24)', () => {
  it('slowloris headers, one byte every 50 ms and never finished, end at the deadline', async () => {
    const timers = new Set<NodeJS.Timeout>()
    raw = await createRawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nx-slow: ')
      const timer = setInterval(() => socket.write('a'), 50)
      timers.add(timer)
      socket.on('close', () => clearInterval(timer))
    })
    client = createClient({ origin: raw.url, deadline: 600, retry: false })
    const started = performance.now()
    try {
      await expect(client.request('/')).rejects.toMatchObject({ code: 'NQ_DEADLINE_EXCEEDED' })
      expect(performance.now() - started).toBeLessThan(600 + 1_500)
      await eventually(() => raw?.open === 0)
    } finally {
      for (const timer of timers) clearInterval(timer)
    }
  })

  it('a server that never reads the upload: the call ends at the deadline, the socket closed', async () => {
    // Once the request head is in, the server reads nothing more: the 32 MiB body backs up.
    const paused: Socket[] = []
    raw = await createRawServer((socket) => {
      socket.pause()
      paused.push(socket)
    })
    client = createClient({ origin: raw.url, deadline: 800, retry: false })
    const started = performance.now()
    await expect(
      client.request('/', { method: 'PUT', body: Buffer.alloc(32 * 1024 * 1024) }),
    ).rejects.toMatchObject({ code: 'NQ_DEADLINE_EXCEEDED' })
    expect(performance.now() - started).toBeLessThan(800 + 1_500)
    // The client closed its end: a server that reads again sees the connection go.
    for (const socket of paused) socket.resume()
    await eventually(() => raw?.open === 0)
  })
})

describe('a slow reader (faults.md 29)', () => {
  it('gets every byte of a body that came on a retry, through request and fetch', async () => {
    const server = await createFaultServer()
    try {
      client = createClient({ origin: server.url, retry: { baseDelay: 1, maxDelay: 5 } })
      server.route('/big', (_request, index) =>
        index % 2 === 0 ? 503 : { body: { size: 1_000_000 } },
      )
      const response = await client.request('/big')
      expect(response.attempts.map((a) => a.statusCode)).toEqual([503, 200])
      let bytes = 0
      for await (const chunk of response.body) {
        bytes += (chunk as Buffer).length
        await delay(2)
      }
      expect(bytes).toBe(1_000_000)

      const fetched = await client.fetch('/big')
      const reader = (fetched.body as ReadableStream<Uint8Array>).getReader()
      bytes = 0
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        bytes += value.length
        await delay(2)
      }
      expect(bytes).toBe(1_000_000)
    } finally {
      await client?.destroy()
      await server.close()
    }
  })
})
