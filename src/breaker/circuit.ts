import { SlidingWindow } from '../core/sliding-window.ts'
import type { Random } from '../core/random.ts'
import { equalJitter } from '../retry/backoff.ts'
import type { ResolvedBreakerOptions } from './breaker-options.ts'

/**
 * - `closed`: calls go through; outcomes are counted.
 * - `open`: calls are rejected at once until the open period ends.
 * - `half-open`: up to `halfOpenProbes` calls go through as probes; the rest are rejected.
 * - `isolated`: opened by hand; calls are rejected until it is reset.
 */
export type CircuitState = 'closed' | 'open' | 'half-open' | 'isolated'

/**
 * How an attempt the circuit let through ended, for the circuit:
 * - `success` and `failure`: judged by the shared outcome classification.
 * - `nack`: a 429 or 503, the origin asking for less. Not a failure for the ratio (an origin
 *   that serves a third of what is asked is not down), but not a success either: when nothing
 *   but nacks and failures comes back for `outagePeriod` (with no gap that long between them),
 *   the circuit opens.
 * - `unsent`: the attempt never reached the origin (a refused or timed-out connect, DNS). Counted
 *   like a nack: a connection cap or a restart refuses some connects while others are served,
 *   and such calls are retried transparently; only when nothing gets through is it an outage.
 * - `cancelled`: the caller gave up. Not counted while closed; a probe that is cancelled counts
 *   as a failed probe, since nothing proved the origin healthy.
 * - `local`: rejected on this side below the breaker (a full queue): never counted; a probe's
 *   place is simply freed.
 */
export type CircuitVerdict = 'success' | 'failure' | 'nack' | 'unsent' | 'cancelled' | 'local'

/** A change of state, as the circuit reports it. Times are readings of the monotonic clock. */
export interface CircuitTransition {
  from: CircuitState
  to: CircuitState
  /** Why, e.g. `11 of 20 calls failed in 10 s` or `a half-open probe failed`. */
  reason: string
  /** When the change happened. */
  at: number
  /** With `open`: when the open period ends. */
  openUntil: number | undefined
}

/** What a circuit holds at one moment, for stats. */
export interface CircuitCounts {
  state: CircuitState
  /** Why the circuit is not closed; `undefined` when it is. */
  reason: string | undefined
  /** With `open`: when, on the monotonic clock, the open period ends. */
  openUntil: number | undefined
  /** Calls counted in the window (closed only). */
  calls: number
  /** Failures among them. */
  failures: number
  /** Failures in a row (closed only). */
  consecutiveFailures: number
  /** Probes in flight (half-open only). */
  probes: number
  /** Openings in a row, which set the length of the next open period. */
  trips: number
}

/** What `acquire` returns when the call may not go through. */
export const REJECTED = -1

/**
 * The fewest distinct calls in a run without a success that opens the circuit by
 * `outagePeriod`: a quiet client's one or two failures after an idle minute are not an outage,
 * and neither is one call's retries, nor a few calls to one failing route while the rest of the
 * origin serves (those calls' attempts are many; their callers are few).
 */
export const OUTAGE_MIN_CALLS = 5

const CALLS = 0
const FAILURES = 1

/**
 * One origin's circuit: a small state machine over a rolling window. Pure: every method takes
 * `now` (ms, monotonic) and the random source is injected, so a simulation or a test on virtual
 * time runs it exactly. It owns no timer: an open period ends when a call (or a state read)
 * arrives after it, so an evicted circuit leaves nothing behind.
 *
 * A call asks {@link Circuit.acquire} for a permit and reports with {@link Circuit.release}.
 * A permit is the circuit's generation, which changes with every change of state: a report from
 * an earlier state (a call let through while closed that ends after the circuit opened) is
 * ignored, so only what happened in the current state moves it.
 */
export class Circuit {
  readonly #options: ResolvedBreakerOptions
  readonly #random: Random
  readonly #onTransition: ((change: CircuitTransition) => void) | undefined
  #state: CircuitState = 'closed'
  #generation = 0
  // Created at the first outcome after the circuit closes, so a closed window starts empty.
  #window: SlidingWindow | undefined
  #consecutive = 0
  // The run of attempts that did not succeed (failures and nacks) since the last success: when
  // it started and how long it is. Undefined start: the last outcome was a success.
  #runStart: number | undefined
  #runLast = 0
  #runLength = 0
  // The distinct calls of the run, up to OUTAGE_MIN_CALLS (identities given to `release`).
  readonly #runCalls = new Set<object>()
  #trips = 0
  #closedAt = -Infinity
  #openUntil = 0
  // Where an open period leads: half-open after failures, closed after a server-directed wait.
  #afterOpen: 'half-open' | 'closed' = 'half-open'
  #probes = 0
  #probeSuccesses = 0
  #reason: string | undefined

  /**
   * @param onTransition - called on every change of state, synchronously.
   * @param isolated - starts isolated, with this reason, without reporting a transition (an
   *   origin isolated by hand whose state was evicted and is being created again).
   */
  constructor(
    options: ResolvedBreakerOptions,
    random: Random,
    onTransition?: (change: CircuitTransition) => void,
    isolated?: string,
  ) {
    this.#options = options
    this.#random = random
    if (isolated !== undefined) this.isolate(0, isolated)
    this.#onTransition = onTransition
  }

  /**
   * The permit for a call when the circuit is closed, else {@link REJECTED}: the common case
   * answered without reading the clock (a clock reading costs about 40 ns, as much as the rest of
   * the breaker). When it says `REJECTED`, ask {@link Circuit.acquire}.
   */
  closedPermit(): number {
    return this.#state === 'closed' ? this.#generation : REJECTED
  }

  /**
   * Asks to let one call through at `now`. Returns a permit (a number ≥ 0) to hand back to
   * {@link Circuit.release}, or {@link REJECTED}.
   */
  acquire(now: number): number {
    if (this.#state === 'closed') return this.#generation
    if (this.#state === 'open') {
      if (now < this.#openUntil) return REJECTED
      this.#endOpen(now)
      return this.acquire(now)
    }
    if (this.#state === 'half-open' && this.#probes < this.#options.halfOpenProbes) {
      this.#probes++
      return this.#generation
    }
    return REJECTED
  }

  /**
   * Reports how a call let through with `permit` ended. `serverWait` (ms), when given, is the
   * wait a 503 or 429 asked for, for a server-directed opening. `call` names the call the
   * attempt belongs to (any object the same for all its attempts), so that the outage rule
   * counts calls, not one call's retries; without it, each attempt counts as a call.
   */
  release(
    now: number,
    permit: number,
    verdict: CircuitVerdict,
    serverWait?: number,
    call?: object,
  ): void {
    if (permit !== this.#generation) return
    if (this.#state === 'closed') {
      this.#record(now, verdict, serverWait, call)
    } else if (this.#state === 'half-open') {
      this.#probes--
      if (verdict === 'local') return
      if (verdict === 'success') {
        if (++this.#probeSuccesses >= this.#options.halfOpenProbes) {
          this.#close(now, `${plural(this.#probeSuccesses, 'half-open probe')} succeeded`)
        }
      } else {
        const what = verdict === 'cancelled' ? 'was aborted' : 'failed'
        this.#trip(now, `a half-open probe ${what}`, serverWait)
      }
    }
  }

  /** The state at `now`; an open period that has ended moves the circuit on first. */
  state(now: number): CircuitState {
    if (this.#state === 'open' && now >= this.#openUntil) this.#endOpen(now)
    return this.#state
  }

  /** The state and counts at `now`, for stats. */
  counts(now: number): CircuitCounts {
    const state = this.state(now)
    const window = this.#window
    return {
      state,
      reason: this.#reason,
      openUntil: state === 'open' ? this.#openUntil : undefined,
      calls: window === undefined ? 0 : window.total(now, CALLS),
      failures: window === undefined ? 0 : window.total(now, FAILURES),
      consecutiveFailures: this.#consecutive,
      probes: this.#probes,
      trips: this.#trips,
    }
  }

  /** Opens the circuit until {@link Circuit.reset}, whatever its state. */
  isolate(now: number, reason: string): void {
    this.#enter(now, 'isolated', reason)
  }

  /** Closes the circuit and forgets its history: the next opening is a first one. */
  reset(now: number, reason: string): void {
    this.#trips = 0
    this.#close(now, reason)
    // A reset starts afresh: no healthy period to wait out before the next opening is short.
    this.#closedAt = -Infinity
  }

  #record(
    now: number,
    verdict: CircuitVerdict,
    serverWait: number | undefined,
    call: object | undefined,
  ): void {
    if (verdict === 'cancelled' || verdict === 'local') return
    if (serverWait !== undefined && serverWait > 0 && this.#options.serverDirected) {
      this.#serverOpen(now, serverWait)
      return
    }
    if (verdict === 'success') {
      this.#endRun()
    } else {
      const { outagePeriod } = this.#options
      // A run needs attempts throughout: one failure a minute ago and four now are not a minute
      // of outage, just a quiet client.
      if (this.#runStart === undefined || now - this.#runLast > outagePeriod) {
        this.#endRun()
        this.#runStart = now
      }
      this.#runLast = now
      this.#runLength++
      const calls = this.#runCalls
      if (calls.size < OUTAGE_MIN_CALLS) calls.add(call ?? {})
      if (calls.size >= OUTAGE_MIN_CALLS && now - (this.#runStart as number) >= outagePeriod) {
        const span = formatMs(now - (this.#runStart as number))
        this.#trip(
          now,
          `nothing succeeded for ${span} (${OUTAGE_MIN_CALLS}+ calls, ${this.#runLength} attempts)`,
        )
        return
      }
      if (verdict === 'nack' || verdict === 'unsent') return
    }
    const window = (this.#window ??= new SlidingWindow(this.#options.window, 10, 2))
    window.add(now, CALLS)
    if (verdict === 'success') {
      this.#consecutive = 0
      return
    }
    window.add(now, FAILURES)
    this.#consecutive++
    const { consecutiveFailures, minimumCalls, failureRatio } = this.#options
    if (this.#consecutive >= consecutiveFailures) {
      this.#trip(now, `${this.#consecutive} failures in a row`)
      return
    }
    const calls = window.total(now, CALLS)
    const failures = window.total(now, FAILURES)
    if (calls >= minimumCalls && failures >= failureRatio * calls) {
      const seconds = this.#options.window / 1000
      this.#trip(now, `${failures} of ${calls} calls failed in the last ${seconds} s`)
    }
  }

  /**
   * Opens after failures, for a random time in `[d / 2, d)` where `d` starts at `openDuration`
   * and doubles with each opening in a row, up to `maxOpenDuration`.
   */
  #trip(now: number, reason: string, serverWait?: number): void {
    const { openDuration, maxOpenDuration, healthyPeriod } = this.#options
    if (this.#state === 'closed' && now - this.#closedAt >= healthyPeriod) this.#trips = 0
    this.#trips++
    let duration = equalJitter(this.#trips - 1, openDuration, maxOpenDuration, this.#random)
    if (serverWait !== undefined && this.#options.serverDirected) {
      duration = Math.min(maxOpenDuration, Math.max(duration, serverWait))
    }
    this.#afterOpen = 'half-open'
    this.#openUntil = now + duration
    this.#enter(now, 'open', reason)
  }

  /**
   * Opens for the wait the server asked for, then closes: no jitter, so that a retry that waited
   * out the same `Retry-After` finds the circuit closed. It closes a little early (`serverWaitSlack`):
   * that retry wakes on a timer, and Node's timers count from the event loop's cached time, so
   * they can fire a few ms before a `performance.now()` reading says the wait is over.
   */
  #serverOpen(now: number, wait: number): void {
    const capped = Math.min(wait, this.#options.maxOpenDuration)
    this.#afterOpen = 'closed'
    this.#openUntil = now + capped - serverWaitSlack(capped)
    this.#enter(now, 'open', `the server asked to wait ${formatMs(wait)}`)
  }

  #endRun(): void {
    // Every success ends the run: with no run going, touch nothing (clearing a Set reallocates it).
    if (this.#runStart === undefined) return
    this.#runStart = undefined
    this.#runLength = 0
    this.#runCalls.clear()
  }

  #endOpen(now: number): void {
    if (this.#afterOpen === 'closed') {
      this.#close(now, "the server's wait is over")
    } else {
      this.#enter(now, 'half-open', `the open period ended`)
    }
  }

  #close(now: number, reason: string): void {
    this.#closedAt = now
    this.#enter(now, 'closed', reason)
  }

  #enter(now: number, to: CircuitState, reason: string): void {
    const from = this.#state
    this.#state = to
    this.#generation++
    this.#window = undefined
    this.#consecutive = 0
    this.#endRun()
    this.#probes = 0
    this.#probeSuccesses = 0
    this.#reason = to === 'closed' ? undefined : reason
    if (from === to) return
    this.#onTransition?.({
      from,
      to,
      reason,
      at: now,
      openUntil: to === 'open' ? this.#openUntil : undefined,
    })
  }
}

/** How much earlier than the server's wait a server-directed opening ends: 5%, at most 50 ms. */
function serverWaitSlack(wait: number): number {
  return Math.min(50, wait * 0.05)
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/** `800 ms`, `2 s`, `1.5 s`. */
export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${Math.round(ms / 100) / 10} s`
}
