import type { Clock } from './clock.ts'

// The clock and reading of the call whose first step is running, while it runs: from the reading
// the call took as it started, to the first wait below it (a queue, the network).
let startingClock: Clock | undefined
let startedAt = 0

/**
 * `clock.now()`, or the reading the call being started took, when called within its first
 * synchronous step on the same clock. A call's deadline, its attempt's budget and its attempt's
 * start are each read at most microseconds after the call's own start, before anything has
 * waited: one reading serves them all (a reading is 40-90 ns on the development VM, and a call
 * took six). A layer of the caller's that works synchronously for a while before calling `next`
 * makes the readings below it older by that long: a deadline timer armed that much late.
 */
export function nowOrStart(clock: Clock): number {
  return clock === startingClock ? startedAt : clock.now()
}

/**
 * Marks the start of a call's first step: until {@link endStart}, {@link nowOrStart} on `clock`
 * answers `now`. A call started within another's first step takes the mark over; the outer call
 * reads its clock again from then on.
 */
export function beginStart(clock: Clock, now: number): void {
  startingClock = clock
  startedAt = now
}

/** Ends the mark of {@link beginStart}: the first step has returned (or thrown). */
export function endStart(): void {
  startingClock = undefined
}
