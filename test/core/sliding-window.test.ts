import { describe, expect, it } from 'vitest'
import { SlidingWindow } from '../../src/core/sliding-window.ts'

describe('SlidingWindow', () => {
  it('sums each counter over the window', () => {
    const w = new SlidingWindow(10_000, 10, 2)
    w.add(0, 0)
    w.add(500, 0, 2)
    w.add(4000, 1)
    expect(w.total(5000, 0)).toBe(3)
    expect(w.total(5000, 1)).toBe(1)
  })

  it('drops a count once its bucket is older than the window, one bucket at a time', () => {
    const w = new SlidingWindow(10_000, 10, 1)
    w.add(0, 0)
    w.add(3500, 0)
    expect(w.total(9999, 0)).toBe(2)
    // The bucket [0, 1000) leaves at 10 s; [3000, 4000) at 13 s.
    expect(w.total(10_000, 0)).toBe(1)
    expect(w.total(12_999, 0)).toBe(1)
    expect(w.total(13_000, 0)).toBe(0)
  })

  it('forgets everything after a gap longer than the window', () => {
    const w = new SlidingWindow(10_000, 10, 1)
    for (let t = 0; t < 5000; t += 100) w.add(t, 0)
    expect(w.total(60_000, 0)).toBe(0)
    w.add(60_000, 0)
    expect(w.total(60_500, 0)).toBe(1)
  })

  it('never reports a negative total, even with negative amounts and float drift', () => {
    const w = new SlidingWindow(1000, 10, 1)
    for (let t = 0; t < 5000; t += 7) w.add(t, 0, 0.1)
    expect(w.total(10_000, 0)).toBe(0)
  })
})
