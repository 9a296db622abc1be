import { describe, expect, it } from 'vitest'
import { LatencyWindow } from '../../src/core/latency-window.ts'

describe('LatencyWindow', () => {
  it('reports p50 and p99 within 7% of the exact quantiles', () => {
    const window = new LatencyWindow(60_000, 6)
    // 1..1000 ms: exact p50 = 500, p99 = 990.
    for (let ms = 1; ms <= 1000; ms++) window.record(0, ms)
    const { count, values } = window.quantiles(0, [0.5, 0.99])
    expect(count).toBe(1000)
    expect(Math.abs((values[0] as number) / 500 - 1)).toBeLessThan(0.07)
    expect(Math.abs((values[1] as number) / 990 - 1)).toBeLessThan(0.07)
  })

  it('forgets samples once they are older than the window', () => {
    const window = new LatencyWindow(60_000, 6)
    window.record(0, 2_000)
    window.record(30_000, 10)
    expect(window.quantiles(30_000, [1]).values[0]).toBeGreaterThan(1_800)
    // At 65 s the first slice (0-10 s) has left; the 30 s sample is still in.
    const later = window.quantiles(65_000, [0.5, 1])
    expect(later.count).toBe(1)
    expect(later.values[1]).toBeLessThan(11)
    expect(window.quantiles(100_000, [0.5])).toEqual({ count: 0, values: [undefined] })
  })

  it('puts sub-0.1 ms and huge latencies in the end buckets', () => {
    const window = new LatencyWindow(1_000, 2)
    window.record(0, 0)
    window.record(0, 10_000_000)
    const { values } = window.quantiles(0, [0.5, 1])
    expect(values[0]).toBeLessThan(0.1)
    expect(values[1]).toBeGreaterThan(100_000)
  })
})
