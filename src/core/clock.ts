/**
 * The source of time for every policy. Algorithms take `now` as an argument; middleware reads it
 * from the clock it was given, so tests and simulations can run on the `VirtualClock` of
 * `netiquette/testing`.
 */
export interface Clock {
  /** Monotonic milliseconds, for measuring durations and deadlines. Never goes backwards. */
  now(): number
  /** Wall-clock epoch milliseconds, only for comparing with dates from the network (Retry-After). */
  wallNow(): number
  /**
   * Resolves after `ms` milliseconds. Rejects with the signal's reason as soon as `signal` aborts,
   * and then leaves no timer and no listener behind.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
  /**
   * Runs `callback` once, after `ms` milliseconds, unless {@link Clock.clearTimer} is called
   * first. The cheap form of a timeout for the hot path (a call's deadline): no promise and no
   * `AbortSignal`.
   */
  setTimer(callback: () => void, ms: number): TimerHandle
  /** Cancels a timer from {@link Clock.setTimer}; does nothing if it has fired or been cleared. */
  clearTimer(handle: TimerHandle): void
  /**
   * How long this process's event loop has waited for I/O, in total, in milliseconds: its time
   * not spent running code (or collecting garbage). The latency-based concurrency limit reads it
   * to tell a delay of its own process from a queue at the origin: an answer that arrived while
   * the loop was busy waited for the loop too.
   * @defaultValue none: a clock without it (a virtual one) counts every delay as the origin's
   */
  idle?(): number
}

/** An opaque handle from {@link Clock.setTimer}, only good for {@link Clock.clearTimer}. */
export interface TimerHandle {
  readonly [kTimerHandle]?: never
}
declare const kTimerHandle: unique symbol

/** The real clock: `performance.now()`, `Date.now()` and `setTimeout`. */
export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  sleep(ms, signal) {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason)
        return
      }
      // The timer stays ref'd on purpose: a pending backoff must keep the process alive until the
      // call settles, or a script exits in the middle of a retry.
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }, ms)
      function onAbort() {
        clearTimeout(timer)
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  },
  // Ref'd like sleep's timer: a call's deadline must fire even if nothing else keeps the process
  // alive, or a call could hang at exit without ever settling.
  setTimer: (callback, ms) => setTimeout(callback, ms) as TimerHandle,
  clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  // libuv's idle-time metric, which Node turns on at start-up for eventLoopUtilization().
  idle: () => performance.nodeTiming.idleTime,
}
