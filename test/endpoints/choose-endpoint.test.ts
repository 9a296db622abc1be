import { describe, expect, it } from 'vitest'
import { chooseEndpoint } from '../../src/endpoints/choose-endpoint.ts'
import { Endpoint } from '../../src/endpoints/endpoint.ts'
import { seededRandom } from '../../src/testing/index.ts'

const ORIGIN = new URL('https://api.example:8443')

function endpoint(address: string, latency: number, inFlight = 0): Endpoint {
  const e = new Endpoint(address, ORIGIN, 10_000, 0)
  if (latency > 0) e.latency.observe(0, latency)
  e.inFlight = inFlight
  return e
}

describe('Endpoint', () => {
  it('dispatches to the address with the origin’s port, and keeps the name for Host and TLS', () => {
    const v4 = endpoint('10.0.0.2', 0)
    expect(v4).toMatchObject({
      origin: 'https://10.0.0.2:8443',
      host: 'api.example:8443',
      servername: 'api.example',
    })
    expect(endpoint('fd00::2', 0).origin).toBe('https://[fd00::2]:8443')
    const plain = new Endpoint('10.0.0.2', new URL('http://svc'), 10_000, 0)
    expect(plain).toMatchObject({ origin: 'http://10.0.0.2', host: 'svc' })
  })

  it('costs latency × (in flight + 1), and an unmeasured one with an attempt out the penalty', () => {
    expect(endpoint('10.0.0.1', 100, 0).cost(0)).toBe(100)
    expect(endpoint('10.0.0.1', 100, 3).cost(0)).toBe(400)
    expect(endpoint('10.0.0.1', 0, 0).cost(0)).toBe(0)
    expect(endpoint('10.0.0.1', 0, 1).cost(0)).toBeGreaterThan(1e8)
  })
})

describe('chooseEndpoint (power of two choices)', () => {
  it('takes the cheaper of two distinct random candidates', () => {
    // random() = 0 draws index 0, then index 0 of the rest, which is index 1.
    const a = endpoint('10.0.0.1', 100)
    const b = endpoint('10.0.0.2', 50)
    const c = endpoint('10.0.0.3', 1)
    expect(chooseEndpoint([a, b, c], 0, () => 0)).toBe(b)
    expect(chooseEndpoint([b, a, c], 0, () => 0)).toBe(b)
  })

  it('never sends anything to the costliest address, and nearly nothing to a slow one', () => {
    const random = seededRandom(7)
    const fast = [1, 2, 3, 4].map((i) => endpoint(`10.0.0.${i}`, 10))
    const slow = endpoint('10.0.0.9', 2_000)
    const all = [...fast, slow]
    const counts = new Map<Endpoint, number>()
    for (let i = 0; i < 10_000; i++) {
      const chosen = chooseEndpoint(all, 0, random)
      counts.set(chosen, (counts.get(chosen) ?? 0) + 1)
    }
    expect(counts.get(slow) ?? 0).toBe(0)
    // The four fast ones share evenly (each within 20% of a quarter).
    for (const e of fast) expect(Math.abs((counts.get(e) ?? 0) - 2_500)).toBeLessThan(500)
  })

  it('weighs in-flight attempts: a fast address that is busy loses to an idle slower one', () => {
    const busy = endpoint('10.0.0.1', 10, 9)
    const idle = endpoint('10.0.0.2', 50, 0)
    expect(chooseEndpoint([busy, idle], 0, () => 0)).toBe(idle)
  })

  it('breaks a cost tie by fewer attempts in flight', () => {
    const a = endpoint('10.0.0.1', 0, 2)
    const b = endpoint('10.0.0.2', 0, 1)
    // Both unmeasured with attempts out: penalty + in flight, so b is cheaper anyway; equal
    // costs with equal in flight keep the first drawn.
    expect(chooseEndpoint([a, b], 0, () => 0)).toBe(b)
    const c = endpoint('10.0.0.3', 0)
    const d = endpoint('10.0.0.4', 0)
    expect(chooseEndpoint([c, d], 0, () => 0)).toBe(c)
  })

  it('takes the only candidate', () => {
    const a = endpoint('10.0.0.1', 1_000, 50)
    expect(chooseEndpoint([a], 0, Math.random)).toBe(a)
  })
})
