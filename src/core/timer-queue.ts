import type { Clock, TimerHandle } from './clock.ts'

/** A callback waiting in a {@link TimerQueue}; `remove` it to cancel. */
export interface QueuedTimer {
  /** The `clock.now()` reading at which it fires. */
  readonly due: number
}

interface Entry<A = unknown> extends QueuedTimer {
  readonly fire: (arg: A) => void
  readonly arg: A
  // Order of adding: among entries due at the same time, the first added fires first.
  readonly seq: number
  // Position in the heap; -1 once it has fired or been removed.
  index: number
}

/**
 * Many timers on one clock timer: the deadlines and attempt timeouts of every call in flight wait
 * here, in order of when they fire, and one timer of the clock is set for the first of them.
 *
 * A call's timer is nearly always cleared, not fired (the call ends first), and a Node timer costs
 * about 340 ns to set and clear; an entry here costs an object and a place in a binary heap:
 * adding and removing are O(log n) whatever the mix of lengths. (A list sorted from its tail was
 * O(1) for timers of one length, but an attempt timeout added behind thousands of longer
 * deadlines walked past all of them: the fleet simulator's 10,000 clients on one clock spent 79%
 * of their time there.) Removing the first entry leaves the clock timer set: it fires early,
 * finds nothing due, and is set again for the new first entry. An empty queue keeps a Node timer,
 * unref'd, for the next entry (see #release).
 *
 * Entries fire when `clock.now()` has reached their time, never before: Node's timers count
 * from the event loop's cached time and can run a few ms early by `performance.now()`.
 */
export class TimerQueue {
  readonly #clock: Clock
  readonly #heap: Entry[] = []
  #seq = 0
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
    const heap = this.#heap
    const entry: Entry<A> = { due, fire, arg, seq: this.#seq++, index: heap.length }
    heap.push(entry as Entry)
    this.#up(entry as Entry)
    if (entry.index === 0 && due < this.#armedFor) {
      this.#arm(due, now)
      return entry
    }
    if (!this.#held) this.#hold(true)
    return entry
  }

  /** Takes `timer` out of the queue; nothing if it has fired or been removed. */
  remove(timer: QueuedTimer): void {
    const entry = timer as Entry
    if (entry.index < 0) return
    this.#take(entry)
    // Nothing left to wait for: the clock timer must not keep the process alive.
    if (this.#heap.length === 0 && this.#timer !== undefined) this.#release()
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

  /** Takes `entry` out of the heap. */
  #take(entry: Entry): void {
    const heap = this.#heap
    const at = entry.index
    entry.index = -1
    const last = heap.pop() as Entry
    if (last === entry) return
    place(heap, last, at)
    this.#up(last)
    this.#down(last)
  }

  /** Moves `entry` up the heap while it fires before its parent. */
  #up(entry: Entry): void {
    const heap = this.#heap
    let at = entry.index
    while (at > 0) {
      const parentAt = (at - 1) >> 1
      const parent = heap[parentAt] as Entry
      if (!before(entry, parent)) break
      place(heap, parent, at)
      at = parentAt
    }
    place(heap, entry, at)
  }

  /** Moves `entry` down the heap while a child fires before it. */
  #down(entry: Entry): void {
    const heap = this.#heap
    const size = heap.length
    let at = entry.index
    for (;;) {
      const left = 2 * at + 1
      if (left >= size) break
      const right = left + 1
      const child = right < size && before(heap[right] as Entry, heap[left] as Entry) ? right : left
      const first = heap[child] as Entry
      if (!before(first, entry)) break
      place(heap, first, at)
      at = child
    }
    place(heap, entry, at)
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
    const heap = this.#heap
    for (let entry = heap[0]; entry !== undefined && entry.due <= now; entry = heap[0]) {
      this.#take(entry)
      try {
        entry.fire(entry.arg)
      } catch (error) {
        // One callback's failure must not strand the others: it surfaces once they have run,
        // as a throwing timer callback would.
        failure ??= { error }
      }
    }
    const head = heap[0]
    if (head !== undefined) this.#arm(head.due, now)
    if (failure !== undefined) throw failure.error
  }
}

/** Puts `entry` at `at` in the heap, and tells it where it is. */
function place(heap: Entry[], entry: Entry, at: number): void {
  heap[at] = entry
  entry.index = at
}

/** Whether `a` fires before `b`: sooner, or due at the same time and added first. */
function before(a: Entry, b: Entry): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq)
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
