import diagnosticsChannel from 'node:diagnostics_channel'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  createClient,
  type AttemptEndMessage,
  type BudgetRefusedEvent,
  type CircuitStateChange,
  type Client,
  type LimitChangeEvent,
  type RetryEvent,
  type ShedEvent,
} from '../../src/index.ts'
import { createFaultServer, type FaultServer } from '../../src/testing/index.ts'
import { scriptedRun } from '../support/scripted-run.ts'

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

const CHANNELS = [
  'netiquette:call:start',
  'netiquette:call:end',
  'netiquette:attempt:start',
  'netiquette:attempt:end',
  'netiquette:retry',
  'netiquette:budget:refused',
  'netiquette:shed',
  'netiquette:circuit:state',
  'netiquette:limit:change',
] as const

/** Subscribes to every channel; `stop()` unsubscribes. */
function subscribeAll() {
  const seen = new Map<string, unknown[]>(CHANNELS.map((name) => [name, []]))
  const listeners = CHANNELS.map((name) => {
    const listener = (message: unknown) => seen.get(name)?.push(message)
    diagnosticsChannel.subscribe(name, listener)
    return () => diagnosticsChannel.unsubscribe(name, listener)
  })
  return {
    of: <T>(name: (typeof CHANNELS)[number]) => seen.get(name) as T[],
    stop: () => listeners.forEach((stop) => stop()),
  }
}

describe('observing a scripted run (one retry, one shed, one circuit opening)', () => {
  it('the channels carry each event with its payload', async () => {
    const sub = subscribeAll()
    try {
      client = await scriptedRun(server)
    } finally {
      sub.stop()
    }
    expect(sub.of('netiquette:call:start')).toHaveLength(5)
    expect(sub.of('netiquette:call:end')).toHaveLength(5)
    expect(sub.of('netiquette:attempt:start')).toHaveLength(5)
    const ends = sub.of<AttemptEndMessage>('netiquette:attempt:end')
    expect(ends.map((m) => m.attempt.statusCode ?? m.attempt.error)).toEqual([
      503,
      200,
      'AbortError',
      500,
      500,
    ])

    const retries = sub.of<RetryEvent>('netiquette:retry')
    expect(retries).toHaveLength(1)
    expect(retries[0]).toMatchObject({
      origin: server.url,
      method: 'GET',
      path: '/flaky',
      delaySource: 'backoff',
      reason: expect.stringContaining('503'),
    })
    expect(retries[0]?.attempt).toMatchObject({ number: 1, statusCode: 503 })
    expect(retries[0]?.delay).toBeLessThanOrEqual(5)

    const sheds = sub.of<ShedEvent>('netiquette:shed')
    expect(sheds).toHaveLength(1)
    expect(sheds[0]).toMatchObject({ origin: server.url, path: '/stall', cause: 'queue-full' })
    expect(sheds[0]?.error.code).toBe('NQ_QUEUE_FULL')

    const circuits = sub.of<CircuitStateChange>('netiquette:circuit:state')
    expect(circuits).toEqual([
      {
        origin: server.url,
        from: 'closed',
        to: 'open',
        reason: expect.stringContaining('2'),
        retryAt: expect.any(Number),
      },
    ])
    expect(sub.of<BudgetRefusedEvent>('netiquette:budget:refused')).toEqual([])
    expect(sub.of<LimitChangeEvent>('netiquette:limit:change')).toEqual([])
  })

  it('the option hooks see the same events', async () => {
    const seen = {
      attempts: [] as AttemptEndMessage[],
      retries: [] as RetryEvent[],
      sheds: [] as ShedEvent[],
      circuits: [] as CircuitStateChange[],
    }
    client = await scriptedRun(server, {
      onAttempt: (e) => seen.attempts.push(e),
      onRetry: (e) => seen.retries.push(e),
      onShed: (e) => seen.sheds.push(e),
      onCircuitStateChange: (e) => seen.circuits.push(e),
    })
    expect(seen.attempts.map((e) => e.attempt.statusCode ?? e.attempt.error)).toEqual([
      503,
      200,
      'AbortError',
      500,
      500,
    ])
    expect(seen.attempts[2]?.error).toBeInstanceOf(Error)
    expect(seen.retries.map((e) => [e.path, e.attempt.number])).toEqual([['/flaky', 1]])
    expect(seen.sheds.map((e) => e.cause)).toEqual(['queue-full'])
    expect(seen.circuits.map((e) => `${e.from}->${e.to}`)).toEqual(['closed->open'])
  })

  it('stats() reports the run per origin', async () => {
    client = await scriptedRun(server)
    const [stats, ...others] = client.stats().origins
    expect(others).toEqual([])
    expect(stats).toMatchObject({
      origin: server.url,
      calls: 5,
      inFlight: 0,
      attempts: 5,
      retriesAllowed: 1,
      retriesRefused: 0,
      shed: { queueFull: 1, queueTimeout: 0, circuitOpen: 0, throttled: 0 },
      limit: 1,
      attemptsInFlight: 0,
      queued: 0,
      circuit: 'open',
    })
    // The shed call sent nothing, so it is not in the latency window.
    expect(stats?.latency.count).toBe(4)
    expect(stats?.latency.p50).toBeGreaterThan(0)
    expect(stats?.latency.p99).toBeGreaterThanOrEqual(stats?.latency.p50 ?? Infinity)

    // The open circuit now sheds, and says so.
    await expect(client.request('/down')).rejects.toMatchObject({ code: 'NQ_CIRCUIT_OPEN' })
    expect(client.stats().origins[0]?.shed.circuitOpen).toBe(1)
  })
})

describe('option hooks', () => {
  it('a throwing hook becomes a process warning and the call goes on', async () => {
    server.route('/flaky', [503, 200])
    const warnings: Error[] = []
    const onWarning = (warning: Error) => warnings.push(warning)
    process.on('warning', onWarning)
    try {
      client = createClient({
        origin: server.url,
        retry: { baseDelay: 1, maxDelay: 5 },
        onAttempt: () => {
          throw new Error('attempt hook broke')
        },
        onRetry: () => {
          throw new Error('retry hook broke')
        },
      })
      const response = await client.request('/flaky')
      expect(response.statusCode).toBe(200)
      expect(response.attempts).toHaveLength(2)
      await response.body.text()
      await new Promise((resolve) => setImmediate(resolve))
    } finally {
      process.off('warning', onWarning)
    }
    expect(warnings.map((w) => w.message)).toEqual([
      expect.stringContaining('onAttempt hook threw (Error: attempt hook broke)'),
      expect.stringContaining('onRetry hook threw (Error: retry hook broke)'),
      expect.stringContaining('onAttempt hook threw'),
    ])
  })

  it('a hook that is not a function is refused at construction', () => {
    for (const name of ['onAttempt', 'onRetry', 'onShed'] as const) {
      expect(() => createClient({ [name]: 'log' })).toThrow(
        expect.objectContaining({
          code: 'NQ_INVALID_OPTION',
          message: expect.stringContaining(name),
        }),
      )
    }
  })
})

describe('query strings stay out of what is logged', () => {
  it('records, hook payloads and channel messages carry the path with its query as ?…', async () => {
    server.route('/flaky', [503, 200])
    const hooked: unknown[] = []
    const sub = subscribeAll()
    try {
      client = createClient({
        origin: server.url,
        retry: { baseDelay: 1, maxDelay: 2 },
        onRetry: (event) => hooked.push(event),
        onAttempt: (event) => hooked.push(event),
      })
      const response = await client.request('/flaky?token=s3cr3t&user=alice')
      await response.body.dump()
      expect(server.requests.at(-1)?.path).toBe('/flaky?token=s3cr3t&user=alice')
      expect(response.attempts.map((a) => a.path)).toEqual(['/flaky?…', '/flaky?…'])
    } finally {
      sub.stop()
    }
    const everything = JSON.stringify([hooked, ...CHANNELS.map((name) => sub.of(name))])
    expect(everything).toContain('/flaky?…')
    expect(everything).not.toContain('s3cr3t')
    expect(sub.of<RetryEvent>('netiquette:retry')[0]?.path).toBe('/flaky?…')
  })
})
