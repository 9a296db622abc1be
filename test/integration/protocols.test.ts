// The faults of the hardening checklist that exist on both protocols, run on each: HTTP/1.1 in
// cleartext and HTTP/2 over TLS (the fault server's `http2`). One suite, two runs: a fix made for
// one protocol that the other lacks fails here. Each test says which protocol served it.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createClient, type AttemptRecord, type Client } from '../../src/index.ts'
import { createFaultServer, type FaultServer } from '../../src/testing/index.ts'

const protocols = [
  { name: 'HTTP/1.1', server: {}, version: '1.1', protocol: undefined },
  { name: 'HTTP/2', server: { tls: true, http2: true }, version: '2.0', protocol: '2' },
] as const

const codes = (attempts: readonly AttemptRecord[]) => attempts.map((a) => a.statusCode ?? a.error)

describe.each(protocols)('$name', ({ server: serverOptions, version, protocol }) => {
  let server: FaultServer
  let client: Client

  beforeEach(async () => {
    server = await createFaultServer(serverOptions)
    client = createClient({
      origin: server.url,
      retry: { baseDelay: 1, maxDelay: 5 },
      agent: server.ca === undefined ? {} : { connect: { ca: server.ca } },
    })
  })

  afterEach(async () => {
    await client.destroy()
    expect(
      server.requests.every((r) => r.httpVersion === (version === '2.0' ? '2.0' : '1.1')),
    ).toBe(true)
    await server.close()
  })

  it('a reset before the headers is retried for a GET', async () => {
    server.route('/reset', [{ reset: 'before-headers' }, 200])
    const response = await client.request('/reset')
    await response.body.text()
    expect(response.statusCode).toBe(200)
    expect(response.attempts).toHaveLength(2)
    if (protocol !== undefined) expect(response.attempts[1]?.protocol).toBe(protocol)
  })

  it('a reset before the headers fails an unkeyed POST after one attempt', async () => {
    server.route('/reset', [{ reset: 'before-headers' }, 200])
    const error = await client.request('/reset', { method: 'POST', body: 'x' }).then(
      () => undefined,
      (e: unknown) => e as { attempts: AttemptRecord[] },
    )
    expect(error?.attempts).toHaveLength(1)
    expect(error?.attempts[0]?.decision?.code).toBe('unsafe-method')
  })

  it('a 503 with Retry-After is retried after the wait it asks', async () => {
    server.route('/busy', [{ status: 503, retryAfter: 0 }, 200])
    const response = await client.request('/busy')
    await response.body.text()
    expect(codes(response.attempts)).toEqual([503, 200])
    expect(response.attempts[0]?.decision?.delaySource).toBe('server')
  })

  it('a stall before the headers is cut by the attempt timeout and retried', async () => {
    server.route('/stall', [{ stall: 'before-headers' }, 200])
    const response = await client.request('/stall', { attemptTimeout: 200, deadline: 5_000 })
    await response.body.text()
    expect(codes(response.attempts)).toEqual(['NQ_ATTEMPT_TIMEOUT', 200])
  })

  it('a stall is ended by the deadline with a typed error', async () => {
    server.route('/stall', { stall: 'before-headers' })
    const error = await client.request('/stall', { deadline: 300 }).then(
      () => undefined,
      (e: unknown) => e as { code: string },
    )
    expect(error?.code).toBe('NQ_DEADLINE_EXCEEDED')
  })

  it('a reset in the middle of the body reaches the reader, with the attempts', async () => {
    server.route('/cut', { reset: 'mid-body', body: { size: 256 * 1024 } })
    const response = await client.request('/cut')
    const error = await response.body.arrayBuffer().then(
      () => undefined,
      (e: unknown) => e as { attempts?: unknown[] },
    )
    expect(error).toBeDefined()
    expect(error?.attempts).toHaveLength(1)
  })

  it('a restart that closes the port for 300 ms is ridden out by retries', async () => {
    await (await client.request('/warm')).body.text()
    const restarted = server.restart(300)
    const response = await client.request('/after', {
      deadline: 5_000,
      retry: { baseDelay: 50, maxDelay: 200 },
    })
    await response.body.text()
    await restarted
    expect(response.statusCode).toBe(200)
  })

  it('trailers arrive after the body', async () => {
    server.route('/trailers', { trailers: { 'x-checksum': 'abc' } })
    const response = await client.request('/trailers')
    await response.body.text()
    expect(response.trailers['x-checksum']).toBe('abc')
  })
})
