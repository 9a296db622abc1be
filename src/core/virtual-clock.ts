import type { Clock, TimerHandle } from './clock.ts'
import { finiteNumber } from './validate.ts'

interface VirtualTimer {
  at: number
  seq: number
  fire: () => void
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
  #timers: VirtualTimer[] = []

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
      }
      const onAbort = () => {
        this.#remove(timer)
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#timers.push(timer)
    })
  }

  setTimer(callback: () => void, ms: number): TimerHandle {
    const timer: VirtualTimer = {
      at: this.#now + Math.max(0, ms),
      seq: this.#seq++,
      fire: callback,
    }
    this.#timers.push(timer)
    return timer as TimerHandle
  }

  clearTimer(handle: TimerHandle): void {
    this.#remove(handle as VirtualTimer)
  }

  /**
   * Moves time forward by `ms`, firing due timers in order. After each timer it lets pending
   * promise callbacks run, so a chain of sleeps scheduled by fired timers is honoured too.
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms
    for (;;) {
      const next = this.#earliest()
      if (next === undefined || next.at > target) break
      this.#remove(next)
      this.#now = next.at
      next.fire()
      await settle()
    }
    this.#now = target
    await settle()
  }

  #earliest(): VirtualTimer | undefined {
    let best: VirtualTimer | undefined
    for (const t of this.#timers) {
      if (best === undefined || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t
    }
    return best
  }

  #remove(timer: VirtualTimer): void {
    const i = this.#timers.indexOf(timer)
    if (i !== -1) this.#timers.splice(i, 1)
  }
}

// One macrotask turn: every microtask queued so far (and those they queue) has run.
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
