import { Agent } from 'undici'
import { describe, expect, it } from 'vitest'
import { InvalidOptionError, attemptTimeoutLayer, createClient, retryLayer } from '../src/index.ts'

function optionError(fn: () => unknown): InvalidOptionError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError)
    return error as InvalidOptionError
  }
  throw new Error('expected an InvalidOptionError')
}

describe('createClient options', () => {
  it.each([
    ['origin', { origin: 'ftp://files' }],
    ['origin', { origin: 'https://user:pw@api.internal' }],
    ['origin', { origin: 'not a url' }],
    ['origin', { origin: 42 }],
    ['headers', { headers: { 'x-a': 'b\r\nc' } }],
    ['agent.connectTimeout', { agent: { connectTimeout: 0 } }],
    ['agent.headersTimeout', { agent: { headersTimeout: Infinity } }],
    ['agent.bodyTimeout', { agent: { bodyTimeout: -5 } }],
    ['agent.connections', { agent: { connections: 1.5 } }],
    ['agent.keepalive', { agent: { keepalive: 1 } }],
    ['agent.race', { agent: { race: 'yes' } }],
    ['agent.totalConnections', { agent: { totalConnections: 0 } }],
    ['agent.preconnect', { agent: { preconnect: 0.5 } }],
    ['agent.preconnect', { agent: { preconnect: 4 } }],
    ['agent.preconnect', { agent: { preconnect: '2' } }],
    ['agent.race.delay', { agent: { race: { delay: 0 } } }],
    ['agent.race.maxShare', { agent: { race: { maxShare: 1.5 } } }],
    ['agent.race.maxInFlight', { agent: { race: { maxInFlight: 5 } } }],
    ['agent', { agent: {}, dispatcher: new Agent() }],
    ['dispatcher', { dispatcher: {} }],
    ['middleware', { middleware: [42] }],
    ['clock', { clock: { now: () => 0 } }],
    ['maxOrigins', { maxOrigins: 0 }],
    ['originIdleTimeout', { originIdleTimeout: 'soon' }],
    ['deadLine', { deadLine: 5 }],
  ])('rejects a bad %s at construction, naming it', (option, options) => {
    const error = optionError(() => createClient(options as never))
    expect(error.option).toBe(option)
    expect(error.code).toBe('NQ_INVALID_OPTION')
    expect(error.message).toContain(option)
    expect(error.message).toContain('expected')
  })

  it('says what value it got', () => {
    const error = optionError(() => createClient({ agent: { connectTimeout: -1 } }))
    expect(error.message).toBe(
      'invalid option agent.connectTimeout: got -1, expected a number of milliseconds greater than 0 and at most 2147483647',
    )
  })

  it('accepts a URL origin and normalizes it', async () => {
    const client = createClient({ origin: new URL('https://API.internal:443/') })
    const error = await client
      .request('https://api.internal/x', { signal: AbortSignal.abort() })
      .catch((e: unknown) => e)
    // Same origin after normalization: it got as far as the abort check, not a cross-origin error.
    expect((error as { code: string }).code).toBe('NQ_ABORTED')
    await client.close()
  })

  it('rejects a non-AbortSignal signal per request', async () => {
    const client = createClient({ origin: 'http://127.0.0.1:1' })
    await expect(client.request('/x', { signal: {} as AbortSignal })).rejects.toMatchObject({
      code: 'NQ_INVALID_OPTION',
      option: 'signal',
    })
    await client.close()
  })
})

describe('deadline options', () => {
  it.each([
    ['deadline', { deadline: 0 }],
    ['deadline', { deadline: Infinity }],
    ['deadline', { deadline: 2 ** 31 }],
    ['attemptTimeout', { attemptTimeout: -1 }],
    ['minAttemptTime', { minAttemptTime: -1 }],
    ['minAttemptTime', { deadline: 5, minAttemptTime: 10 }],
    ['propagation', { propagation: 'yes' }],
    ['propagation.header', { propagation: { header: 'bad header' } }],
    ['propagation.margin', { propagation: { margin: -5 } }],
    ['propagation.inherit', { propagation: { inherit: 'yes' } }],
    ['propagation.heder', { propagation: { heder: 'x' } }],
  ])('rejects a bad %s at construction', (option, options) => {
    const error = optionError(() => createClient(options as never))
    expect(error.option).toBe(option)
  })

  it.each([
    ['deadline', { deadline: -1 }],
    ['deadline', { deadline: '5s' }],
    ['deadline', { deadline: new Date('nope') }],
    ['attemptTimeout', { attemptTimeout: 0 }],
  ])('rejects a bad %s per request, sending nothing', async (option, options) => {
    const client = createClient({ origin: 'http://127.0.0.1:9' })
    const error = await client.request('/', options as never).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InvalidOptionError)
    expect((error as InvalidOptionError).option).toBe(option)
    await client.close()
  })
})

describe('attemptTimeoutLayer options', () => {
  it.each([
    ['minAttemptTime', { minAttemptTime: 5 }],
    ['propagation.header', { propagation: { header: 'a b' } }],
    ['header', { header: 'x-a' }],
  ])('rejects a bad %s when the layer is created', (option, options) => {
    const error = optionError(() => attemptTimeoutLayer(options as never))
    expect(error.option).toBe(option)
  })
})

const BAD_RETRY_OPTIONS = [
  ['retry', 'yes'],
  ['retry', 3],
  ['retry.maxRetries', { maxRetries: 11 }],
  ['retry.maxRetries', { maxRetries: -1 }],
  ['retry.maxRetries', { maxRetries: 1.5 }],
  ['retry.statuses', { statuses: [200] }],
  ['retry.statuses', { statuses: 503 }],
  ['retry.errorCodes', { errorCodes: [''] }],
  ['retry.backoff', { backoff: 'linear' }],
  ['retry.baseDelay', { baseDelay: -1 }],
  ['retry.maxDelay', { baseDelay: 500, maxDelay: 100 }],
  ['retry.maxRetryAfter', { maxRetryAfter: Infinity }],
  ['retry.delay', { delay: 100 }],
  ['retry.shouldRetry', { shouldRetry: true }],
  ['retry.retries', { retries: 3 }],
] as const

describe('retry options', () => {
  it('allows the 10 retries a background job asks for, and says why not more', () => {
    expect(() => createClient({ retry: { maxRetries: 10 } })).not.toThrow()
    const error = optionError(() => createClient({ retry: { maxRetries: 11 } }))
    expect(error.message).toBe(
      'invalid option retry.maxRetries: got 11, expected an integer from 0 to 10: past that each retry adds load faster than availability; the deadline and the retry budget bound the rest',
    )
  })

  it.each(BAD_RETRY_OPTIONS)('rejects a bad %s at construction', (option, retry) => {
    const error = optionError(() => createClient({ retry: retry as never }))
    expect(error.option).toBe(option)
  })

  it.each(BAD_RETRY_OPTIONS)(
    'rejects a bad %s per request, sending nothing',
    async (option, retry) => {
      const client = createClient({ origin: 'http://127.0.0.1:9' })
      const error = await client.request('/', { retry: retry as never }).catch((e: unknown) => e)
      expect((error as InvalidOptionError).option).toBe(option)
      await client.close()
    },
  )

  it.each([
    ['backoff', { backoff: 'linear' }],
    ['retries', { retries: 2 }],
    ['random', { random: 0.5 }],
  ])('retryLayer rejects a bad %s when it is created', (option, options) => {
    const error = optionError(() => retryLayer(options as never))
    expect(error.option).toBe(option)
  })

  it.each([
    ['retry.budget', { budget: 0.1 }],
    ['retry.budget.ratio', { budget: { ratio: -1 } }],
    ['retry.budget.minRetryConcurrency', { budget: { minRetryConcurrency: 'three' } }],
    ['retry.budget.ttl', { budget: { ttl: 10 } }],
  ])('rejects a bad %s at construction', (option, retry) => {
    expect(optionError(() => createClient({ retry: retry as never })).option).toBe(option)
  })

  it.each([
    ['throttle', 'on'],
    ['throttle.k', { k: 0 }],
    ['throttle.window', { window: 0 }],
  ])('rejects a bad %s at construction', (option, throttle) => {
    expect(optionError(() => createClient({ throttle: throttle as never })).option).toBe(option)
  })

  it('rejects a random source that is not a function', () => {
    expect(optionError(() => createClient({ random: 4 as never })).option).toBe('random')
  })

  it.each(['', ' key', 'a\nb', 'x'.repeat(256), 5, null])(
    'rejects idempotencyKey %j per request, sending nothing',
    async (key) => {
      const client = createClient({ origin: 'http://127.0.0.1:9' })
      const error = await client
        .request('/', { method: 'POST', idempotencyKey: key as never })
        .catch((e: unknown) => e)
      expect((error as InvalidOptionError).option).toBe('idempotencyKey')
      await client.close()
    },
  )
})

describe('option shapes: every policy takes true for its defaults, false for off, or an object', () => {
  it('retry, breaker, propagation and decompress take true as their defaults', async () => {
    const { createFaultServer } = await import('../src/testing/index.ts')
    const server = await createFaultServer()
    server.route('/flaky', [{ status: 503 }, { status: 200 }])
    const client = createClient({
      origin: server.url,
      retry: true,
      breaker: true,
      propagation: true,
      decompress: true,
      concurrency: true,
      throttle: true,
      hedge: false,
      endpoints: false,
      rateLimit: false,
    })
    try {
      const response = await client.request('/flaky', { retry: { baseDelay: 1 } })
      await response.body.dump()
      expect(response.statusCode).toBe(200)
      expect(response.attempts).toHaveLength(2)
      expect(server.requests[0]?.headers['x-deadline-remaining-ms']).toMatch(/^\d+$/)
      // decompress: the fetch face asks for what it can decode.
      await (await client.fetch('/flaky')).arrayBuffer()
      expect(server.requests[2]?.headers['accept-encoding']).toBeDefined()
      expect(client.stats().origins[0]?.circuit).toBe('closed')
    } finally {
      await client.close()
      await server.close()
    }
  })

  it("a request's retry: true turns on the client's policy, or the defaults when it has none", async () => {
    const { createFaultServer } = await import('../src/testing/index.ts')
    const server = await createFaultServer()
    server.route('/flaky', [{ status: 503 }, { status: 200 }])
    const client = createClient({ origin: server.url, retry: false })
    try {
      const response = await client.request('/flaky', { retry: true })
      await response.body.dump()
      expect(response.attempts.map((a) => a.statusCode)).toEqual([503, 200])
    } finally {
      await client.close()
      await server.close()
    }
  })

  it.each(['retry', 'breaker', 'propagation', 'decompress', 'throttle', 'hedge', 'concurrency'])(
    '%s refuses a string, naming true, false or an object',
    (option) => {
      const error = optionError(() => createClient({ [option]: 'yes' }))
      expect(error.option).toBe(option)
    },
  )
})
