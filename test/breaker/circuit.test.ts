import { describe, expect, it } from 'vitest'
import {
  DEFAULT_BREAKER,
  InvalidOptionError,
  type ResolvedBreakerOptions,
} from '../../src/index.ts'
import {
  Circuit,
  REJECTED,
  type CircuitTransition,
  type CircuitVerdict,
} from '../../src/breaker/circuit.ts'
import { resolveBreakerOptions } from '../../src/breaker/breaker-options.ts'

// The ratio and the schedule of open periods are pinned here, apart from the outage rule and
// the defaults' 1 s periods, which have tests of their own below.
const RATIO_ONLY = { outagePeriod: Infinity, openDuration: 5_000, maxOpenDuration: 10_000 }

function circuit(options: Partial<ResolvedBreakerOptions> = {}, random = () => 0.5) {
  const changes: CircuitTransition[] = []
  const c = new Circuit({ ...DEFAULT_BREAKER, ...RATIO_ONLY, ...options }, random, (t) =>
    changes.push(t),
  )
  return { c, changes }
}

/** `n` calls at `now`, each let through and ended with `verdict`. */
function calls(c: Circuit, now: number, n: number, verdict: CircuitVerdict): void {
  for (let i = 0; i < n; i++) c.release(now, c.acquire(now), verdict)
}

describe('Circuit', () => {
  it('does not count a 429 or 503 (a nack) or a connect that never got through as a failure', () => {
    const { c } = circuit()
    // An origin that serves a third of what is asked, and refuses some connects: not down.
    for (let t = 0; t < 10_000; t += 10) {
      calls(c, t, 1, 'success')
      calls(c, t, 1, 'nack')
      calls(c, t, 1, 'unsent')
    }
    expect(c.counts(10_000)).toMatchObject({ state: 'closed', failures: 0 })
  })

  it('opens when nothing succeeded for outagePeriod, whatever the traffic before', () => {
    for (const verdict of ['nack', 'unsent', 'failure'] as const) {
      const { c, changes } = circuit({ outagePeriod: 1_000 })
      calls(c, 0, 5_000, 'success') // a busy, healthy window
      for (let t = 10; t < 1_000; t += 10) calls(c, t, 1, verdict)
      expect(c.state(990)).toBe('closed')
      calls(c, 1_010, 1, verdict)
      expect(c.state(1_010)).toBe('open')
      expect(changes.at(-1)?.reason).toBe('nothing succeeded for 1 s (5+ calls, 100 attempts)')
    }
  })

  it('needs 5 calls in the run, with no gap of outagePeriod between them; a success ends it', () => {
    const { c } = circuit({ outagePeriod: 1_000 })
    for (const t of [0, 300, 600, 1_200]) calls(c, t, 1, 'nack')
    expect(c.state(1_200)).toBe('closed') // 1.2 s, but 4 attempts
    calls(c, 1_300, 1, 'success')
    for (const t of [1_400, 1_700, 2_000, 2_300]) calls(c, t, 1, 'nack')
    expect(c.state(2_300)).toBe('closed') // the success started the run over
    calls(c, 4_000, 1, 'nack') // 1.4 s after the last: a quiet client, not an outage
    for (const t of [4_200, 4_400, 4_600, 4_800]) calls(c, t, 1, 'nack')
    expect(c.state(4_800)).toBe('closed') // 5 attempts over 0.8 s
    calls(c, 5_000, 1, 'nack')
    expect(c.state(5_000)).toBe('open')
  })

  it("counts distinct calls in the run, not one call's retries", () => {
    const { c } = circuit({ outagePeriod: 1_000 })
    // Three calls 500 ms apart, each with three failing attempts: one route that answers 500.
    const [a, b, d] = [{}, {}, {}]
    for (const [t, call] of [
      [0, a],
      [500, b],
      [1_000, d],
    ] as const) {
      for (const dt of [0, 40, 120])
        c.release(t + dt, c.acquire(t + dt), 'failure', undefined, call)
    }
    expect(c.state(1_120)).toBe('closed') // 9 attempts over 1.1 s, but 3 calls
    const more = [{}, {}]
    c.release(1_200, c.acquire(1_200), 'failure', undefined, more[0])
    expect(c.state(1_200)).toBe('closed')
    c.release(1_300, c.acquire(1_300), 'failure', undefined, more[1])
    expect(c.state(1_300)).toBe('open') // a fifth caller: an outage
  })

  it('opens for 0.5 to 1 s at the defaults, every time, so a recovery is seen within 1 s', () => {
    const periods: number[] = []
    for (const r of [0, 0.999]) {
      const c = new Circuit(
        DEFAULT_BREAKER,
        () => r,
        (t) => {
          if (t.to === 'open') periods.push(Math.round((t.openUntil as number) - t.at))
        },
      )
      let now = 0
      calls(c, now, 5, 'failure')
      now = 1_000
      calls(c, now, 1, 'failure')
      for (let i = 0; i < 4; i++) {
        now += 1_000
        c.release(now, c.acquire(now), 'nack') // a probe meets the outage
      }
    }
    expect(periods).toEqual([500, 500, 500, 500, 500, 1000, 1000, 1000, 1000, 1000])
  })

  it('opens once half of at least 20 calls in the window failed, and not before', () => {
    const { c, changes } = circuit()
    calls(c, 0, 10, 'success')
    calls(c, 100, 9, 'failure')
    expect(c.state(100)).toBe('closed') // 9 of 19: too few calls
    calls(c, 200, 1, 'failure')
    expect(c.state(200)).toBe('open') // 10 of 20
    expect(changes).toEqual([
      {
        from: 'closed',
        to: 'open',
        reason: '10 of 20 calls failed in the last 10 s',
        at: 200,
        openUntil: 200 + 3_750,
      },
    ])
    expect(c.acquire(201)).toBe(REJECTED)
  })

  it('never opens on one failure after a quiet period, however high the ratio', () => {
    const { c } = circuit()
    calls(c, 0, 1, 'failure')
    calls(c, 60_000, 1, 'failure')
    expect(c.state(60_000)).toBe('closed')
  })

  it('forgets outcomes older than the window', () => {
    const { c } = circuit()
    calls(c, 0, 19, 'failure')
    // 10 s later the 19 failures have left the window: one more is 1 of 1.
    calls(c, 10_000, 1, 'failure')
    expect(c.counts(10_000)).toMatchObject({ state: 'closed', calls: 1, failures: 1 })
  })

  it('opens after consecutiveFailures in a row when set, and a success restarts the count', () => {
    const { c } = circuit({ consecutiveFailures: 3 })
    calls(c, 0, 2, 'failure')
    calls(c, 0, 1, 'success')
    calls(c, 0, 2, 'failure')
    expect(c.state(0)).toBe('closed')
    calls(c, 0, 1, 'failure')
    expect(c.counts(0)).toMatchObject({ state: 'open', reason: '3 failures in a row' })
  })

  it('lets exactly halfOpenProbes calls through when half-open, and closes when they succeed', () => {
    const { c } = circuit({ minimumCalls: 1, halfOpenProbes: 2 }, () => 0)
    calls(c, 0, 1, 'failure')
    expect(c.acquire(2_499)).toBe(REJECTED)
    const probes = [c.acquire(2_500), c.acquire(2_500), c.acquire(2_500)]
    expect(probes.filter((p) => p !== REJECTED)).toHaveLength(2)
    c.release(2_510, probes[0] as number, 'success')
    expect(c.state(2_510)).toBe('half-open')
    c.release(2_520, probes[1] as number, 'success')
    expect(c.counts(2_520)).toMatchObject({ state: 'closed', trips: 1 })
  })

  it('opens again when a probe fails, is aborted, or times out; a local rejection frees its place', () => {
    for (const verdict of ['failure', 'cancelled'] as const) {
      const { c } = circuit({ minimumCalls: 1 }, () => 0)
      calls(c, 0, 1, 'failure')
      c.release(5_000, c.acquire(5_000), verdict)
      expect(c.state(5_000)).toBe('open')
    }
    const { c } = circuit({ minimumCalls: 1 }, () => 0)
    calls(c, 0, 1, 'failure')
    c.release(5_000, c.acquire(5_000), 'local')
    expect(c.counts(5_000)).toMatchObject({ state: 'half-open', probes: 0 })
    expect(c.acquire(5_000)).not.toBe(REJECTED)
  })

  it('doubles the open period with each opening in a row, jittered in [d/2, d), up to the cap', () => {
    const periods = (random: () => number, options: Partial<ResolvedBreakerOptions> = {}) => {
      const { c, changes } = circuit({ minimumCalls: 1, ...options }, random)
      calls(c, 0, 1, 'failure')
      for (let i = 0; i < 5; i++) {
        // The probe at the end of each open period fails.
        const now = changes.at(-1)?.openUntil as number
        c.release(now, c.acquire(now), 'failure')
      }
      const opens = changes.filter((t) => t.to === 'open')
      return opens.map((t) => Math.round((t.openUntil as number) - t.at))
    }
    expect(periods(() => 0)).toEqual([2_500, 5_000, 5_000, 5_000, 5_000, 5_000])
    expect(periods(() => 0.999)).toEqual([4_998, 9_995, 9_995, 9_995, 9_995, 9_995])
    expect(periods(() => 0, { maxOpenDuration: 60_000 })).toEqual([
      2_500, 5_000, 10_000, 20_000, 30_000, 30_000,
    ])
  })

  it('starts over from openDuration once the circuit has stayed closed for healthyPeriod', () => {
    const { c, changes } = circuit({ minimumCalls: 1, healthyPeriod: 60_000 }, () => 0)
    calls(c, 0, 1, 'failure') // open for 5 s
    c.release(5_000, c.acquire(5_000), 'success') // closed at 5 s
    calls(c, 6_000, 1, 'failure') // soon after: the second opening in a row, 10 s
    c.release(16_000, c.acquire(16_000), 'success') // closed at 16 s
    calls(c, 76_000, 1, 'failure') // after a healthy minute: a first opening again
    const opens = changes.filter((t) => t.to === 'open')
    expect(opens.map((t) => (t.openUntil as number) - t.at)).toEqual([2_500, 5_000, 2_500])
  })

  it('ignores outcomes of calls let through before the last change of state', () => {
    const { c } = circuit({ minimumCalls: 1 }, () => 0)
    const early = c.acquire(0)
    calls(c, 0, 1, 'failure') // opens
    const probe = c.acquire(5_000)
    c.release(5_001, early, 'success') // let through while closed: says nothing now
    expect(c.state(5_001)).toBe('half-open')
    c.release(5_002, probe, 'success')
    expect(c.state(5_002)).toBe('closed')
  })

  it('opens for the server’s wait less 50 ms of slack, then closes without probing', () => {
    const { c, changes } = circuit({ serverDirected: true }, () => 0.9)
    c.release(100, c.acquire(100), 'failure', 2_000)
    expect(c.counts(100)).toMatchObject({
      state: 'open',
      openUntil: 2_050,
      reason: 'the server asked to wait 2 s',
      trips: 0,
    })
    expect(c.acquire(2_049)).toBe(REJECTED)
    expect(c.acquire(2_050)).not.toBe(REJECTED)
    expect(changes.map((t) => t.to)).toEqual(['open', 'closed'])
  })

  it('stays isolated until reset, and a reset forgets the history', () => {
    const { c } = circuit({ minimumCalls: 1 })
    calls(c, 0, 1, 'failure')
    c.isolate(10, 'maintenance')
    expect(c.acquire(1e9)).toBe(REJECTED)
    expect(c.counts(1e9)).toMatchObject({ state: 'isolated', reason: 'maintenance' })
    c.reset(1e9, 'by hand')
    expect(c.counts(1e9)).toMatchObject({ state: 'closed', trips: 0, calls: 0 })
  })
})

describe('breaker options', () => {
  it('fills in the defaults and accepts false', () => {
    expect(resolveBreakerOptions('breaker', undefined)).toBe(DEFAULT_BREAKER)
    expect(resolveBreakerOptions('breaker', false)).toBe(false)
    expect(resolveBreakerOptions('breaker', { halfOpenProbes: 3 })).toMatchObject({
      ...DEFAULT_BREAKER,
      halfOpenProbes: 3,
    })
  })

  it('raises the default maxOpenDuration to a longer openDuration', () => {
    expect(resolveBreakerOptions('breaker', { openDuration: 60_000 })).toMatchObject({
      openDuration: 60_000,
      maxOpenDuration: 60_000,
    })
  })

  it.each([
    ['failureRatio', { failureRatio: 0 }],
    ['failureRatio', { failureRatio: 1.5 }],
    ['minimumCalls', { minimumCalls: 0.5 }],
    ['window', { window: -1 }],
    ['consecutiveFailures', { consecutiveFailures: 0 }],
    ['openDuration', { openDuration: Infinity }],
    ['maxOpenDuration', { openDuration: 10_000, maxOpenDuration: 5_000 }],
    ['halfOpenProbes', { halfOpenProbes: 0 }],
    ['serverDirected', { serverDirected: 'yes' }],
    ['windw', { windw: 1000 }],
  ])('rejects a bad %s, naming it', (name, value) => {
    expect(() => resolveBreakerOptions('breaker', value)).toThrow(InvalidOptionError)
    expect(() => resolveBreakerOptions('breaker', value)).toThrow(`breaker.${name}`)
  })
})
