import { describe, expect, it } from 'vitest'
import type { Clock, TimerHandle } from '../../src/core/clock.ts'
import { TimerQueue } from '../../src/core/timer-queue.ts'
import { VirtualClock, seededRandom } from '../../src/testing/index.ts'

describe('TimerQueue', () => {
  it('fires each entry at its time, in order, on one clock timer', async () => {
    const clock = new VirtualClock()
    const queue = new TimerQueue(clock)
    const fired: string[] = []
    const note = (label: string) => fired.push(`${label}@${clock.now()}`)
    queue.add(300, 0, note, 'c')
    queue.add(100, 0, note, 'a')
    queue.add(200, 0, note, 'b')
    expect(clock.pendingTimers).toBe(1)
    await clock.advance(1_000)
    expect(fired).toEqual(['a@100', 'b@200', 'c@300'])
    expect(clock.pendingTimers).toBe(0)
  })

  it('fires thousands of mixed entries, some removed, by time and then by order added', async () => {
    // Deadlines and attempt timeouts of many calls on one clock, as the fleet simulator makes:
    // a shorter timer added behind many longer ones, and most removed before they fire.
    const clock = new VirtualClock()
    const queue = new TimerQueue(clock)
    const random = seededRandom(7)
    const fired: number[] = []
    const expected: { due: number; n: number }[] = []
    const handles: { handle: ReturnType<TimerQueue['add']>; due: number; n: number }[] = []
    for (let n = 0; n < 5_000; n++) {
      const due = [1_000, 10_000, 250][n % 3]! + Math.floor(random() * 4) * 50
      handles.push({ handle: queue.add(due, 0, (x) => fired.push(x), n), due, n })
    }
    for (const entry of handles) {
      if (random() < 0.6) queue.remove(entry.handle)
      else expected.push(entry)
    }
    await clock.advance(20_000)
    expected.sort((a, b) => a.due - b.due || a.n - b.n)
    expect(fired).toEqual(expected.map((e) => e.n))
  })

  it('never fires a removed entry, and the others keep their times', async () => {
    const clock = new VirtualClock()
    const queue = new TimerQueue(clock)
    const fired: number[] = []
    const first = queue.add(100, 0, (n) => fired.push(n), 1)
    queue.add(200, 0, (n) => fired.push(n), 2)
    const third = queue.add(300, 0, (n) => fired.push(n), 3)
    queue.remove(first)
    queue.remove(third)
    queue.remove(third) // twice is nothing
    await clock.advance(150)
    expect(fired).toEqual([])
    await clock.advance(100)
    expect(fired).toEqual([2])
  })

  it('leaves no clock timer once the queue is empty, so a process can exit', () => {
    const clock = new VirtualClock()
    const queue = new TimerQueue(clock)
    const a = queue.add(10_000, 0, () => {}, undefined)
    const b = queue.add(10_000, 0, () => {}, undefined)
    queue.remove(a)
    expect(clock.pendingTimers).toBe(1)
    queue.remove(b)
    expect(clock.pendingTimers).toBe(0)
  })

  it('sets the clock timer again for an entry due before the one it waits for', async () => {
    const clock = new VirtualClock()
    const queue = new TimerQueue(clock)
    const fired: string[] = []
    queue.add(1_000, 0, () => fired.push(`late@${clock.now()}`), undefined)
    queue.add(50, 0, () => fired.push(`soon@${clock.now()}`), undefined)
    await clock.advance(60)
    expect(fired).toEqual(['soon@50'])
  })

  it('never fires an entry before its time, when the clock timer runs early', () => {
    // Node's timers count from the event loop's cached time: by performance.now() they can run a
    // few ms early. A clock whose timer the test runs by hand shows it.
    let now = 0
    const timers: (() => void)[] = []
    const clock: Clock = {
      now: () => now,
      wallNow: () => now,
      sleep: () => Promise.resolve(),
      setTimer: (callback) => {
        timers.push(callback)
        return timers.length as unknown as TimerHandle
      },
      clearTimer: () => {},
    }
    const queue = new TimerQueue(clock)
    const fired: number[] = []
    queue.add(100, 0, () => fired.push(now), undefined)
    now = 97
    timers.shift()?.()
    expect(fired).toEqual([])
    expect(timers).toHaveLength(1) // set again for the rest
    now = 100
    timers.shift()?.()
    expect(fired).toEqual([100])
  })

  it('runs every due entry when one of them throws, then surfaces the error', async () => {
    const clock = new VirtualClock()
    const queue = new TimerQueue(clock)
    const fired: number[] = []
    queue.add(
      10,
      0,
      () => {
        throw new Error('boom')
      },
      undefined,
    )
    queue.add(10, 0, (n) => fired.push(n), 2)
    await expect(clock.advance(20)).rejects.toThrow('boom')
    expect(fired).toEqual([2])
  })
})

describe('TimerQueue on Node timers', () => {
  it('keeps its timer, unref’d, while empty, and takes it up again for the next entry', () => {
    const set: NodeJS.Timeout[] = []
    const clock: Clock = {
      now: () => performance.now(),
      wallNow: () => Date.now(),
      sleep: () => Promise.resolve(),
      setTimer: (callback, ms) => {
        const timer = setTimeout(callback, ms)
        set.push(timer)
        return timer as unknown as TimerHandle
      },
      clearTimer: (handle) => clearTimeout(handle as unknown as NodeJS.Timeout),
    }
    const queue = new TimerQueue(clock)
    try {
      const first = queue.add(clock.now() + 60_000, clock.now(), () => {}, undefined)
      expect(set).toHaveLength(1)
      expect(set[0]?.hasRef()).toBe(true)
      queue.remove(first)
      // Empty: the process may exit, whatever the timer.
      expect(set[0]?.hasRef()).toBe(false)
      // Calls made one at a time: the next entry, due later, reuses the timer.
      const second = queue.add(clock.now() + 60_001, clock.now(), () => {}, undefined)
      expect(set).toHaveLength(1)
      expect(set[0]?.hasRef()).toBe(true)
      queue.remove(second)
    } finally {
      for (const timer of set) clearTimeout(timer)
    }
  })
})
