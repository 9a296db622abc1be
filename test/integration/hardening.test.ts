// Regression tests for the defects of the hardening issue (#17), one describe each, named after
// what a user relies on. Each failed on main before its fix.
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import type { IncomingHttpHeaders } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, type AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Agent, errors as undiciErrors, request as undiciRequest, type Dispatcher } from 'undici'
import {
  InvalidOptionError,
  InvalidRequestError,
  InvalidResponseError,
  RedirectError,
  createClient,
  explain,
  type AttemptRecord,
  type Client,
} from '../../src/index.ts'
import { createFaultServer, type FaultServer } from '../../src/testing/index.ts'
import { createRawServer, writes, type RawServer } from '../support/raw-server.ts'
import { eventually } from './helpers.ts'

const execFileAsync = promisify(execFile)

let server: FaultServer
let client: Client

beforeEach(async () => {
  server = await createFaultServer()
  client = createClient({ origin: server.url, retry: { baseDelay: 1, maxDelay: 5 } })
})

afterEach(async () => {
  await client.destroy()
  await server.close()
})

/** Events a dispatch handler received, in order. */
function recordingHandler(throwIn?: string): {
  events: string[]
  handler: Dispatcher.DispatchHandler
} {
  const events: string[] = []
  const step = (name: string) => {
    events.push(name)
    if (name === throwIn) throw new Error(`handler broke in ${name}`)
  }
  return {
    events,
    handler: {
      onRequestStart: () => step('onRequestStart'),
      onResponseStart: () => step('onResponseStart'),
      onResponseData: () => step('onResponseData'),
      onResponseEnd: () => step('onResponseEnd'),
      onResponseError: (_controller, error) => {
        events.push(`onResponseError: ${error.message}`)
      },
    },
  }
}

describe('client.dispatcher survives whatever its handler does (defect 1)', () => {
  it("undici's fetch through it lives on when it aborts a response with 6 content-encodings", async () => {
    const fixture = fileURLToPath(
      new URL('./fixtures/dispatcher-hostile-encoding.ts', import.meta.url),
    )
    // A crash exits non-zero and execFile rejects.
    const { stdout } = await execFileAsync(process.execPath, [fixture], { timeout: 15_000 })
    const { outcome } = JSON.parse(stdout.trim().split('\n').at(-1) as string) as {
      outcome: string
    }
    expect(outcome).toMatch(/^rejected: too many content-encodings/)
  })

  it.each(['onResponseStart', 'onResponseData'])(
    'a handler that throws in %s gets onResponseError once and nothing else',
    async (where) => {
      server.route('/big', { body: { size: 200_000 } })
      const { events, handler } = recordingHandler(where)
      client.dispatcher.dispatch({ origin: server.url, path: '/big', method: 'GET' }, handler)
      await eventually(() => events.some((e) => e.startsWith('onResponseError')))
      // Once its connection is gone nothing more can arrive: wait for that, not for a time.
      await eventually(() => server.stats.openConnections === 0)
      const errors = events.filter((e) => e.startsWith('onResponseError'))
      expect(errors).toEqual([`onResponseError: handler broke in ${where}`])
      expect(events.indexOf(errors[0] as string)).toBe(events.length - 1)
      expect(events).not.toContain('onResponseEnd')
    },
  )

  it('a handler that aborts in onResponseStart gets its own reason, and the socket is freed', async () => {
    server.route('/big', { body: { size: 500_000 } })
    const events: string[] = []
    const reason = new Error('not this one')
    client.dispatcher.dispatch(
      { origin: server.url, path: '/big', method: 'GET' },
      {
        onResponseStart: (controller) => controller.abort(reason),
        onResponseData: () => events.push('data'),
        onResponseEnd: () => events.push('end'),
        onResponseError: (_controller, error) =>
          events.push(error === reason ? 'own reason' : 'other'),
      },
    )
    await eventually(() => events.length > 0 && server.stats.openConnections === 0)
    expect(events).toEqual(['own reason'])
  })
})

describe('client.fetch on a response a WHATWG Response cannot hold (defect 2)', () => {
  let raw: RawServer | undefined
  afterEach(async () => {
    await raw?.close()
    raw = undefined
  })

  it.each([999, 600])(
    'status %i fails with InvalidResponseError and frees the connection',
    async (status) => {
      raw = await createRawServer(
        writes(`HTTP/1.1 ${status} Odd\r\ncontent-length: 5\r\n\r\nhello`),
      )
      const local = createClient({ origin: raw.url, deadline: 10_000 })
      const error = await local.fetch('/').catch((e: unknown) => e)
      expect(error).toBeInstanceOf(InvalidResponseError)
      expect(error).toMatchObject({ code: 'NQ_INVALID_RESPONSE', statusCode: status })
      expect((error as InvalidResponseError).attempts).toHaveLength(1)
      // Closing waits for no body: the call is over, well before its 10 s deadline.
      const started = performance.now()
      await local.close()
      expect(performance.now() - started).toBeLessThan(2_000)
      await eventually(() => raw?.open === 0)
    },
  )

  it.each([
    ['a control character', 'O\x01k', 'O\x01k'],
    ['a byte that is not UTF-8', 'caf\xe9', 'caf\ufffd'],
  ])(
    'a reason phrase with %s is handed through as undici fetch does',
    async (_what, sent, seen) => {
      raw = await createRawServer(writes(`HTTP/1.1 200 ${sent}\r\ncontent-length: 2\r\n\r\nhi`))
      const local = createClient({ origin: raw.url })
      const response = await local.fetch('/')
      expect(response.status).toBe(200)
      expect(response.statusText).toBe(seen)
      expect(await response.text()).toBe('hi')
      await local.close()
    },
  )
})

describe('an attempt aborted while undici queues it leaves the queue (defect 3)', () => {
  it('aborted calls leave the pool at once, and open no connection when traffic resumes', async () => {
    const held: (() => void)[] = []
    server.route('/hold', () => ({ latency: 60_000 }))
    const agent = new Agent({ connections: 1 })
    const local = createClient({
      origin: server.url,
      dispatcher: agent,
      concurrency: false,
      breaker: false,
      retry: false,
    })
    try {
      const holder = new AbortController()
      const first = local.request('/hold', { signal: holder.signal }).catch(() => 'aborted')
      held.push(() => holder.abort())
      await eventually(() => server.stats.requests === 1)
      const calls = Array.from({ length: 100 }, () =>
        local.request('/x', { deadline: 50 }).catch((e: { code: string }) => e.code),
      )
      expect(new Set(await Promise.all(calls))).toEqual(new Set(['NQ_DEADLINE_EXCEEDED']))
      const stats = Object.values(agent.stats)[0] as { pending: number; queued?: number }
      expect(stats.pending).toBe(0)
      for (const release of held) release()
      await first
      const before = server.stats.connections
      for (let i = 0; i < 5; i++) await (await local.request('/ok')).body.text()
      // One new connection for the released slot, not one per stale entry.
      expect(server.stats.connections - before).toBeLessThanOrEqual(1)
    } finally {
      await local.destroy()
      await agent.destroy()
    }
  })
})

describe('request options cannot re-target a call (defect 4)', () => {
  it.each([
    ['origin', { origin: 'http://127.0.0.1:1' }],
    ['path', { path: 'http://evil.example/x' }],
  ])(
    'the undici-style %s option is refused with InvalidOptionError, nothing sent',
    async (option, options) => {
      const error = await client.request('/x', options as never).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(InvalidOptionError)
      expect(error).toMatchObject({ option })
      expect(server.stats.requests).toBe(0)
      expect(client.stats().origins.every((o) => o.calls === 0)).toBe(true)
    },
  )

  it('an absolute-form path through client.dispatcher is refused, nothing sent', async () => {
    const open = createClient()
    try {
      const error = await open.dispatcher
        .request({ origin: server.url, path: `${server.url}/elsewhere`, method: 'GET' })
        .catch((e: unknown) => e)
      // undici's class through its own API (as code written against undici expects), ours inside.
      expect(error).toBeInstanceOf(undiciErrors.InvalidArgumentError)
      expect((error as { cause?: unknown }).cause).toBeInstanceOf(InvalidRequestError)
      expect(server.stats.requests).toBe(0)
    } finally {
      await open.destroy()
    }
  })
})

describe('close() then destroy() (defect 5)', () => {
  it('the pending close() resolves once destroy() has taken the client down', async () => {
    server.route('/stall', { stall: 'before-headers' })
    const local = createClient({ origin: server.url })
    const call = local.request('/stall').catch((e: { code: string }) => e.code)
    await eventually(() => server.stats.requests === 1)
    const closed = local.close()
    await local.destroy()
    await expect(closed).resolves.toBeUndefined()
    expect(await call).toBe('NQ_CLIENT_CLOSED')
    await expect(local.close()).resolves.toBeUndefined()
    await expect(local.destroy()).resolves.toBeUndefined()
  })
})

describe('errors after the headers carry the attempts (defect 7)', () => {
  function expectOneAttemptOf200(error: unknown): void {
    const attempts = (error as { attempts?: readonly AttemptRecord[] }).attempts
    expect(attempts).toHaveLength(1)
    expect(attempts?.[0]?.statusCode).toBe(200)
    expect(explain(error)).not.toContain('before any attempt')
    expect(explain(error)).toContain('200')
  }

  it('request(): a reset mid-body', async () => {
    server.route('/cut', { body: { size: 100_000 }, reset: 'mid-body' })
    const response = await client.request('/cut')
    expectOneAttemptOf200(await response.body.text().catch((e: unknown) => e))
  })

  it('request(): a short body (Content-Length larger than what came)', async () => {
    const raw = await createRawServer((socket) => {
      socket.end('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf')
    })
    const local = createClient({ origin: raw.url, retry: false })
    try {
      const response = await local.request('/')
      expectOneAttemptOf200(await response.body.text().catch((e: unknown) => e))
    } finally {
      await local.destroy()
      await raw.close()
    }
  })

  it('request(): the deadline passing mid-body, and a caller abort mid-body', async () => {
    server.route('/slow', { body: 'abcdefgh', trickle: { chunk: 1, interval: 200 } })
    const slow = await client.request('/slow', { deadline: 300 })
    const late = await slow.body.text().catch((e: unknown) => e)
    expect(late).toMatchObject({ code: 'NQ_DEADLINE_EXCEEDED' })
    expectOneAttemptOf200(late)

    const controller = new AbortController()
    const aborted = await client.request('/slow', { signal: controller.signal })
    controller.abort(new Error('user left'))
    const error = await aborted.body.text().catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'AbortError', code: 'NQ_ABORTED' })
    expectOneAttemptOf200(error)
  })

  it('fetch(): a reset mid-body, also after a redirect (every hop in the attempts)', async () => {
    server.route('/cut', { body: { size: 100_000 }, reset: 'mid-body' })
    server.route('/hop', { status: 302, headers: { location: '/cut' } })
    const direct = await client.fetch('/cut')
    expectOneAttemptOf200(await direct.text().catch((e: unknown) => e))
    const redirected = await client.fetch('/hop')
    const error = await redirected.text().catch((e: unknown) => e)
    const attempts = (error as { attempts: readonly AttemptRecord[] }).attempts
    expect(attempts.map((a) => a.statusCode)).toEqual([302, 200])
  })

  it('the dispatcher face: the handler gets the error with its attempts', async () => {
    server.route('/cut', { body: { size: 100_000 }, reset: 'mid-body' })
    const open = createClient({ retry: false })
    try {
      const response = await undiciRequest(`${server.url}/cut`, { dispatcher: open.dispatcher })
      expectOneAttemptOf200(await response.body.text().catch((e: unknown) => e))
    } finally {
      await open.destroy()
    }
  })
})

describe('URL credentials never appear in an error message (defect 8)', () => {
  it.each([
    ['CrossOriginError', () => client.request('http://user:hunter2@other.example/x')],
    ['InvalidRequestError', () => client.request('ftp://user:hunter2@other.example/x')],
    ['InvalidRequestError', () => createClient().request('http://user:hunter2@[bad/x')],
    ['InvalidOptionError', () => createClient({ origin: 'http://user:hunter2@host.example/p' })],
  ])('%s', async (name, call) => {
    const error = await (async () => call())().catch((e: unknown) => e)
    expect((error as Error).constructor.name).toBe(name)
    expect((error as Error).message).not.toContain('hunter2')
    expect((error as Error).message).toContain('***@')
  })

  it('a redirect whose Location carries credentials is refused, and they are not shown', async () => {
    server.route('/away', { status: 302, headers: { location: 'http://u:hunter2@other.example/' } })
    const error = await createClient()
      .fetch(`${server.url}/away`)
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RedirectError)
    expect((error as Error).message).not.toContain('hunter2')
  })
})

describe('CR, LF, tab or NUL in an absolute URL (defect 9)', () => {
  it.each([
    ['CR LF', '/a\r\nx-injected: 1'],
    ['LF', '/a\nb'],
    ['tab', '/a\tb'],
    ['NUL', '/a\u0000b'],
  ])('%s is refused before anything is sent, as in the path form', async (_what, path) => {
    for (const url of [`${server.url}${path}`, path]) {
      const error = await client.request(url).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(InvalidRequestError)
      expect((error as Error).message).toContain('control character')
    }
    await expect(client.fetch(`${server.url}${path}`)).rejects.toBeInstanceOf(InvalidRequestError)
    expect(server.stats.requests).toBe(0)
  })
})

describe('client.fetch redirects: secrets and denied addresses (defect 10)', () => {
  let other: FaultServer
  beforeEach(async () => {
    other = await createFaultServer()
  })
  afterEach(async () => {
    await other.close()
  })

  it('strips user-declared secret headers, any case, on a redirect to another origin', async () => {
    const open = createClient({ redirect: { secretHeaders: ['X-Auth-Token'] } })
    try {
      server.route('/away', { status: 302, headers: { location: `${other.url}/landing` } })
      const response = await open.fetch(`${server.url}/away`, {
        headers: [
          ['x-auth-token', 'secret'],
          ['x-trace', 't'],
        ],
      })
      await response.text()
      expect(server.requests[0]?.headers['x-auth-token']).toBe('secret')
      expect(other.requests[0]?.headers['x-auth-token']).toBeUndefined()
      expect(other.requests[0]?.headers['x-trace']).toBe('t')
    } finally {
      await open.destroy()
    }
  })

  it('refuses a redirect to the cloud metadata address by default, before connecting', async () => {
    const open = createClient()
    try {
      for (const location of [
        'http://169.254.169.254/latest/meta-data/',
        'http://[fd00:ec2::254]/latest/',
        'http://[::ffff:169.254.169.254]/',
        'http://2852039166/', // 169.254.169.254 as one number
      ]) {
        server.route('/away', { status: 302, headers: { location } })
        const error = await open.fetch(`${server.url}/away`).catch((e: unknown) => e)
        expect(error).toBeInstanceOf(RedirectError)
        expect((error as RedirectError).message).toContain('refused address range')
        expect((error as RedirectError).attempts).toHaveLength(1)
      }
    } finally {
      await open.destroy()
    }
  })

  it('refuses a redirect into a range the user denies, by address or by a name that resolves there', async () => {
    const open = createClient({ redirect: { deny: ['127.0.0.0/8', '::1'] } })
    try {
      const port = new URL(other.url).port
      for (const host of ['127.0.0.1', 'localhost']) {
        server.route('/away', { status: 302, headers: { location: `http://${host}:${port}/` } })
        await expect(open.fetch(`${server.url}/away`)).rejects.toBeInstanceOf(RedirectError)
      }
      expect(other.stats.requests).toBe(0)
    } finally {
      await open.destroy()
    }
  })

  it.each([
    [{ deny: ['10.0.0.0/33'] }],
    [{ deny: ['not-an-address'] }],
    [{ deny: '10.0.0.0/8' }],
    [{ secretHeaders: ['bad header'] }],
    [{ follow: true }],
  ])('a bad redirect option %o is an InvalidOptionError', (redirect) => {
    expect(() => createClient({ redirect: redirect as never })).toThrow(InvalidOptionError)
  })
})

describe('the retry budget cap holds for retries that are sleeping (defect 6)', () => {
  it('with minRetryConcurrency 2, at most 2 retries are ever on the wire, however many fail at once', async () => {
    // First attempts fail after 2 ms and each call starts when the one before has failed, so at
    // most one is in flight
    // and the cap is 2. Retries wait 200 ms, then are held 150 ms: without counting sleeping
    // retries, every call's retry was allowed, and a dozen were on the wire together.
    let inFlight = 0
    let retriesInFlight = 0
    let maxRetriesInFlight = 0
    let firstsAnswered = 0
    const tcp = createServer((socket) => {
      socket.on('error', () => {})
      socket.once('data', (data) => {
        const retry = data.toString('latin1').includes('x-attempt: retry')
        inFlight++
        if (retry) maxRetriesInFlight = Math.max(maxRetriesInFlight, ++retriesInFlight)
        setTimeout(
          () => {
            inFlight--
            if (retry) retriesInFlight--
            else firstsAnswered++
            socket.end('HTTP/1.1 503 Busy\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')
          },
          retry ? 150 : 2,
        )
      })
    })
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(tcp.address() as AddressInfo).port}`
    const local = createClient({
      origin: url,
      breaker: false,
      retry: {
        maxRetries: 1,
        delay: () => 200,
        budget: { minRetriesPerSecond: 1000, minRetryConcurrency: 2 },
      },
      // Mark retries so the server can count them.
      middleware: [
        (request, next) => {
          if (request.attempts.length > 0) request.headers['x-attempt'] = 'retry'
          return next(request)
        },
      ],
    })
    try {
      const calls: Promise<unknown>[] = []
      for (let i = 0; i < 12; i++) {
        calls.push(local.request('/').then((r) => r.body.dump()))
        // The next call starts once this one's first attempt has failed: one first attempt in
        // flight at a time, whatever the machine's speed (not a 10 ms gap).
        await eventually(() => firstsAnswered > i)
      }
      await Promise.all(calls)
      expect(maxRetriesInFlight).toBeGreaterThan(0)
      expect(maxRetriesInFlight).toBeLessThanOrEqual(2)
      expect(inFlight).toBe(0)
    } finally {
      await local.destroy()
      await new Promise<void>((resolve) => tcp.close(() => resolve()))
    }
  })
})

describe('an https to http redirect (faults.md 37)', () => {
  it('strips every credential header, array-form ones included, on the downgrade', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nq-tls-'))
    await execFileAsync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=127.0.0.1',
      '-days',
      '1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ])
    const secureHeaders: IncomingHttpHeaders[] = []
    const secure = createHttpsServer(
      { key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) },
      (request, response) => {
        secureHeaders.push(request.headers)
        response.writeHead(302, { location: `${server.url}/landing` }).end()
      },
    )
    await new Promise<void>((resolve) => secure.listen(0, '127.0.0.1', resolve))
    const dispatcher = new Agent({ connect: { rejectUnauthorized: false } })
    const open = createClient({ dispatcher, redirect: { secretHeaders: ['x-auth-token'] } })
    try {
      const { port } = secure.address() as AddressInfo
      const response = await open.fetch(`https://127.0.0.1:${port}/start`, {
        headers: [
          ['Authorization', 'Bearer a'],
          ['Cookie', 'session=1'],
          ['Proxy-Authorization', 'Basic b'],
          ['X-API-Key', 'k'],
          ['X-Auth-Token', 't'],
          ['X-Trace', 'kept'],
        ],
      })
      await response.text()
      expect(secureHeaders[0]).toMatchObject({ authorization: 'Bearer a', 'x-auth-token': 't' })
      const landed = server.requests[0]?.headers ?? {}
      expect(landed['x-trace']).toBe('kept')
      for (const name of [
        'authorization',
        'cookie',
        'proxy-authorization',
        'x-api-key',
        'x-auth-token',
      ]) {
        expect(landed[name]).toBeUndefined()
      }
    } finally {
      await open.destroy()
      await dispatcher.destroy()
      await new Promise<void>((resolve) => secure.close(() => resolve()))
      await rm(dir, { recursive: true, force: true })
    }
  })
})
