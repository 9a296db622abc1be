import diagnosticsChannel from 'node:diagnostics_channel'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  createClient,
  type AttemptEndMessage,
  type CallEndMessage,
  type Client,
  type Middleware,
} from '../../src/index.ts'
import { createFaultServer, type FaultServer } from '../../src/testing/index.ts'

let server: FaultServer
let client: Client | undefined

beforeEach(async () => {
  server = await createFaultServer()
})

afterEach(async () => {
  await client?.destroy()
  client = undefined
  await server.close()
})

function collect<T>(channel: string): { messages: T[]; stop: () => void } {
  const messages: T[] = []
  const listener = (message: unknown) => messages.push(message as T)
  diagnosticsChannel.subscribe(channel, listener)
  return { messages, stop: () => diagnosticsChannel.unsubscribe(channel, listener) }
}

describe('diagnostics channels', () => {
  it('publish call and attempt ends with their records', async () => {
    server.route('/reset', { reset: 'before-headers' })
    client = createClient({ origin: server.url, retry: false })
    const calls = collect<CallEndMessage>('netiquette:call:end')
    const attempts = collect<AttemptEndMessage>('netiquette:attempt:end')
    try {
      await (await client.request('/ok')).body.text()
      await client.request('/reset').catch(() => undefined)
    } finally {
      calls.stop()
      attempts.stop()
    }
    expect(calls.messages.map((m) => [m.path, m.statusCode, m.attempts.length])).toEqual([
      ['/ok', 200, 1],
      ['/reset', undefined, 1],
    ])
    expect(calls.messages[1]?.error).toMatchObject({ attempts: calls.messages[1]?.attempts })
    expect(attempts.messages.map((m) => m.attempt.statusCode ?? m.attempt.error)).toEqual([
      200,
      expect.stringMatching(/ECONNRESET|UND_ERR_SOCKET/),
    ])
  })
})

describe('client wiring', () => {
  it('middleware as a function receives the defaults and returns the stack, outermost first', async () => {
    const order: string[] = []
    const tag =
      (name: string): Middleware =>
      async (request, next) => {
        order.push(name)
        return next(request)
      }
    client = createClient({
      origin: server.url,
      middleware: (defaults) => [tag('outer'), ...defaults, tag('inner')],
    })
    await (await client.request('/x')).body.text()
    expect(order).toEqual(['outer', 'inner'])
  })

  it('keeps per-origin state bounded and disposes what it evicts', async () => {
    const other = await createFaultServer()
    const disposed: string[] = []
    const SLOT = Symbol('test-slot')
    const recordOrigin: Middleware = async (request, next) => {
      request.originState.slot(SLOT, () => ({ dispose: () => disposed.push(request.origin) }))
      return next(request)
    }
    client = createClient({ maxOrigins: 1, middleware: [recordOrigin] })
    try {
      await (await client.request(`${server.url}/a`)).body.text()
      await (await client.request(`${other.url}/b`)).body.text()
      expect(disposed).toEqual([server.url])
      await client.close()
      expect(disposed).toEqual([server.url, other.url])
    } finally {
      await other.close()
    }
  })
})
