import { describe, expect, it } from 'vitest'
import { preconnectCount } from '../../src/connections/preconnect.ts'

describe('preconnectCount', () => {
  it('opens enough for ratio x demand, rounded up, less what is open or opening', () => {
    // Envoy's example: ratio 1.5, one stream in demand: two connections.
    expect(preconnectCount(1.5, 1, 1, 100)).toBe(1)
    expect(preconnectCount(1.5, 4, 4, 100)).toBe(2)
    expect(preconnectCount(2, 4, 6, 100)).toBe(2)
    // 1.1 x 10 is 11, not 12.
    expect(preconnectCount(1.1, 10, 10, 100)).toBe(1)
  })

  it('opens nothing when enough are open, or at ratio 1', () => {
    expect(preconnectCount(2, 3, 6, 100)).toBe(0)
    expect(preconnectCount(2, 3, 9, 100)).toBe(0)
    expect(preconnectCount(1, 50, 50, 100)).toBe(0)
    expect(preconnectCount(3, 0, 0, 100)).toBe(0)
  })

  it('never asks past the per-origin maximum', () => {
    expect(preconnectCount(3, 10, 10, 16)).toBe(6)
    expect(preconnectCount(3, 10, 20, 16)).toBe(0)
  })
})
