import { describe, expect, it } from 'vitest'
import { EndpointSet, type EndpointEvent } from '../../src/endpoints/endpoint-set.ts'
import {
  DEFAULT_EJECTION,
  DEFAULT_ENDPOINTS,
  type ResolvedEjection,
} from '../../src/endpoints/endpoints-options.ts'
import type { Endpoint } from '../../src/endpoints/endpoint.ts'
import { seededRandom } from '../../src/testing/index.ts'

function setOf(count: number, ejection: Partial<ResolvedEjection> = {}) {
  const events: EndpointEvent[] = []
  const set = new EndpointSet(
    'http://svc.test:8080',
    { ...DEFAULT_ENDPOINTS, ejection: { ...DEFAULT_EJECTION, ...ejection } },
    0,
    (event) => events.push(event),
  )
  set.update(
    Array.from({ length: count }, (_, i) => `10.0.0.${i + 1}`),
    0,
  )
  return { set, events, byAddress: (a: string) => set.endpoints.find((e) => e.address === a)! }
}

/** One attempt to `endpoint`, chosen or not, that fails (or not) after 10 ms. */
function attempt(set: EndpointSet, endpoint: Endpoint, now: number, failed: boolean): void {
  endpoint.inFlight++
  set.settle(endpoint, now, now - 10, !failed, failed)
}

describe('EndpointSet: ejection', () => {
  it('ejects an address after consecutiveFailures in a row; a success resets the run', () => {
    const { set, events, byAddress } = setOf(10)
    const bad = byAddress('10.0.0.3')
    for (let i = 0; i < 4; i++) attempt(set, bad, 1, true)
    attempt(set, bad, 1, false)
    for (let i = 0; i < 4; i++) attempt(set, bad, 2, true)
    expect(bad.ejected(2)).toBe(false)
    attempt(set, bad, 2, true)
    expect(bad.ejected(2)).toBe(true)
    expect(events.at(-1)).toMatchObject({
      address: '10.0.0.3',
      action: 'ejected',
      reason: '5 failures in a row',
      until: 2 + 30_000,
    })
  })

  it('never ejects more than maxShare of the addresses (but one), nor the last one', () => {
    const { set, byAddress } = setOf(10)
    for (let i = 1; i <= 3; i++) {
      for (let k = 0; k < 5; k++) attempt(set, byAddress(`10.0.0.${i}`), 1, true)
    }
    // 10% of 10 is one.
    expect(set.endpoints.filter((e) => e.ejected(1)).map((e) => e.address)).toEqual(['10.0.0.1'])

    const pair = setOf(2)
    for (const e of pair.set.endpoints) for (let k = 0; k < 5; k++) attempt(pair.set, e, 1, true)
    // At least one may be ejected, never both.
    expect(pair.set.endpoints.filter((e) => e.ejected(1))).toHaveLength(1)

    const single = setOf(1)
    for (let k = 0; k < 50; k++) attempt(single.set, single.byAddress('10.0.0.1'), 1, true)
    expect(single.byAddress('10.0.0.1').ejected(1)).toBe(false)

    const wide = setOf(10, { maxShare: 0.3 })
    for (const e of wide.set.endpoints) for (let k = 0; k < 5; k++) attempt(wide.set, e, 1, true)
    expect(wide.set.endpoints.filter((e) => e.ejected(1))).toHaveLength(3)
  })

  it('sends nothing to an ejected address, readmits it when its time is up, measured afresh', () => {
    const { set, events, byAddress } = setOf(3)
    const bad = byAddress('10.0.0.2')
    bad.latency.observe(0, 900)
    for (let k = 0; k < 5; k++) attempt(set, bad, 100, true)
    const random = seededRandom(3)
    for (let i = 0; i < 300; i++) {
      const chosen = set.choose(1_000 + i, random)
      expect(chosen).not.toBe(bad)
      attempt(set, chosen, 1_000 + i, false)
      chosen.inFlight--
    }
    set.choose(100 + 30_000, random).inFlight--
    expect(bad.ejected(30_100)).toBe(false)
    expect(events.at(-1)).toMatchObject({ address: '10.0.0.2', action: 'readmitted' })
    // Measured afresh: unmeasured and idle, it is the cheapest, so it gets the next probe.
    expect(bad.latency.value(30_100)).toBe(0)
    expect(bad.cost(30_100)).toBe(0)
  })

  it('lengthens each further ejection by baseTime, up to maxTime, and shortens it again over healthy intervals', () => {
    const { set, byAddress } = setOf(10, { baseTime: 1_000, maxTime: 2_500, interval: 100 })
    const bad = byAddress('10.0.0.1')
    const random = seededRandom(1)
    let now = 0
    // Traffic every 10 ms, so that intervals are judged on time.
    const until = (end: number) => {
      for (; now < end; now += 10) set.choose(now, random).inFlight--
    }
    const ejectFor = () => {
      for (let k = 0; k < 5; k++) attempt(set, bad, now, true)
      const length = bad.ejectedUntil - now
      until(bad.ejectedUntil + 10)
      return length
    }
    expect(ejectFor()).toBe(1_000)
    expect(ejectFor()).toBe(2_000)
    expect(ejectFor()).toBe(2_500)
    // A50: each interval without an ejection takes one off the multiplier (3 now): after the
    // interval in which it was readmitted, two more.
    until(now + 350)
    expect(ejectFor()).toBe(2_000)
  })

  it('ejects on a failure rate well above the other addresses at the end of an interval', () => {
    const { set, events, byAddress } = setOf(5, { consecutiveFailures: 1_000 })
    const random = seededRandom(2)
    // Over one interval: 10.0.0.1 fails 3 in 5, the others 1 in 20.
    for (let i = 0; i < 40; i++) {
      for (const e of set.endpoints) {
        const failed = e.address === '10.0.0.1' ? i % 5 < 3 : i % 20 === 0
        attempt(set, e, 5_000, failed)
      }
    }
    set.choose(9_999, random).inFlight--
    expect(byAddress('10.0.0.1').ejected(9_999)).toBe(false)
    set.choose(10_000, random).inFlight--
    expect(byAddress('10.0.0.1').ejected(10_000)).toBe(true)
    expect(events.at(-1)).toMatchObject({
      action: 'ejected',
      reason: '24 of 40 attempts failed in 10000 ms, well above the other addresses',
    })
    expect(set.endpoints.filter((e) => e.ejected(10_000))).toHaveLength(1)
  })

  it('ejects nobody when every address fails alike (an origin-wide outage is the breaker’s)', () => {
    const { set } = setOf(5, { consecutiveFailures: 1_000 })
    for (let i = 0; i < 40; i++) for (const e of set.endpoints) attempt(set, e, 5_000, i % 5 < 3)
    set.choose(10_000, seededRandom(1)).inFlight--
    expect(set.endpoints.filter((e) => e.ejected(10_000))).toHaveLength(0)
  })

  it('judges no rate below minRequests attempts', () => {
    const { set, byAddress } = setOf(5, { consecutiveFailures: 1_000 })
    for (let i = 0; i < 19; i++) attempt(set, byAddress('10.0.0.1'), 5_000, true)
    for (let i = 0; i < 40; i++) attempt(set, byAddress('10.0.0.2'), 5_000, false)
    set.choose(10_000, seededRandom(1)).inFlight--
    expect(byAddress('10.0.0.1').ejected(10_000)).toBe(false)
  })

  it('does not count outcomes that say nothing of the address (failed undefined)', () => {
    const { set, byAddress } = setOf(3)
    const e = byAddress('10.0.0.1')
    for (let k = 0; k < 10; k++) {
      e.inFlight++
      set.settle(e, 1, -49, false, undefined)
    }
    expect(e).toMatchObject({ attempts: 0, failures: 0, consecutiveFailures: 0 })
    expect(e.ejected(1)).toBe(false)
    // Its time still counts as a lower bound of its latency.
    expect(e.latency.value(1)).toBe(50)
  })
})

describe('EndpointSet: choice and lookups', () => {
  it('prefers an address the call has not used yet, and falls back to any when all are used', () => {
    const { set } = setOf(3)
    const random = seededRandom(4)
    for (let i = 0; i < 50; i++) {
      const chosen = set.choose(0, random, ['10.0.0.1', '10.0.0.2'])
      expect(chosen.address).toBe('10.0.0.3')
      chosen.inFlight--
    }
    const any = set.choose(0, random, ['10.0.0.1', '10.0.0.2', '10.0.0.3'])
    expect(['10.0.0.1', '10.0.0.2', '10.0.0.3']).toContain(any.address)
  })

  it('counts the chosen address’s attempt in flight until it settles', () => {
    const { set } = setOf(2)
    const chosen = set.choose(0, seededRandom(1))
    expect(chosen.inFlight).toBe(1)
    set.settle(chosen, 5, 0, true, false)
    expect(chosen.inFlight).toBe(0)
  })

  it('keeps state of addresses that stay, adds new ones, drains vanished ones until idle', () => {
    const { set, events, byAddress } = setOf(3)
    const kept = byAddress('10.0.0.1')
    kept.latency.observe(0, 42)
    const leaving = byAddress('10.0.0.3')
    leaving.inFlight = 1
    set.update(['10.0.0.2', '10.0.0.1', '10.0.0.4', '10.0.0.1'], 1_000)
    expect(set.endpoints.map((e) => e.address).sort()).toEqual([
      '10.0.0.1',
      '10.0.0.2',
      '10.0.0.3',
      '10.0.0.4',
    ])
    expect(byAddress('10.0.0.1')).toBe(kept)
    expect(leaving.draining).toBe(true)
    expect(events.slice(-2).map((e) => [e.address, e.action])).toEqual([
      ['10.0.0.3', 'removed'],
      ['10.0.0.4', 'added'],
    ])
    const random = seededRandom(5)
    for (let i = 0; i < 50; i++) {
      const chosen = set.choose(1_000, random)
      expect(chosen).not.toBe(leaving)
      chosen.inFlight--
    }
    set.settle(leaving, 1_100, 1_090, true, false)
    expect(set.endpoints.map((e) => e.address)).not.toContain('10.0.0.3')
  })

  it('keeps at most maxAddresses, the first in sorted order', () => {
    const set = new EndpointSet(
      'http://svc.test',
      { ...DEFAULT_ENDPOINTS, maxAddresses: 2 },
      0,
      () => {},
    )
    set.update(['10.0.0.9', '10.0.0.3', '10.0.0.5'], 0)
    expect(set.endpoints.map((e) => e.address)).toEqual(['10.0.0.3', '10.0.0.5'])
  })

  it('is stale before the first lookup and after the TTL; a failed lookup retries sooner', () => {
    const set = new EndpointSet('http://svc.test', DEFAULT_ENDPOINTS, 0, () => {})
    expect(set.stale(0)).toBe(true)
    set.lookupFailed(0, 1_000)
    // Nothing to serve: the next attempt looks up again.
    expect(set.stale(0)).toBe(true)
    set.update(['10.0.0.1'], 0)
    expect(set.stale(29_999)).toBe(false)
    expect(set.stale(30_000)).toBe(true)
    set.lookupFailed(30_000, 1_000)
    expect(set.stale(30_999)).toBe(false)
    expect(set.stale(31_000)).toBe(true)
  })
})

describe('EndpointSet: the cost of an address that stops answering', () => {
  it('counts an attempt still out longer than the estimate at its age', () => {
    const { set, byAddress } = setOf(2, { consecutiveFailures: 1_000 })
    const [a, b] = [byAddress('10.0.0.1'), byAddress('10.0.0.2')]
    for (const e of [a, b]) {
      e.inFlight++
      set.settle(e, 10, 0, true, false) // both answer in 10 ms
    }
    b.inFlight++
    b.pendingStarts.push(10) // an attempt to b that never comes back
    // At 1 s it has been out 990 ms: b costs 990 x 2, a 10-ish x 1, whatever the EWMA says.
    expect(b.cost(1_000)).toBeGreaterThan(1_900)
    expect(a.cost(1_000)).toBeLessThan(10)
    const random = seededRandom(1)
    for (let i = 0; i < 20; i++) expect(set.choose(1_000, random).address).toBe('10.0.0.1')
  })

  it('doubles the bound of each attempt in a row that ended unanswered, up to 16x', () => {
    const { set, byAddress } = setOf(2, { consecutiveFailures: 1_000 })
    const stuck = byAddress('10.0.0.1')
    const values: number[] = []
    for (let i = 0; i < 6; i++) {
      stuck.inFlight++
      set.settle(stuck, 1_000 * (i + 1), 1_000 * i, false, true) // cut after 1 s, unanswered
      values.push(Math.round(stuck.latency.value(1_000 * (i + 1))))
    }
    expect(values).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 16_000])
    // An answer ends the run: the next unanswered attempt counts at its own time again.
    stuck.inFlight++
    set.settle(stuck, 7_000, 6_990, true, false)
    expect(stuck.unanswered).toBe(0)
    // A caller's abort (failed undefined) says nothing and doubles nothing.
    stuck.inFlight++
    set.settle(stuck, 8_000, 7_900, false, undefined)
    expect(stuck.unanswered).toBe(0)
  })
})
