// faults.md items 4, 25 and 33: failures in the connect phase, on loopback. A SYN black hole is a
// listener whose accept queue is full: a python3 process listens with a backlog of 0 and never
// accepts, so once one connection fills the queue the kernel drops every later SYN, as a
// firewall's DROP would. No root and no network namespace needed.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Agent } from 'undici'
import { createClient, type AttemptRecord } from '../../src/index.ts'

describe('a SYN black hole (faults.md 25, 4)', () => {
  let listener: ChildProcess
  let filler: Socket
  let origin: string

  beforeAll(async () => {
    listener = spawn(
      'python3',
      [
        '-c',
        [
          'import socket, sys',
          's = socket.socket()',
          "s.bind(('127.0.0.1', 0))",
          's.listen(0)',
          'print(s.getsockname()[1], flush=True)',
          'sys.stdin.read()', // until the test closes stdin
        ].join('\n'),
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    )
    const [port] = (await once(listener.stdout as NodeJS.ReadableStream, 'data')) as [Buffer]
    origin = `http://127.0.0.1:${String(port).trim()}`
    // One connection completes and fills the accept queue; later SYNs are dropped.
    filler = connect(Number(new URL(origin).port), '127.0.0.1')
    filler.on('error', () => {})
    await once(filler, 'connect')
  })

  afterAll(() => {
    filler.destroy()
    listener.stdin?.end()
    listener.kill()
  })

  it('times out the connect at the configured value plus at most undici’s 500 ms timer tick', async () => {
    const client = createClient({ origin, agent: { connectTimeout: 1_000 }, retry: false })
    try {
      const error = await client.request('/').catch((e: unknown) => e)
      const [attempt] = (error as { attempts: readonly AttemptRecord[] }).attempts
      expect(error).toMatchObject({ code: 'UND_ERR_CONNECT_TIMEOUT' })
      expect(attempt?.duration).toBeGreaterThanOrEqual(990)
      // undici checks timers above 1 s every 499 ms; a busy machine adds its own lateness.
      expect(attempt?.duration).toBeLessThan(1_000 + 500 + 1_500)
    } finally {
      await client.destroy()
    }
  })

  it('retries a POST without a key after a connect timeout, within the deadline: it never left', async () => {
    const client = createClient({
      origin,
      agent: { connectTimeout: 1_000 },
      deadline: 2_800,
      retry: { baseDelay: 1, maxDelay: 5 },
    })
    try {
      const started = performance.now()
      const error = await client
        .request('/', { method: 'POST', body: 'charge' })
        .catch((e: unknown) => e)
      const attempts = (error as { attempts: readonly AttemptRecord[] }).attempts
      expect(attempts.length).toBeGreaterThanOrEqual(2)
      expect(attempts[0]).toMatchObject({ error: 'UND_ERR_CONNECT_TIMEOUT' })
      expect(attempts[0]?.decision).toMatchObject({ action: 'retry' })
      expect(error).toMatchObject({ code: 'NQ_DEADLINE_EXCEEDED' })
      expect(performance.now() - started).toBeLessThan(2_800 + 1_500)
    } finally {
      await client.destroy()
    }
  })

  it('retries a POST whose attempt timeout fired while it was still connecting: nothing was sent', async () => {
    const client = createClient({
      origin,
      agent: { connectTimeout: 10_000 },
      attemptTimeout: 300,
      deadline: 1_500,
      breaker: false,
    })
    try {
      const error = await client
        .request('/', { method: 'POST', body: 'charge' })
        .catch((e: unknown) => e)
      const attempts = (error as { attempts: readonly AttemptRecord[] }).attempts
      expect(attempts.length).toBeGreaterThanOrEqual(2)
      expect(attempts[0]).toMatchObject({ error: 'NQ_ATTEMPT_TIMEOUT', sent: false })
      expect(attempts[0]?.decision?.reason).toContain('never left the client')
      for (const attempt of attempts) {
        expect(attempt.decision?.reason ?? '').not.toContain('may have acted on it')
      }
    } finally {
      await client.destroy()
    }
  })
})

describe('other connect-phase failures (faults.md 4, 33)', () => {
  function failingLookup(code: string) {
    return new Agent({
      connect: {
        lookup: (hostname, _options, callback) => {
          const error = Object.assign(new Error(`getaddrinfo ${code} ${hostname}`), { code })
          callback(error, '', 4)
        },
      },
    })
  }

  it('retries a POST without a key after ENOTFOUND, as it never left, but only maxRetries times: a typo fails fast', async () => {
    const dispatcher = failingLookup('ENOTFOUND')
    const client = createClient({ retry: { baseDelay: 1, maxDelay: 5 }, dispatcher })
    try {
      const error = await client
        .request('http://payments.internal/charges', { method: 'POST', body: 'charge' })
        .catch((e: unknown) => e)
      expect(error).toMatchObject({ code: 'ENOTFOUND' })
      const attempts = (error as { attempts: readonly AttemptRecord[] }).attempts
      expect(attempts.map((a) => a.error)).toEqual(Array(3).fill('ENOTFOUND'))
      expect(attempts[0]?.decision?.reason).toMatch(
        /^ENOTFOUND is retryable: the request never left the client \(a name that does not resolve is retried at most maxRetries times\)/,
      )
      expect(attempts.at(-1)?.decision?.reason).toBe(
        'ENOTFOUND is retryable, but no retries are left (maxRetries: 2)',
      )
    } finally {
      await client.destroy()
      await dispatcher.destroy()
    }
  })

  it('retries EAI_AGAIN (a resolver that timed out) transparently, past maxRetries, up to 20 times', async () => {
    const dispatcher = failingLookup('EAI_AGAIN')
    const client = createClient({ retry: { baseDelay: 1, maxDelay: 5 }, dispatcher })
    try {
      const error = await client
        .request('http://payments.internal/charges', { method: 'POST', body: 'charge' })
        .catch((e: unknown) => e)
      const attempts = (error as { attempts: readonly AttemptRecord[] }).attempts
      expect(attempts.map((a) => a.error)).toEqual(Array(21).fill('EAI_AGAIN'))
      expect(attempts.at(-1)?.decision?.reason).toBe(
        'EAI_AGAIN is retryable, but the call has made 20 transparent retries, the most it may',
      )
    } finally {
      await client.destroy()
      await dispatcher.destroy()
    }
  })

  it("repeated refused connections do not grow the pool's clients", async () => {
    // A port that was just free: connecting to it is refused at once.
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const { port } = probe.address() as AddressInfo
    await new Promise<void>((resolve) => probe.close(() => resolve()))
    const dispatcher = new Agent({ connections: 4 })
    const client = createClient({
      origin: `http://127.0.0.1:${port}`,
      dispatcher,
      retry: false,
      breaker: false,
    })
    try {
      for (let i = 0; i < 200; i++) {
        await expect(client.request('/')).rejects.toMatchObject({ code: 'ECONNREFUSED' })
      }
      // undici keeps its pools and their clients behind symbols; read them as its own test does.
      const pools = symbolValue(dispatcher, 'clients') as Map<string, object>
      expect(pools.size).toBeLessThanOrEqual(1)
      for (const pool of pools.values()) {
        expect((symbolValue(pool, 'clients') as unknown[]).length).toBeLessThanOrEqual(4)
      }
    } finally {
      await client.destroy()
      await dispatcher.destroy()
    }
  })
})

describe('an error that ends a call names what its attempts met (issue 34 C)', () => {
  async function closedPort(): Promise<number> {
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const { port } = probe.address() as AddressInfo
    await new Promise<void>((resolve) => probe.close(() => resolve()))
    return port
  }

  it("an open circuit that stops a retry carries the last attempt's error", async () => {
    const client = createClient({ origin: `http://127.0.0.1:${await closedPort()}` })
    try {
      // Many callers against a dead port: the circuit opens and stops their retries.
      const errors = (await Promise.all(
        Array.from({ length: 20 }, () => client.request('/').catch((e: unknown) => e)),
      )) as (Error & { code: string; attempts: unknown[]; cause?: { code?: string } })[]
      const stopped = errors.filter((e) => e.code === 'NQ_CIRCUIT_OPEN' && e.attempts.length > 0)
      expect(stopped.length).toBeGreaterThan(0)
      for (const error of stopped) {
        expect(error.cause?.code).toBe('ECONNREFUSED')
        expect(error.message).toContain('the last attempt failed with ECONNREFUSED')
      }
    } finally {
      await client.destroy()
    }
  })
})

function symbolValue(target: object, description: string): unknown {
  let object: object | null = target
  while (object !== null) {
    const symbol = Object.getOwnPropertySymbols(object).find((s) => s.description === description)
    if (symbol !== undefined) return (target as Record<symbol, unknown>)[symbol]
    object = Object.getPrototypeOf(object) as object | null
  }
  throw new Error(`no symbol ${description}`)
}
