import { describe, expect, it } from 'vitest'
import { HedgeState } from '../../src/retry/hedge-state.ts'

describe('HedgeState', () => {
  it('reads the percentile delay from the window, within a log bucket', () => {
    const state = new HedgeState()
    for (let ms = 1; ms <= 100; ms++) state.recordLatency(ms, ms)
    const delay = state.delay(100, 0.95) ?? NaN
    expect(delay).toBeGreaterThan(95 * 0.93)
    expect(delay).toBeLessThan(95 * 1.07)
    expect(state.typical()).toBeGreaterThan(50 * 0.93)
    expect(state.typical()).toBeLessThan(50 * 1.07)
  })

  it('knows no delay before max(20, 1 / (1 - q)) samples, and reads one as soon as they are in', () => {
    const state = new HedgeState()
    for (let i = 0; i < 39; i++) state.recordLatency(0, 10)
    expect(state.delay(0, 0.975)).toBeUndefined()
    state.recordLatency(0, 10)
    // 1 / 0.025 = 40 samples: known at once, not 3 s later.
    expect(state.delay(1, 0.975)).toBeCloseTo(10, -1)
    const p99 = new HedgeState()
    for (let i = 0; i < 99; i++) p99.recordLatency(0, 10)
    expect(p99.delay(0, 0.99)).toBeUndefined()
    p99.recordLatency(0, 10)
    expect(p99.delay(0, 0.99)).toBeDefined()
    const p95 = new HedgeState()
    for (let i = 0; i < 20; i++) p95.recordLatency(0, 10)
    expect(p95.delay(0, 0.95)).toBeDefined()
  })

  it('reads the percentile again every 3 s, and forgets latencies after 30 s', () => {
    const state = new HedgeState()
    for (let i = 0; i < 20; i++) state.recordLatency(0, 10)
    const fast = state.delay(0, 0.95) ?? NaN
    for (let i = 0; i < 400; i++) state.recordLatency(1_000, 100)
    // Cached until 3 s after the last reading.
    expect(state.delay(2_999, 0.95)).toBe(fast)
    expect(state.delay(3_000, 0.95)).toBeGreaterThan(90)
    // 30 s on, the window is empty again: no delay, no hedges.
    expect(state.delay(40_000, 0.95)).toBeUndefined()
  })

  it('never hedges sooner than 1 ms', () => {
    const state = new HedgeState()
    for (let i = 0; i < 40; i++) state.recordLatency(0, 0.05)
    expect(state.delay(0, 0.95)).toBe(1)
  })

  it('holds hedges to maxExtraLoad of the calls of the last 10 s, and takes back a refund', () => {
    const state = new HedgeState()
    for (let i = 0; i < 100; i++) state.recordCall(0)
    const taken = Array.from({ length: 10 }, () => state.tryHedge(0, 0.05)).filter(Boolean)
    expect(taken).toHaveLength(5)
    state.refund(0)
    expect(state.tryHedge(0, 0.05)).toBe(true)
    expect(state.tryHedge(0, 0.05)).toBe(false)
    // The calls and hedges leave the window together.
    expect(state.tryHedge(11_000, 0.05)).toBe(false)
    for (let i = 0; i < 20; i++) state.recordCall(11_000)
    expect(state.tryHedge(11_000, 0.05)).toBe(true)
  })
})
