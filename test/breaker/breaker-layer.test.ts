import { describe, expect, it } from 'vitest'
import {
  CircuitOpenError,
  InvalidOptionError,
  breakerLayer,
  createClient,
  explain,
  type ClientOptions,
} from '../../src/index.ts'
import { VirtualClock, seededRandom } from '../../src/testing/index.ts'
import { track, virtualOrigin, type VirtualReply } from '../support/virtual-origin.ts'

function virtualClient(reply: (attempt: number) => VirtualReply, options: ClientOptions = {}) {
  const clock = new VirtualClock()
  const client = createClient({
    clock,
    random: seededRandom(1),
    ...options,
    middleware: (defaults) => [...defaults, virtualOrigin(reply)],
  })
  return { clock, client }
}

describe('the breaker in the client', () => {
  it('keeps at most maxOrigins circuits for 10,000 origins, and leaves no timer behind', async () => {
    const { clock, client } = virtualClient(() => ({ status: 500, latency: 1 }), {
      retry: false,
      breaker: { minimumCalls: 1 },
      maxOrigins: 100,
    })
    for (let i = 0; i < 10_000; i++) {
      const call = track(clock, client.request(`http://origin-${i}.test/`))
      await clock.advance(1)
      expect(call.value?.statusCode).toBe(500)
      await call.value?.body.dump()
    }
    const circuits = client.circuits?.list() ?? []
    expect(circuits).toHaveLength(100)
    // Every circuit held opened after its one failure; the oldest were evicted with their origin.
    expect(circuits.every((c) => c.state === 'open')).toBe(true)
    expect(circuits[0]?.origin).toBe('http://origin-9900.test')
    expect(client.circuits?.get('http://origin-0.test').state).toBe('closed')
    expect(clock.pendingTimers).toBe(0)
    await client.close()
  })

  it('keeps an isolation when the origin’s state is evicted', async () => {
    const { clock, client } = virtualClient(() => ({ status: 200, latency: 1 }), {
      maxOrigins: 1,
    })
    client.circuits?.isolate('http://a.test', 'maintenance')
    const b = track(clock, client.request('http://b.test/'))
    await clock.advance(1)
    expect(b.value?.statusCode).toBe(200)
    expect(client.circuits?.list().map((c) => c.origin)).toEqual(['http://b.test'])
    const a = track(clock, client.request('http://a.test/path'))
    await clock.advance(1)
    expect(a.error).toBeInstanceOf(CircuitOpenError)
    expect((a.error as Error).message).toBe(
      'the circuit for http://a.test is isolated (maintenance); nothing goes through until it is reset; nothing was sent',
    )
    client.circuits?.reset('http://a.test/any/path')
    const again = track(clock, client.request('http://a.test/path'))
    await clock.advance(1)
    expect(again.value?.statusCode).toBe(200)
  })

  it('fails a retry that meets the circuit it opened with CircuitOpenError, keeping the attempts', async () => {
    const { clock, client } = virtualClient(() => ({ status: 500, latency: 10 }), {
      origin: 'http://virtual.test',
      breaker: { minimumCalls: 1 },
    })
    const call = track(clock, client.request('/'))
    await clock.advance(1_000)
    const error = call.error as CircuitOpenError
    expect(error).toBeInstanceOf(CircuitOpenError)
    expect(error.attempts.map((a) => [a.statusCode, a.decision?.action])).toEqual([[500, 'retry']])
    expect(explain(error)).toContain(
      'failed with NQ_CIRCUIT_OPEN (the circuit for http://virtual.test is open',
    )
    expect(clock.pendingTimers).toBe(0)
  })

  it('has no circuits with breaker: false', () => {
    const client = createClient({ breaker: false })
    expect(client.circuits).toBeUndefined()
    void client.close()
  })

  it.each([
    ['breaker', { breaker: 'on' }],
    ['breaker.failureRatio', { breaker: { failureRatio: 2 } }],
    ['onCircuitStateChange', { onCircuitStateChange: 'log' }],
  ])('rejects a bad %s at construction', (name, options) => {
    expect(() => createClient(options as ClientOptions)).toThrow(InvalidOptionError)
    expect(() => createClient(options as ClientOptions)).toThrow(`invalid option ${name}:`)
  })

  it('names a bad origin given to circuits', () => {
    const client = createClient({})
    expect(() => client.circuits?.get('ftp://x')).toThrow(InvalidOptionError)
    expect(() => client.circuits?.get()).toThrow('the client has no `origin` option')
    void client.close()
  })
})

describe('breakerLayer', () => {
  it('takes its permit back from a layer below that throws synchronously', async () => {
    const clock = new VirtualClock()
    const seen: string[] = []
    let broken = false
    const client = createClient({
      origin: 'http://virtual.test',
      clock,
      middleware: () => [
        breakerLayer({ minimumCalls: 1, openDuration: 100, onStateChange: (e) => seen.push(e.to) }),
        (request, next) => {
          if (broken) throw new TypeError('a bug below the breaker')
          return next(request)
        },
        virtualOrigin(() => ({ status: 500, latency: 1 })),
      ],
    })
    const first = track(clock, client.request('/'))
    await clock.advance(200)
    expect(first.value?.statusCode).toBe(500)
    broken = true
    // The probe's layer throws: the probe counts as failed, and the circuit opens again rather
    // than waiting forever for a probe that will never report.
    const probe = track(clock, client.request('/'))
    await clock.advance(0)
    expect(probe.error).toBeInstanceOf(TypeError)
    expect(seen).toEqual(['open', 'half-open', 'open'])
  })

  it('works in a custom stack and validates its options once', async () => {
    const clock = new VirtualClock()
    const seen: string[] = []
    const client = createClient({
      origin: 'http://virtual.test',
      clock,
      middleware: () => [
        breakerLayer({ minimumCalls: 1, onStateChange: (e) => seen.push(e.to) }),
        virtualOrigin(() => ({ status: 500, latency: 1 })),
      ],
    })
    const first = track(clock, client.request('/'))
    await clock.advance(1)
    expect(first.value?.statusCode).toBe(500)
    const second = track(clock, client.request('/'))
    await clock.advance(1)
    expect(second.error).toBeInstanceOf(CircuitOpenError)
    expect(seen).toEqual(['open'])
    expect(() => breakerLayer({ random: 1 } as never)).toThrow('invalid option random')
    expect(() => breakerLayer({ onStateChange: 1 } as never)).toThrow(
      'invalid option onStateChange',
    )
    expect(() => breakerLayer({ window: 0 })).toThrow('invalid option window')
  })
})

describe('one failing route', () => {
  it('does not shut out the origin: three calls to it, 500 ms apart, leave the circuit closed', async () => {
    const clock = new VirtualClock()
    const client = createClient({
      origin: 'http://virtual.test',
      clock,
      random: seededRandom(1),
      middleware: (defaults) => [
        ...defaults,
        virtualOrigin((_, request) => ({
          status: request.path === '/broken' ? 500 : 200,
          latency: 5,
        })),
      ],
    })
    for (let i = 0; i < 3; i++) {
      const call = track(clock, client.request('/broken'))
      await clock.advance(500)
      expect(call.value?.statusCode).toBe(500)
      expect(call.value?.attempts).toHaveLength(3)
    }
    const healthy = track(clock, client.request('/healthy'))
    await clock.advance(10)
    expect(healthy.error).toBeUndefined()
    expect(healthy.value?.statusCode).toBe(200)
    expect(client.stats().origins[0]?.circuit).toBe('closed')
  })
})
