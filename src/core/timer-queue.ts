import type { Clock, TimerHandle } from './clock.ts'

/** A callback waiting in a {@link TimerQueue}; `remove` it to cancel. */
export interface QueuedTimer {
  /** The `clock.now()` reading at which it fires. */
  readonly due: number
}

interface Entry<A = unknown> extends QueuedTimer {
  readonly fire: (arg: A) => void
  readonly arg: A
  prev: Entry | undefined
  next: Entry | undefined
  queued: boolean
}

/**
 * Many timers on one clock timer: the deadlines and attempt timeouts of every call in flight wait
 * here, in order of when they fire, and one timer of the clock is set for the first of them.
 *
 * A call's timer is nearly always cleared, not fired (the call ends first), and a Node timer costs
 * about 340 ns to set and clear; an entry here costs an object and a few links. Calls of one
 * client mostly share a deadline's length, so a new entry is usually the last one: adding is O(1)
 * from the tail, removing O(1). Removing the first entry leaves the clock timer set: it fires
 * early, finds nothing due, and is set again for the new first entry. An empty queue keeps a
 * Node timer, unref'd, for the next entry (see #release).
 *
 * Entries fire when `clock.now()` has reached their time, never before: Node's timers count
 * from the event loop's cached time and can run a few ms early by `performance.now()`.
 */
export class TimerQueue {
  readonly #clock: Clock
  #head: Entry | undefined
  #tail: Entry | undefined
  #timer: TimerHandle | undefined
  // When the clock timer is set to fire; Infinity when it is not set.
  #armedFor = Infinity
  // False while the queue is empty and the clock timer, left set, no longer holds the process.
  #held = false

  constructor(clock: Clock) {
    this.#clock = clock
  }

  /**
   * Runs `fire(arg)` once `clock.now()` reaches `due`, unless the entry is removed first. `now`
   * is a reading the caller has just taken (a reading costs time; the caller has one).
   */
  add<A>(due: number, now: number, fire: (arg: A) => void, arg: A): QueuedTimer {
    const entry: Entry<A> = { due, fire, arg, prev: undefined, next: undefined, queued: true }
    let after = this.#tail
    while (after !== undefined && after.due > due) after = after.prev
    if (after === undefined) {
      entry.next = this.#head
      if (this.#head !== undefined) this.#head.prev = entry as Entry
      else this.#tail = entry as Entry
      this.#head = entry as Entry
      if (due < this.#armedFor) {
        this.#arm(due, now)
        return entry
      }
    } else {
      entry.prev = after
      entry.next = after.next
      if (after.next !== undefined) after.next.prev = entry as Entry
      else this.#tail = entry as Entry
      after.next = entry as Entry
    }
    if (!this.#held) this.#hold(true)
    return entry
  }

  /** Takes `timer` out of the queue; nothing if it has fired or been removed. */
  remove(timer: QueuedTimer): void {
    const entry = timer as Entry
    if (!entry.queued) return
    this.#unlink(entry)
    // Nothing left to wait for: the clock timer must not keep the process alive.
    if (this.#head === undefined && this.#timer !== undefined) this.#release()
  }

  /**
   * The queue is empty. A Node timer is left set but unref'd: the next entry, usually due after
   * it, takes it up with a `ref()` instead of a new timer (calls made one at a time empty the
   * queue after each). Another clock's timer is cleared.
   */
  #release(): void {
    if (typeof (this.#timer as Partial<NodeJS.Timeout>).unref === 'function') {
      this.#hold(false)
      return
    }
    this.#clock.clearTimer(this.#timer as TimerHandle)
    this.#timer = undefined
    this.#armedFor = Infinity
  }

  /** Lets the clock timer keep the process alive, or not. */
  #hold(held: boolean): void {
    const timer = this.#timer as Partial<NodeJS.Timeout> | undefined
    if (timer === undefined) return
    this.#held = held
    if (held) timer.ref?.()
    else timer.unref?.()
  }

  #unlink(entry: Entry): void {
    entry.queued = false
    const { prev, next } = entry
    if (prev === undefined) this.#head = next
    else prev.next = next
    if (next === undefined) this.#tail = prev
    else next.prev = prev
    entry.prev = undefined
    entry.next = undefined
  }

  #arm(due: number, now: number): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer)
    this.#armedFor = due
    this.#timer = this.#clock.setTimer(this.#onTimer, Math.max(0, due - now))
    this.#held = true
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined
    this.#armedFor = Infinity
    const now = this.#clock.now()
    let failure: { error: unknown } | undefined
    for (let entry = this.#head; entry !== undefined && entry.due <= now; entry = this.#head) {
      this.#unlink(entry)
      try {
        entry.fire(entry.arg)
      } catch (error) {
        // One callback's failure must not strand the others: it surfaces once they have run,
        // as a throwing timer callback would.
        failure ??= { error }
      }
    }
    const head = this.#head
    if (head !== undefined) this.#arm(head.due, now)
    if (failure !== undefined) throw failure.error
  }
}

const queues = new WeakMap<Clock, TimerQueue>()

/** The timer queue of `clock`, made on first use: one per clock, shared by every client on it. */
export function timerQueueOf(clock: Clock): TimerQueue {
  let queue = queues.get(clock)
  if (queue === undefined) {
    queue = new TimerQueue(clock)
    queues.set(clock, queue)
  }
  return queue
}
