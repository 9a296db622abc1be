import type { Random } from '../../src/index.ts'

/**
 * Open-loop arrival times for `rate` calls per second over `duration` ms: a Poisson process
 * (exponential gaps), in ms from the start, ascending. Open-loop means a call arrives on schedule
 * whether or not earlier ones have finished, as traffic from users does; a closed loop (each
 * worker waiting for its last answer) slows down with the origin and hides the queue.
 */
export function poissonArrivals(rate: number, duration: number, random: Random): number[] {
  const times: number[] = []
  const mean = 1000 / rate
  let t = 0
  for (;;) {
    // 1 - random() is in (0, 1], so the log is finite.
    t += -Math.log(1 - random()) * mean
    if (t >= duration) return times
    times.push(t)
  }
}
