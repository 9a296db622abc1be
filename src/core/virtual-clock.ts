import type { Clock, TimerHandle } from './clock.ts'
import { finiteNumber } from './validate.ts'

interface VirtualTimer {
  at: number
  seq: number
  fire: () => void
  /** Its place in the heap; -1 once it has fired or been removed. */
  index: number
}

/**
 * A clock that only moves when told to, for deterministic tests and simulations.
 *
 * @example
 * ```ts
 * const clock = new VirtualClock()
 * const slept = clock.sleep(1_000)
 * await clock.advance(1_000) // runs the timer, then lets promise chains settle
 * await slept
 * ```
 */
export class VirtualClock implements Clock {
  #now: number
  #wallOffset: number
  #seq = 0
  // A binary min-heap on (at, seq): a simulation with thousands of timers pending (a fan-out, a
  // fleet) finds the next one in O(1) and adds or removes one in O(log n).
  #timers: VirtualTimer[] = []
  #fired = 0

  /**
   * @param start - initial value of `now()`.
   * @param wallStart - initial value of `wallNow()` (epoch ms).
   */
  constructor(start = 0, wallStart = Date.UTC(2026, 0, 1)) {
    finiteNumber('start', start)
    finiteNumber('wallStart', wallStart)
    this.#now = start
    this.#wallOffset = wallStart - start
  }

  now(): number {
    return this.#now
  }

  wallNow(): number {
    return this.#now + this.#wallOffset
  }

  /** Number of sleeps and timers fired since the clock was made: a simulation's event count. */
  get firedTimers(): number {
    return this.#fired
  }

  /** Number of sleeps and timers still waiting. */
  get pendingTimers(): number {
    return this.#timers.length
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason)
        return
      }
      const timer: VirtualTimer = {
        at: this.#now + Math.max(0, ms),
        seq: this.#seq++,
        fire: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        },
        index: -1,
      }
      const onAbort = () => {
        this.#remove(timer)
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#push(timer)
    })
  }

  setTimer(callback: () => void, ms: number): TimerHandle {
    const timer: VirtualTimer = {
      at: this.#now + Math.max(0, ms),
      seq: this.#seq++,
      fire: callback,
      index: -1,
    }
    this.#push(timer)
    return timer as TimerHandle
  }

  clearTimer(handle: TimerHandle): void {
    this.#remove(handle as VirtualTimer)
  }

  /**
   * Moves time forward by `ms`, firing due timers in order. After each timer it lets pending
   * promise callbacks run, so a chain of sleeps scheduled by fired timers is honoured too.
   *
   * With `tick` above 0 (a simulation of thousands of timers per second), it fires every timer
   * due within one `tick` of the first before letting promise callbacks run: each timer still
   * fires at its own time, but code awaiting one sees the clock up to `tick` ms later. One settle
   * per tick instead of per timer is what makes a fleet of thousands of clients fast enough.
   */
  async advance(ms: number, tick = 0): Promise<void> {
    const target = this.#now + ms
    // Work already under way (a promise chain about to set a timer) runs before time moves.
    await settle()
    for (;;) {
      const first = this.#earliest()
      if (first === undefined || first.at > target) break
      const until = Math.min(target, first.at + tick)
      for (;;) {
        const next = this.#earliest()
        if (next === undefined || next.at > until) break
        this.#remove(next)
        this.#now = next.at
        this.#fired++
        next.fire()
        if (tick <= 0) break
      }
      await settle()
    }
    this.#now = target
    await settle()
  }

  #earliest(): VirtualTimer | undefined {
    return this.#timers[0]
  }

  #push(timer: VirtualTimer): void {
    timer.index = this.#timers.length
    this.#timers.push(timer)
    this.#up(timer.index)
  }

  #remove(timer: VirtualTimer): void {
    const i = timer.index
    const heap = this.#timers
    if (i < 0 || heap[i] !== timer) return
    timer.index = -1
    const last = heap.pop() as VirtualTimer
    if (last === timer) return
    heap[i] = last
    last.index = i
    this.#up(i)
    this.#down(last.index)
  }

  #up(i: number): void {
    const heap = this.#timers
    const timer = heap[i] as VirtualTimer
    while (i > 0) {
      const parent = (i - 1) >> 1
      const above = heap[parent] as VirtualTimer
      if (!before(timer, above)) break
      heap[i] = above
      above.index = i
      i = parent
    }
    heap[i] = timer
    timer.index = i
  }

  #down(i: number): void {
    const heap = this.#timers
    const timer = heap[i] as VirtualTimer
    const n = heap.length
    for (;;) {
      const left = 2 * i + 1
      if (left >= n) break
      const right = left + 1
      let child = left
      if (right < n && before(heap[right] as VirtualTimer, heap[left] as VirtualTimer))
        child = right
      const below = heap[child] as VirtualTimer
      if (!before(below, timer)) break
      heap[i] = below
      below.index = i
      i = child
    }
    heap[i] = timer
    timer.index = i
  }
}

function before(a: VirtualTimer, b: VirtualTimer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}

// One macrotask turn: every microtask queued so far (and those they queue) has run.
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
