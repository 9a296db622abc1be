import { ATTEMPT_ENDPOINT } from '../../src/core/attempt-keys.ts'
import { recordChannel } from '../support/channel-events.ts'
import { afterEach, describe, expect, it } from 'vitest'
import {
  EndpointResolutionError,
  InvalidOptionError,
  createClient,
  explain,
  type EndpointEvent,
} from '../../src/index.ts'
import { track, virtualClient, type VirtualReply } from '../support/virtual-origin.ts'
import type { CallRequest } from '../../src/index.ts'

const THREE = ['10.0.0.1', '10.0.0.2', '10.0.0.3']

/** Answers by address: `slow` addresses take 500 ms, `failing` ones answer 503, others 10 ms. */
function byAddress(options: { slow?: string[]; failing?: string[] } = {}) {
  return (_n: number, request: CallRequest): VirtualReply => {
    const address = ATTEMPT_ENDPOINT.get(request)?.address ?? 'none'
    if (options.failing?.includes(address)) return { status: 503, latency: 5 }
    return { status: 200, latency: options.slow?.includes(address) ? 500 : 10 }
  }
}

const unsubscribe: (() => void)[] = []
afterEach(() => {
  for (const u of unsubscribe.splice(0)) u()
})

function endpointEvents(): EndpointEvent[] {
  const { events, stop } = recordChannel<EndpointEvent>('netiquette:endpoint')
  unsubscribe.push(stop)
  return events
}

describe('endpoints on virtual time, through the default stack', () => {
  it('sends each attempt to one of the addresses and names it in the attempt record', async () => {
    const { clock, client, seen } = virtualClient(byAddress(), {
      endpoints: { resolve: () => THREE },
    })
    const call = track(clock, client.request('/'))
    await clock.advance(50)
    const [record] = call.value?.attempts ?? []
    expect(THREE).toContain(record?.address)
    expect(seen).toHaveLength(1)
    expect(explain(call.value!)).toContain(record!.address)
  })

  it('moves traffic off a slow address within a few calls', async () => {
    const { clock, client } = virtualClient(byAddress({ slow: ['10.0.0.2'] }), {
      endpoints: { resolve: () => THREE },
    })
    const used: (string | undefined)[] = []
    for (let i = 0; i < 200; i++) {
      const call = track(clock, client.request('/'))
      await clock.advance(i % 10 === 0 ? 600 : 20)
      if (call.value !== undefined) used.push(call.value.attempts[0]?.address)
      else await clock.advance(600).then(() => used.push(call.value?.attempts[0]?.address))
    }
    const slow = used.filter((a) => a === '10.0.0.2').length
    // Sequential calls: the slow address answered once and then lost every comparison until
    // its estimate decayed (10 s time constant, ~15 s of virtual time here).
    expect(slow).toBeLessThanOrEqual(3)
    const stats = client.stats().origins[0]?.endpoints ?? []
    expect(stats.map((s) => s.address)).toEqual(THREE)
    expect(stats.find((s) => s.address === '10.0.0.2')?.latency).toBeGreaterThan(100)
  })

  it('retries on another address than the one that failed', async () => {
    const { clock, client } = virtualClient(byAddress({ failing: ['10.0.0.1', '10.0.0.2'] }), {
      endpoints: { resolve: () => THREE },
      breaker: false,
    })
    for (let i = 0; i < 20; i++) {
      const call = track(clock, client.request('/'))
      await clock.advance(2_000)
      const addresses = call.value?.attempts.map((a) => a.address) ?? []
      // Never the same address twice in one call while another is left.
      expect(new Set(addresses).size).toBe(addresses.length)
      expect(call.value?.statusCode).toBe(200)
    }
  })

  it('sends a hedge to another address than the slow attempt’s', async () => {
    const { clock, client } = virtualClient(byAddress({ slow: ['10.0.0.1'] }), {
      endpoints: { resolve: () => ['10.0.0.1', '10.0.0.2'] },
      hedge: { delay: 50, maxExtraLoad: 1 },
    })
    let hedged = 0
    for (let i = 0; i < 20; i++) {
      const call = track(clock, client.request('/'))
      await clock.advance(600)
      const attempts = call.value?.attempts ?? []
      if (attempts.length === 2) {
        hedged++
        expect(attempts[1]?.address).not.toBe(attempts[0]?.address)
        expect(attempts[1]).toMatchObject({ hedge: true, statusCode: 200 })
      }
      expect(call.value?.statusCode).toBe(200)
    }
    expect(hedged).toBeGreaterThan(0)
  })

  it('ejects an address that keeps failing, tells the channel, and readmits it later', async () => {
    const events = endpointEvents()
    const { clock, client } = virtualClient(byAddress({ failing: ['10.0.0.3'] }), {
      endpoints: { resolve: () => THREE, ejection: { baseTime: 5_000 } },
      breaker: false,
    })
    for (let i = 0; i < 100; i++) {
      track(clock, client.request('/'))
      await clock.advance(20)
    }
    const ejected = events.find((e) => e.action === 'ejected')
    expect(ejected).toMatchObject({ address: '10.0.0.3', reason: '5 failures in a row' })
    expect(
      client.stats().origins[0]?.endpoints?.find((e) => e.address === '10.0.0.3'),
    ).toMatchObject({ ejected: true, ejections: 1 })
    await clock.advance(5_000)
    track(clock, client.request('/'))
    await clock.advance(20)
    expect(events.filter((e) => e.action === 'readmitted').map((e) => e.address)).toEqual([
      '10.0.0.3',
    ])
  })

  it('looks the addresses up once for concurrent calls, and again after the TTL', async () => {
    const lookups: number[] = []
    const { clock, client } = virtualClient(byAddress(), {
      endpoints: {
        ttl: 1_000,
        resolve: async (hostname) => {
          lookups.push(clock.now())
          expect(hostname).toBe('virtual.test')
          return THREE
        },
      },
    })
    const calls = [1, 2, 3].map(() => track(clock, client.request('/')))
    await clock.advance(50)
    expect(calls.every((c) => c.value?.statusCode === 200)).toBe(true)
    expect(lookups).toEqual([0])
    await clock.advance(1_000)
    track(clock, client.request('/'))
    await clock.advance(50)
    expect(lookups).toEqual([0, 1_050])
  })

  it('fails a call whose lookup fails with EndpointResolutionError, retried as never sent', async () => {
    let n = 0
    const seen: { error?: string; sent?: boolean }[] = []
    const { clock, client } = virtualClient(byAddress(), {
      onAttempt: ({ attempt }) => seen.push({ error: attempt.error, sent: attempt.sent }),
      endpoints: {
        resolve: () => {
          n++
          if (n === 1) throw new Error('consul unreachable')
          return n === 2 ? [] : THREE
        },
      },
    })
    const call = track(clock, client.request('/', { method: 'POST', body: 'x' }))
    await clock.advance(2_000)
    // Two failed lookups, then an answer: a POST is retried too, since nothing was sent.
    expect(n).toBe(3)
    expect(call.value?.statusCode).toBe(200)
    expect(call.value?.attempts.map((a) => [a.error, a.sent])).toEqual([
      ['NQ_ENDPOINT_RESOLUTION', false],
      ['NQ_ENDPOINT_RESOLUTION', false],
      [undefined, undefined],
    ])
    // The hook sees the attempts that could not be sent (the virtual origin, which does not set
    // `sent`, calls no hook).
    expect(seen).toEqual([
      { error: 'NQ_ENDPOINT_RESOLUTION', sent: false },
      { error: 'NQ_ENDPOINT_RESOLUTION', sent: false },
    ])

    const broken = virtualClient(byAddress(), {
      endpoints: { resolve: () => ['not-an-ip'] },
      retry: false,
    })
    const failed = track(broken.clock, broken.client.request('/'))
    await broken.clock.advance(100)
    expect(failed.error).toBeInstanceOf(EndpointResolutionError)
    expect(failed.error).toMatchObject({
      code: 'NQ_ENDPOINT_RESOLUTION',
      hostname: 'virtual.test',
      message: expect.stringContaining('"not-an-ip", which is not an IP address'),
    })
  })

  it('leaves a call waiting for a lookup as soon as its deadline passes', async () => {
    const { clock, client } = virtualClient(byAddress(), {
      deadline: 100,
      endpoints: { resolve: () => new Promise<string[]>(() => {}) },
    })
    const call = track(clock, client.request('/'))
    await clock.advance(200)
    expect(call.settledAt).toBeLessThanOrEqual(100)
    expect(call.error).toMatchObject({ code: 'NQ_DEADLINE_EXCEEDED' })
  })

  it('passes an origin whose host is an IP address through unchanged', async () => {
    let resolved = false
    const { clock, client } = virtualClient(byAddress(), {
      origin: 'http://10.1.2.3:8080',
      endpoints: {
        resolve: () => {
          resolved = true
          return THREE
        },
      },
    })
    const call = track(clock, client.request('/'))
    await clock.advance(50)
    expect(call.value?.attempts[0]?.address).toBeUndefined()
    expect(resolved).toBe(false)
    expect(client.stats().origins[0]?.endpoints).toBeUndefined()
  })
})

describe('the endpoints option', () => {
  it('refuses bad values with InvalidOptionError naming the option', () => {
    const bad: [unknown, string][] = [
      ['yes', 'endpoints'],
      [{ ttl: 0 }, 'endpoints.ttl'],
      [{ resolve: 'dns' }, 'endpoints.resolve'],
      [{ maxAddresses: 0 }, 'endpoints.maxAddresses'],
      [{ ejection: { maxShare: 2 } }, 'endpoints.ejection.maxShare'],
      [{ ejection: { baseTime: 10_000, maxTime: 5_000 } }, 'endpoints.ejection.maxTime'],
      [{ ejection: { consecutive: 3 } }, 'endpoints.ejection.consecutive'],
      [{ balancer: 'p2c' }, 'endpoints.balancer'],
    ]
    for (const [value, option] of bad) {
      expect(() => createClient({ endpoints: value as never })).toThrow(InvalidOptionError)
      expect(() => createClient({ endpoints: value as never })).toThrow(option)
    }
  })

  it('refuses endpoints behind a proxy, which resolves names itself', () => {
    expect(() =>
      createClient({ endpoints: true, agent: { proxy: 'http://proxy.internal:3128' } }),
    ).toThrow(/endpoints.*proxy/s)
  })
})
