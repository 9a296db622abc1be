import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { gcraPause, gcraReserve, gcraRule } from '../../src/rate-limit/gcra.ts'

/**
 * The reference: a token bucket of `burst + 1` tokens refilled one per `interval`, serving
 * requests first come first served, each at the first moment a token is there; a request whose
 * turn would come more than `maxWait` after its arrival is refused and takes no token. GCRA with
 * tolerance `burst × interval` must send every request at exactly the same time.
 */
function tokenBucketModel(arrivals: number[], interval: number, burst: number, maxWait: number) {
  const capacity = burst + 1
  let tokens = capacity
  let at = -Infinity // time `tokens` was measured at
  let lastSend = -Infinity
  return arrivals.map((arrival) => {
    const t = Math.max(arrival, lastSend) // first come, first served
    const available = at === -Infinity ? capacity : Math.min(capacity, tokens + (t - at) / interval)
    const send = available >= 1 ? t : t + (1 - available) * interval
    if (send - arrival > maxWait + 1e-9) return undefined
    tokens = available >= 1 ? available - 1 : 0
    at = send
    lastSend = send
    return send
  })
}

describe('gcraReserve', () => {
  it('sends each request when a token bucket of burst + 1 would (property, against the model)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 0, max: 5 }),
        fc.oneof(fc.constant(Infinity), fc.integer({ min: 0, max: 300 })),
        (gaps, interval, burst, maxWait) => {
          let t = 0
          const arrivals = gaps.map((g) => (t += g))
          const expected = tokenBucketModel(arrivals, interval, burst, maxWait)
          const rule = { interval, tolerance: burst * interval }
          let tat = -Infinity
          const actual = arrivals.map((now) => {
            const r = gcraReserve(tat, now, rule, maxWait)
            if (!r.allowed) return undefined
            tat = r.tat
            return now + r.wait
          })
          for (let i = 0; i < arrivals.length; i++) {
            if (expected[i] === undefined) expect(actual[i]).toBeUndefined()
            else expect(actual[i]).toBeCloseTo(expected[i] as number, 6)
          }
        },
      ),
    )
  })

  it('never lets more than rate × window + burst go in any window (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 1, max: 500 }),
        (gaps, interval, burst, window) => {
          let t = 0
          let tat = -Infinity
          const sends: number[] = []
          for (const g of gaps) {
            t += g
            const r = gcraReserve(tat, t, { interval, tolerance: burst * interval }, 1000)
            if (r.allowed) {
              tat = r.tat
              sends.push(t + r.wait)
            }
          }
          sends.sort((a, b) => a - b)
          for (let i = 0; i < sends.length; i++) {
            let n = 0
            for (
              let j = i;
              j < sends.length && (sends[j] as number) < (sends[i] as number) + window;
              j++
            )
              n++
            expect(n).toBeLessThanOrEqual(Math.ceil(window / interval) + burst)
          }
        },
      ),
    )
  })

  it('refuses without reserving when the wait is longer than allowed, and says how long', () => {
    const rule = gcraRule(10, 1000, 0) // one per 100 ms
    const first = gcraReserve(-Infinity, 0, rule, 0)
    expect(first).toEqual({ allowed: true, wait: 0, tat: 100 })
    const refused = gcraReserve(first.tat, 0, rule, 50)
    expect(refused).toEqual({ allowed: false, wait: 100, tat: 100 })
    expect(gcraReserve(first.tat, 0, rule, 100)).toEqual({ allowed: true, wait: 100, tat: 200 })
  })

  it('lets burst + 1 requests go at once after a quiet spell', () => {
    const rule = gcraRule(10, 1000, 3)
    let tat = -Infinity
    const waits = []
    for (let i = 0; i < 6; i++) {
      const r = gcraReserve(tat, 5000, rule, Infinity)
      tat = r.tat
      waits.push(r.wait)
    }
    expect(waits).toEqual([0, 0, 0, 0, 100, 200])
  })
})

describe('gcraPause', () => {
  it('holds every request until the pause ends, then paces them without a burst', () => {
    const rule = gcraRule(10, 1000, 3)
    const tat = gcraPause(-Infinity, 2000, rule)
    const a = gcraReserve(tat, 0, rule, Infinity)
    const b = gcraReserve(a.tat, 0, rule, Infinity)
    expect(a.wait).toBe(2000)
    expect(b.wait).toBe(2100)
  })

  it('never moves a schedule back', () => {
    const rule = gcraRule(10, 1000, 0)
    expect(gcraPause(5000, 1000, rule)).toBe(5000)
  })
})
