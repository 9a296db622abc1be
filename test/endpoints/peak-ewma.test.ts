import { describe, expect, it } from 'vitest'
import { PeakEwma } from '../../src/endpoints/peak-ewma.ts'

describe('PeakEwma', () => {
  it('jumps to a sample above the estimate at once', () => {
    const ewma = new PeakEwma(10_000, 0)
    ewma.observe(0, 10)
    ewma.observe(100, 2_000)
    expect(ewma.value(100)).toBe(2_000)
  })

  it('decays toward zero with time constant τ while nothing is observed', () => {
    const ewma = new PeakEwma(10_000, 0)
    ewma.observe(0, 1_000)
    expect(ewma.value(10_000)).toBeCloseTo(1_000 / Math.E, 6)
    expect(ewma.value(30_000)).toBeCloseTo(1_000 * Math.exp(-3), 6)
    // Reading does not change it.
    expect(ewma.value(10_000)).toBeCloseTo(1_000 / Math.E, 6)
  })

  it('moves toward a lower sample by the weight its age gives it', () => {
    const ewma = new PeakEwma(10_000, 0)
    ewma.observe(0, 1_000)
    ewma.observe(10_000, 100)
    const w = Math.exp(-1)
    expect(ewma.value(10_000)).toBeCloseTo(1_000 * w + 100 * (1 - w), 6)
    // Samples close together barely move it: a slow address stays costly for a while.
    ewma.observe(10_001, 1)
    expect(ewma.value(10_001)).toBeGreaterThan(400)
  })

  it('observePeak raises the estimate and never lowers it', () => {
    const ewma = new PeakEwma(10_000, 0)
    ewma.observe(0, 500)
    ewma.observePeak(0, 5)
    expect(ewma.value(0)).toBe(500)
    ewma.observePeak(0, 1_000)
    expect(ewma.value(0)).toBe(1_000)
  })

  it('forgets everything on reset', () => {
    const ewma = new PeakEwma(10_000, 0)
    ewma.observe(0, 500)
    ewma.reset(5)
    expect(ewma.value(5)).toBe(0)
    ewma.observe(6, 20)
    expect(ewma.value(6)).toBe(20)
  })
})
