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
}

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
}
