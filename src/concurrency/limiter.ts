import type { Clock, TimerHandle } from '../core/clock.ts'
import { QueueFullError, QueueTimeoutError } from '../errors.ts'
import { appLimited, type LimitAlgorithm, type LimitSample } from './limit-algorithm.ts'

/**
 * How long, in ms, an origin counts as struggling after a drop (a 429 or 503, a timeout, a
 * reset): the breaker's and the throttle's windows are 10 s too.
 */
export const STRUGGLE_MEMORY = 10_000

/** Counters of one limiter since it was created. */
export interface LimiterCounters {
  /** Attempts let through (at once or after waiting). */
  admitted: number
  /** Attempts shed at once because the queue was full. */
  shedQueueFull: number
  /** Attempts that waited as long as they could and gave up. */
  shedTimeout: number
  /** Attempts whose call was aborted while they waited. */
  abandoned: number
}

/** A change of limit, as the limiter reports it. */
export interface LimitChange {
  from: number
  to: number
}

interface Waiter {
  /** When it started waiting, on the limiter's clock. */
  since: number
  /** The longest it may wait (its deadline's share), from `since`. */
  wait: number
  describe: { origin: string; waitReason: string }
  resolve: () => void
  reject: (error: unknown) => void
  timer: TimerHandle | undefined
  signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
  prev: Waiter | undefined
  next: Waiter | undefined
}

/**
 * Attempts in flight to one origin, at most `limit` (set by a {@link LimitAlgorithm}), with a
 * bounded queue in front:
 *
 * - A full queue (`maxQueue` waiting) sheds a new attempt at once with `QueueFullError`.
 * - A waiter gives up after its own wait with `QueueTimeoutError`, and sooner when the origin
 *   struggles: once `struggleWait` ms have passed while the origin has shed (a drop within the
 *   last 10 s) or while no place came free. A healthy origin's queue,
 *   such as a cold client's first batch, is served within the callers' deadlines; a struggling
 *   one's fails fast.
 * - A waiter whose signal aborts leaves the queue at once, freeing its place, and rejects with
 *   the signal's reason.
 * - A place freed goes to the oldest waiter, unless that one has already waited `lifoAfter` ms:
 *   then it goes to the newest (adaptive LIFO, as in Facebook's CoDel-based queues). A queue that
 *   drains quickly is served in order; under sustained overload, FIFO would hand each place to
 *   the call that has spent the most of its deadline waiting, send it when it can no longer
 *   succeed, and waste the origin's work on it. The newest still has its whole deadline, and
 *   the oldest time out in the queue without costing the origin anything.
 *
 * Every place taken must be given back with {@link ConcurrencyLimiter.release}, once.
 *
 * Why not p-limit: its queue has no bound, and a queued task cannot leave it. An aborted task
 * still sits in the queue (counting against any bound) until its turn comes.
 */
export class ConcurrencyLimiter {
  readonly counters: LimiterCounters = {
    admitted: 0,
    shedQueueFull: 0,
    shedTimeout: 0,
    abandoned: 0,
  }
  readonly #algorithm: LimitAlgorithm
  readonly #maxQueue: number
  readonly #lifoAfter: number
  readonly #clock: Clock
  // The clock's reader of the process's idle time, for the algorithm (see LimitAlgorithm.update).
  readonly #idle: (() => number) | undefined
  readonly #onLimitChange: ((change: LimitChange) => void) | undefined
  readonly #struggleWait: number
  #lastDropAt = -Infinity
  #lastReleaseAt = -Infinity
  #inFlight = 0
  #queued = 0
  #head: Waiter | undefined
  #tail: Waiter | undefined

  /**
   * @param lifoAfter - once the oldest waiter has waited this long (ms), the newest is served
   *   first.
   * @param clock - arms the waits' timers and times the waiters.
   * @param onLimitChange - called, synchronously, whenever the algorithm changes the limit.
   * @param struggleWait - the longest a waiter waits while the origin struggles (it has shed
   *   recently, or no place has come free for this long): the client's `maxQueueWait`.
   *   `Infinity`: each waiter waits its own `wait`.
   */
  constructor(
    algorithm: LimitAlgorithm,
    maxQueue: number,
    lifoAfter: number,
    clock: Clock,
    onLimitChange?: (change: LimitChange) => void,
    struggleWait = Infinity,
  ) {
    this.#algorithm = algorithm
    this.#maxQueue = maxQueue
    this.#lifoAfter = lifoAfter
    this.#clock = clock
    this.#idle =
      clock.idle === undefined ? undefined : () => (clock.idle as () => number).call(clock)
    this.#onLimitChange = onLimitChange
    this.#struggleWait = struggleWait
  }

  /**
   * True while the origin sheds: an attempt ended with a drop (a 429 or 503, a timeout, a reset)
   * within the last 10 s (`STRUGGLE_MEMORY`).
   */
  struggling(now: number): boolean {
    return now - this.#lastDropAt < STRUGGLE_MEMORY
  }

  /** The current limit. */
  get limit(): number {
    return this.#algorithm.limit
  }

  /** Attempts holding a place now. */
  get inFlight(): number {
    return this.#inFlight
  }

  /** Attempts waiting for a place now. */
  get queued(): number {
    return this.#queued
  }

  /** Takes a place if one is free and nobody is waiting for it. */
  tryAcquire(): boolean {
    if (this.#inFlight >= this.#algorithm.limit || this.#queued > 0) return false
    this.#inFlight++
    this.counters.admitted++
    return true
  }

  /**
   * Waits for a place for at most `wait` ms. Rejects at once with `QueueFullError` when the queue
   * is full, with `QueueTimeoutError` when the wait runs out (at once when `wait` is not
   * positive), and with the signal's reason when `signal` aborts.
   *
   * @param describe - names the origin and the wait for the errors' messages.
   */
  acquire(
    wait: number,
    signal: AbortSignal | undefined,
    describe: { origin: string; waitReason: string },
  ): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve()
    if (signal?.aborted) return Promise.reject(signal.reason as Error)
    if (this.#queued >= this.#maxQueue) {
      this.counters.shedQueueFull++
      return Promise.reject(
        new QueueFullError(
          `the queue for ${describe.origin} is full (${this.#inFlight} attempts in flight, limit ${this.#algorithm.limit}, ${this.#queued} of ${this.#maxQueue} waiting); nothing was sent`,
        ),
      )
    }
    if (!(wait > 0)) {
      this.counters.shedTimeout++
      return Promise.reject(
        new QueueTimeoutError(
          `no place free among the ${this.#algorithm.limit} for ${describe.origin}, and no time left to wait for one (${describe.waitReason}); nothing was sent`,
        ),
      )
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        since: this.#clock.now(),
        wait,
        describe,
        resolve,
        reject,
        timer: undefined,
        signal,
        onAbort: undefined,
        prev: this.#tail,
        next: undefined,
      }
      this.#arm(waiter, waiter.since)
      if (signal !== undefined) {
        waiter.onAbort = () => {
          this.#leave(waiter)
          this.counters.abandoned++
          reject(signal.reason as Error)
        }
        signal.addEventListener('abort', waiter.onAbort, { once: true })
      }
      if (this.#tail === undefined) this.#head = waiter
      else this.#tail.next = waiter
      this.#tail = waiter
      this.#queued++
    })
  }

  /**
   * Arms `waiter`'s timer at `now`: for what is left of its own wait, or `struggleWait` when
   * that is shorter, after which {@link ConcurrencyLimiter.#check} decides whether it waits on.
   */
  #arm(waiter: Waiter, now: number): void {
    const left = waiter.since + waiter.wait - now
    waiter.timer = this.#clock.setTimer(
      () => {
        waiter.timer = undefined
        this.#check(waiter)
      },
      Math.min(left, this.#struggleWait),
    )
  }

  /** A waiter's timer fired: it waits on while the origin serves and its own wait lasts. */
  #check(waiter: Waiter): void {
    const now = this.#clock.now()
    const waited = now - waiter.since
    const { origin, waitReason } = waiter.describe
    let why: string
    if (waited >= waiter.wait) why = waitReason
    else if (this.struggling(now)) {
      why = `the origin is shedding, so no longer than maxQueueWait ${this.#struggleWait} ms`
    } else if (now - this.#lastReleaseAt >= this.#struggleWait) {
      why = `no place came free for maxQueueWait ${this.#struggleWait} ms`
    } else {
      this.#arm(waiter, now)
      return
    }
    this.#leave(waiter)
    this.counters.shedTimeout++
    waiter.reject(
      new QueueTimeoutError(
        `waited ${Math.round(waited)} ms in the queue for ${origin} (${why}) without getting one of its ${this.#algorithm.limit} places; nothing was sent`,
      ),
    )
  }

  /**
   * Gives a place back. `sample`, when given, is the attempt's outcome for the limit algorithm;
   * an attempt that says nothing about the origin (the caller aborted, a local rejection) passes
   * none. Freed places go to waiters.
   */
  release(sample: LimitSample | undefined): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1)
    if (this.#queued > 0) this.#lastReleaseAt = this.#clock.now()
    if (sample !== undefined) {
      if (sample.dropped) this.#lastDropAt = sample.now
      // Calls waiting for a place: the limit is in use whatever was in flight when this attempt
      // started, so it may grow (a cold client's first batch grows it from its first answers),
      // and the algorithm sees the demand it did not meet.
      else if (this.#queued > 0) {
        const limit = this.#algorithm.limit
        const inFlight = appLimited(sample.inFlight, limit) ? limit : sample.inFlight
        sample = { ...sample, inFlight, queued: this.#queued }
      }
      const before = this.#algorithm.limit
      const after = this.#algorithm.update(sample, this.#idle)
      if (after !== before) this.#onLimitChange?.({ from: before, to: after })
    }
    this.#drain()
  }

  /** Lets every waiter through and forgets them: the limiter is being dropped (evicted). */
  dispose(): void {
    while (this.#head !== undefined) this.#grant(this.#head)
  }

  #drain(): void {
    if (this.#queued === 0 || this.#inFlight >= this.#algorithm.limit) return
    const now = this.#clock.now()
    while (this.#queued > 0 && this.#inFlight < this.#algorithm.limit) {
      const oldest = this.#head as Waiter
      this.#grant(now - oldest.since >= this.#lifoAfter ? (this.#tail as Waiter) : oldest)
    }
  }

  #grant(waiter: Waiter): void {
    this.#leave(waiter)
    this.#inFlight++
    this.counters.admitted++
    waiter.resolve()
  }

  /** Takes `waiter` out of the queue and drops its timer and listener. */
  #leave(waiter: Waiter): void {
    if (waiter.timer !== undefined) {
      this.#clock.clearTimer(waiter.timer)
      waiter.timer = undefined
    }
    if (waiter.onAbort !== undefined) {
      waiter.signal?.removeEventListener('abort', waiter.onAbort)
      waiter.onAbort = undefined
    }
    if (waiter.prev === undefined) this.#head = waiter.next
    else waiter.prev.next = waiter.next
    if (waiter.next === undefined) this.#tail = waiter.prev
    else waiter.next.prev = waiter.prev
    waiter.prev = waiter.next = undefined
    this.#queued--
  }
}
