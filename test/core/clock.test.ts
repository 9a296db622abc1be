import { describe, expect, it } from 'vitest'
import { getEventListeners } from 'node:events'
import { systemClock } from '../../src/core/clock.ts'
import { VirtualClock } from '../../src/testing/index.ts'

describe('systemClock.sleep', () => {
  it('rejects with the reason as soon as the signal aborts, leaving no listener', async () => {
    const controller = new AbortController()
    const reason = new Error('stop')
    const slept = systemClock.sleep(60_000, controller.signal)
    controller.abort(reason)
    await expect(slept).rejects.toBe(reason)
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
  })

  it('rejects at once for an already aborted signal', async () => {
    const reason = new Error('already')
    await expect(systemClock.sleep(60_000, AbortSignal.abort(reason))).rejects.toBe(reason)
  })

  it('removes its abort listener when it resolves', async () => {
    const controller = new AbortController()
    await systemClock.sleep(1, controller.signal)
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
  })
})

describe('VirtualClock', () => {
  it('fires sleeps in time order only when advanced', async () => {
    const clock = new VirtualClock()
    const fired: number[] = []
    void clock.sleep(200).then(() => fired.push(200))
    void clock.sleep(100).then(() => fired.push(100))
    await clock.advance(99)
    expect(fired).toEqual([])
    await clock.advance(1)
    expect(fired).toEqual([100])
    await clock.advance(100)
    expect(fired).toEqual([100, 200])
    expect(clock.now()).toBe(200)
  })

  it('runs sleeps scheduled by fired timers within the same advance', async () => {
    const clock = new VirtualClock()
    let done = false
    void (async () => {
      await clock.sleep(10)
      await clock.sleep(10)
      done = true
    })()
    await clock.advance(20)
    expect(done).toBe(true)
  })

  it('drops an aborted sleep', async () => {
    const clock = new VirtualClock()
    const controller = new AbortController()
    const slept = clock.sleep(100, controller.signal)
    controller.abort(new Error('no'))
    await expect(slept).rejects.toThrow('no')
    expect(clock.pendingTimers).toBe(0)
  })

  it('fires thousands of timers in (time, creation) order, skipping the cleared ones', async () => {
    const clock = new VirtualClock()
    let seed = 7
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647
    const fired: { at: number; id: number }[] = []
    const handles = Array.from({ length: 5_000 }, (_, id) => {
      const ms = Math.floor(random() * 100)
      return { id, ms, handle: clock.setTimer(() => fired.push({ at: clock.now(), id }), ms) }
    })
    const cleared = new Set<number>()
    for (const { id, handle } of handles) {
      if (id % 3 === 0) {
        clock.clearTimer(handle)
        cleared.add(id)
      }
    }
    expect(clock.pendingTimers).toBe(5_000 - cleared.size)
    await clock.advance(100)
    const expected = handles
      .filter(({ id }) => !cleared.has(id))
      .sort((a, b) => a.ms - b.ms || a.id - b.id)
      .map(({ id, ms }) => ({ at: ms, id }))
    expect(fired).toEqual(expected)
    expect(clock.pendingTimers).toBe(0)
  })

  it('keeps wall time in step with monotonic time', async () => {
    const clock = new VirtualClock(0, 1_000_000)
    await clock.advance(500)
    expect(clock.wallNow()).toBe(1_000_500)
  })
})

describe('timers', () => {
  it('systemClock.setTimer fires once; clearTimer cancels it', async () => {
    const fired: string[] = []
    const cleared = systemClock.setTimer(() => fired.push('cleared'), 1)
    systemClock.clearTimer(cleared)
    await new Promise<void>((resolve) => systemClock.setTimer(resolve, 5))
    expect(fired).toEqual([])
  })

  it('VirtualClock timers fire in order with sleeps, and count as pending until then', async () => {
    const clock = new VirtualClock()
    const fired: string[] = []
    clock.setTimer(() => fired.push('timer 50'), 50)
    void clock.sleep(20).then(() => fired.push('sleep 20'))
    const dropped = clock.setTimer(() => fired.push('dropped'), 10)
    expect(clock.pendingTimers).toBe(3)
    clock.clearTimer(dropped)
    expect(clock.pendingTimers).toBe(2)
    await clock.advance(100)
    expect(fired).toEqual(['sleep 20', 'timer 50'])
    expect(clock.pendingTimers).toBe(0)
  })
})

describe('VirtualClock.advance with a tick', () => {
  it('fires every timer due within one tick before promise callbacks run, each at its own time', async () => {
    const clock = new VirtualClock()
    const seen: string[] = []
    for (const at of [10, 10.4, 10.9, 12]) {
      clock.setTimer(() => {
        seen.push(`timer ${at} at ${clock.now()}`)
        void Promise.resolve().then(() => seen.push(`then ${at} at ${clock.now()}`))
      }, at)
    }
    await clock.advance(20, 1)
    expect(seen).toEqual([
      'timer 10 at 10',
      'timer 10.4 at 10.4',
      'timer 10.9 at 10.9',
      // The callbacks of the three timers of [10, 11) run together, at the last one's time.
      'then 10 at 10.9',
      'then 10.4 at 10.9',
      'then 10.9 at 10.9',
      'timer 12 at 12',
      'then 12 at 12',
    ])
    expect(clock.firedTimers).toBe(4)
    expect(clock.now()).toBe(20)
  })

  it('never fires past the target, and never moves time backwards', async () => {
    const clock = new VirtualClock()
    const times: number[] = []
    clock.setTimer(() => {
      times.push(clock.now())
      // Set from a callback at 5: due at 5.5, within the tick, fires in the next round.
      void Promise.resolve().then(() => clock.setTimer(() => times.push(clock.now()), 0.5))
    }, 5)
    clock.setTimer(() => times.push(clock.now()), 9.5)
    await clock.advance(9, 10)
    expect(times).toEqual([5, 5.5])
    expect(clock.now()).toBe(9)
    await clock.advance(1, 10)
    expect(times).toEqual([5, 5.5, 9.5])
  })
})
