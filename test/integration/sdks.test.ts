import { Octokit } from '@octokit/rest'
import OpenAI from 'openai'
import { getGlobalDispatcher, request as undiciRequest, setGlobalDispatcher } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createClient, explain, type Client } from '../../src/index.ts'
import { createFaultServer, type FaultServer } from '../../src/testing/index.ts'
import { eventually } from './helpers.ts'

// Real SDKs pointed at the fault server through the faces they document: `fetch: client.fetch`
// (unbound), a dispatcher. Their own retries are off unless a test says otherwise, as
// docs/migrating.md advises, so that the policies seen are ours.

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

const COMPLETION = JSON.stringify({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 0,
  model: 'gpt-test',
  choices: [
    {
      index: 0,
      finish_reason: 'stop',
      message: { role: 'assistant', content: 'hello' },
    },
  ],
})

function openai(options: ConstructorParameters<typeof OpenAI>[0] = {}): OpenAI {
  return new OpenAI({
    apiKey: 'sk-test',
    baseURL: `${server.url}/v1`,
    fetch: client.fetch,
    maxRetries: 0,
    ...options,
  })
}

const ask = { model: 'gpt-test', messages: [{ role: 'user' as const, content: 'hi' }] }

describe('the OpenAI SDK with fetch: client.fetch', () => {
  it('leaves an unkeyed POST to the SDK: we do not repeat what the server may have done', async () => {
    server.route('/v1/chat/completions', [
      503,
      { status: 200, headers: { 'content-type': 'application/json' }, body: COMPLETION },
    ])
    const error = await openai()
      .chat.completions.create(ask)
      .catch((caught: unknown) => caught)
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(503)
    expect(server.stats.requests).toBe(1)
    // The SDK's own retry is a new call through the client: breaker, throttle and limiter apply.
    const completion = await openai({ maxRetries: 1 }).chat.completions.create(ask)
    expect(completion.choices[0]?.message.content).toBe('hello')
  })

  it('hands a 429 whose Retry-After exceeds the deadline to the SDK as its RateLimitError', async () => {
    server.route('/v1/models/gpt-test', {
      status: 429,
      retryAfter: 40,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ error: { message: 'slow down', type: 'rate_limit' } }),
    })
    const slow = createClient({ origin: server.url, deadline: 30_000 })
    try {
      const error = await openai({ fetch: slow.fetch })
        .models.retrieve('gpt-test')
        .catch((caught: unknown) => caught)
      expect(error).toBeInstanceOf(OpenAI.RateLimitError)
      expect(server.stats.requests).toBe(1)
    } finally {
      await slow.destroy()
    }
  })

  it("retries a POST once the SDK keys it, with the SDK's Idempotency-Key on every attempt", async () => {
    // The OpenAI SDK sends a key when its subclass names the header (see docs/migrating.md).
    class KeyedOpenAI extends OpenAI {
      protected override idempotencyHeader = 'Idempotency-Key'
    }
    server.route('/v1/chat/completions', [
      503,
      503,
      { status: 200, headers: { 'content-type': 'application/json' }, body: COMPLETION },
    ])
    const sdk = new KeyedOpenAI({
      apiKey: 'sk-test',
      baseURL: `${server.url}/v1`,
      fetch: client.fetch,
      maxRetries: 0,
    })
    const completion = await sdk.chat.completions.create(ask)
    expect(completion.choices[0]?.message.content).toBe('hello')
    const keys = server.requests.map((r) => r.headers['idempotency-key'])
    expect(keys).toHaveLength(3)
    expect(new Set(keys).size).toBe(1)
    expect(keys[0]).toMatch(/\S/)
  })

  it('survives the SDK cancelling the body of each 503 it retries itself', async () => {
    server.route('/v1/chat/completions', { status: 503, body: { size: 100_000 } })
    const error = await openai({ maxRetries: 2 })
      .chat.completions.create(ask)
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(OpenAI.APIError)
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(503)
    // The SDK's 3 tries, each cancelled mid-body but the last: no crash, no connection held.
    expect(server.stats.requests).toBe(3)
    await eventually(() => client.stats().origins[0]?.inFlight === 0)
  })

  it("gives the client's deadline, with explain() reading our record through the SDK's error", async () => {
    server.route('/v1/chat/completions', { stall: 'before-headers' })
    const short = createClient({ origin: server.url, deadline: 300, retry: false })
    try {
      const started = performance.now()
      const error = await openai({ fetch: short.fetch })
        .chat.completions.create(ask)
        .catch((caught: unknown) => caught)
      expect(performance.now() - started).toBeLessThan(5_000)
      expect(error).toBeInstanceOf(OpenAI.APIConnectionError)
      const text = explain(error)
      expect(text).toContain('caused by NQ_DEADLINE_EXCEEDED')
      expect(text).toMatch(/POST .*\/v1\/chat\/completions failed .* after 1 attempt/)
    } finally {
      await short.destroy()
    }
  })
})

describe('Octokit', () => {
  const REPO = JSON.stringify({ id: 1, name: 'netiquette', full_name: 'acme/netiquette' })

  it('through request.fetch: client.fetch, retried by us', async () => {
    server.route('/repos/acme/netiquette', [
      502,
      { status: 200, headers: { 'content-type': 'application/json' }, body: REPO },
    ])
    const octokit = new Octokit({ baseUrl: server.url, request: { fetch: client.fetch } })
    const { data } = await octokit.rest.repos.get({ owner: 'acme', repo: 'netiquette' })
    expect(data.full_name).toBe('acme/netiquette')
    expect(server.stats.requests).toBe(2)
  })

  it("ends at the client's deadline, and explain() reads our record through Octokit's error", async () => {
    server.route('/repos/acme/netiquette', { stall: 'before-headers' })
    const short = createClient({ origin: server.url, deadline: 300, retry: false })
    try {
      const octokit = new Octokit({ baseUrl: server.url, request: { fetch: short.fetch } })
      const started = performance.now()
      const error = await octokit.rest.repos
        .get({ owner: 'acme', repo: 'netiquette' })
        .catch((caught: unknown) => caught)
      expect(performance.now() - started).toBeLessThan(5_000)
      expect(explain(error)).toMatch(/caused by NQ_DEADLINE_EXCEEDED .* after 1 attempt/)
    } finally {
      await short.destroy()
    }
  })

  it("through the global fetch with the client's dispatcher", async () => {
    server.route('/repos/acme/netiquette', [
      503,
      { status: 200, headers: { 'content-type': 'application/json' }, body: REPO },
    ])
    const dispatcher = client.dispatcher
    const octokit = new Octokit({
      baseUrl: server.url,
      request: {
        fetch: (url: string, init: RequestInit) =>
          fetch(url, { ...init, dispatcher } as RequestInit),
      },
    })
    const { data } = await octokit.rest.repos.get({ owner: 'acme', repo: 'netiquette' })
    expect(data.name).toBe('netiquette')
    expect(server.stats.requests).toBe(2)
  })
})

describe('the global fetch under setGlobalDispatcher', () => {
  it('is retried, bounded by the deadline, explained, and frees a cancelled body', async () => {
    const previous = getGlobalDispatcher()
    const short = createClient({ deadline: 500, retry: { baseDelay: 1, maxDelay: 5 } })
    setGlobalDispatcher(short.dispatcher)
    try {
      server.route('/flaky', [503, { status: 200, body: 'ok' }])
      expect(await (await fetch(`${server.url}/flaky`)).text()).toBe('ok')
      expect(server.stats.requests).toBe(2)

      server.route('/stall', { stall: 'before-headers' })
      const error = await fetch(`${server.url}/stall`).catch((caught: unknown) => caught)
      expect(explain(error)).toMatch(
        /^GET .*\/stall failed with TypeError \(fetch failed\), caused by NQ_DEADLINE_EXCEEDED/,
      )

      server.route('/half', { status: 503, stall: 'mid-body', body: { size: 100_000 } })
      const response = await fetch(`${server.url}/half`)
      await response.body?.cancel()
      await eventually(() => short.stats().origins[0]?.inFlight === 0)
    } finally {
      setGlobalDispatcher(previous)
      await short.destroy()
    }
  })
})

describe('undici.request with the dispatcher', () => {
  it('is retried, and its error carries the record explain() reads', async () => {
    server.route('/flaky', [503, { status: 200, body: 'ok' }])
    const { statusCode, body } = await undiciRequest(`${server.url}/flaky`, {
      dispatcher: client.dispatcher,
    })
    expect(statusCode).toBe(200)
    expect(await body.text()).toBe('ok')
    expect(server.stats.requests).toBe(2)

    server.route('/down', { stall: 'before-headers' })
    const short = createClient({ origin: server.url, deadline: 200, retry: false })
    try {
      const error = await undiciRequest(`${server.url}/down`, {
        dispatcher: short.dispatcher,
      }).catch((caught: unknown) => caught)
      expect(explain(error)).toMatch(/^GET .*\/down failed with NQ_DEADLINE_EXCEEDED/)
    } finally {
      await short.destroy()
    }
  })
})
