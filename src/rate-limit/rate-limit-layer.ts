import { noteAttempt } from '../core/attempt-keys.ts'
import { isHedge } from '../retry/hedge-attempt.ts'
import { reportShed, type ShedHook } from '../core/events.ts'
import type { CallRequest, CallResponse, Handler, Middleware } from '../core/middleware.ts'
import { serverRetryHint } from '../core/retry-after.ts'
import { HedgeDeclinedError, InvalidOptionError, RateLimitedError } from '../errors.ts'
import type { GcraRule } from './gcra.ts'
import type { RateKey } from './rate-key.ts'
import type { RateLimits } from './rate-limits.ts'
import type { RateReservation } from './rate-limit-store.ts'
import { serverQuota } from './server-quota.ts'

// The rule of a key nothing limits: the store is still asked, so a pause reaches every instance.
const UNLIMITED: GcraRule = Object.freeze({ interval: 0, tolerance: 0 })
// Times an attempt takes a new slot because its schedule changed while it waited (a pause, a cut).
const MAX_READMISSIONS = 3

/**
 * The rate limit as a middleware: each attempt takes a slot in its key's schedule (GCRA, in the
 * store), waiting for it when it fits before the call's deadline, or fails at once with
 * `RateLimitedError`. Responses teach it: a 429 lowers the key's learned rate, its `Retry-After`
 * pauses the key in the store (for every instance sharing it), and `RateLimit-Remaining` pacing
 * spreads a nearly spent quota. Sits below the breaker (an open circuit costs no slot) and above
 * the concurrency limiter (a waiting attempt holds no place), inside the retry layer, so retries
 * and hedges count against the quota as the server counts them.
 */
// Long (about 150 lines): the layer and its helpers (admit, wait, refuse, send, learn) close over
// one client's limits and hook; they are short, and each is a function of its own inside.
export function rateLimitLayerFrom(limits: RateLimits, onShed?: ShedHook): Middleware {
  const { settings } = limits
  const { store } = settings
  const keyOf = settings.key

  function admit(
    request: CallRequest,
    next: Handler,
    state: RateKey,
    waited: number,
    readmissions: number,
  ): Promise<CallResponse> {
    const { clock } = request
    const now = clock.now()
    const rule = limits.rule(state, now) ?? UNLIMITED
    const maxWait = isHedge(request) ? 0 : Math.max(0, request.deadline - keptFor(request) - now)
    const reservation = store.reserve(state.key, rule, maxWait, now)
    if (reservation instanceof Promise) {
      return reservation.then((r) => granted(request, next, state, r, waited, readmissions))
    }
    return granted(request, next, state, reservation, waited, readmissions)
  }

  function granted(
    request: CallRequest,
    next: Handler,
    state: RateKey,
    reservation: RateReservation,
    waited: number,
    readmissions: number,
  ): Promise<CallResponse> {
    if (!reservation.allowed) return Promise.reject(refuse(request, state, reservation.wait))
    if (reservation.wait <= 0) return send(request, next, state, waited)
    const { clock } = request
    const since = clock.now()
    const cuts = state.cuts
    state.waiting++
    return clock.sleep(reservation.wait, request.cancellation.signal).then(
      () => {
        state.waiting--
        const now = clock.now()
        const total = waited + (now - since)
        // The rate was cut while this attempt waited (its slot was given up), or a pause that
        // began meanwhile covers its slot: it takes a new one.
        const stale = state.cuts !== cuts || state.pausedUntil > now
        if (stale && readmissions < MAX_READMISSIONS) {
          return admit(request, next, state, total, readmissions + 1)
        }
        return send(request, next, state, total)
      },
      (error: unknown) => {
        state.waiting--
        throw error
      },
    )
  }

  function refuse(request: CallRequest, state: RateKey, wait: number): Error {
    const left = Math.max(0, Math.round(request.deadline - request.clock.now()))
    const reserve = Math.round(keptFor(request))
    const kept = reserve > 0 ? `, ${reserve} ms of it kept for the attempt` : ''
    if (isHedge(request)) {
      return new HedgeDeclinedError(
        `${request.origin}'s rate limit has no slot free now (next in ${Math.ceil(wait)} ms)`,
      )
    }
    state.rejected++
    request.originState.bump(RATE_LIMITED)
    const error = new RateLimitedError(
      `${request.origin}: the rate limit's next slot is in ${Math.ceil(wait)} ms, too late for the call's deadline (${left} ms left${kept})`,
      { origin: request.origin, retryAfter: Math.ceil(wait) },
    )
    reportShed(request, 'rate-limited', error, onShed)
    return error
  }

  function send(
    request: CallRequest,
    next: Handler,
    state: RateKey,
    waited: number,
  ): Promise<CallResponse> {
    const { clock } = request
    if (waited > 0) {
      state.waited++
      state.waitedMs += waited
      // The transport hands the attempt's record to the note when it starts it.
      request = noteAttempt(request, (record) => {
        record.rateLimitWait = waited
      })
    }
    const sentAt = clock.now()
    state.learned?.sent(sentAt)
    return next(request).then((response) => {
      learn(request, state, response, sentAt)
      return response
    })
  }

  function learn(request: CallRequest, state: RateKey, response: CallResponse, sentAt: number) {
    const { clock } = request
    const now = clock.now()
    if (response.statusCode === 429) {
      state.throttled++
      const hint = serverRetryHint(429, response.headers, clock.wallNow(), settings.maxPause)
      if (hint !== undefined && hint.delay > 0) pause(state, hint.delay, now)
      if (state.learned?.throttled(now, sentAt) === true) {
        state.cuts++
        // The slots reserved at the old rate are given up (not those a pause holds back).
        store.rewind?.(state.key, Math.max(now, state.pausedUntil))
      }
      return
    }
    if (state.learned === undefined) return
    state.learned.accepted(now)
    const quota = serverQuota(response.headers, clock.wallNow(), settings.maxPause)
    if (quota !== undefined && state.serverQuota(now, quota.remaining, quota.reset, quota.limit)) {
      pause(state, quota.reset, now)
    }
  }

  function pause(state: RateKey, delay: number, now: number): void {
    if (now + delay <= state.pausedUntil) return
    state.pausedUntil = now + delay
    // A store's failure to pause is its own to report; the local pause holds regardless.
    void Promise.resolve(
      store.pause(state.key, limits.rule(state, now) ?? UNLIMITED, delay, now),
    ).catch(() => undefined)
  }

  return function rateLimit(request, next) {
    let key: string | undefined = request.origin
    if (keyOf !== undefined) {
      try {
        key = keyOf(request)
      } catch (error) {
        return Promise.reject(error as Error)
      }
      if (key === undefined) return next(request)
      if (typeof key !== 'string') {
        return Promise.reject(
          new InvalidOptionError(
            'rateLimit.key',
            key,
            'a function returning a string or undefined',
          ),
        )
      }
    }
    return admit(request, next, limits.get(key), 0, 0)
  }
}

/**
 * The time a call keeps for its attempt after waiting for a rate-limit slot: a tenth of its
 * deadline, and at least `minAttemptTime`. Under a saturated limit every waiting call's slot lands
 * at the edge of what it may wait; with only `minAttemptTime` (10 ms) left, a timer that wakes a
 * few ms late on a busy machine left the attempt no time, and the slot was spent on a call that
 * failed with `DeadlineExceededError` (up to 13 of 20 a second in the shared-quota example).
 */
function keptFor(request: CallRequest): number {
  return Math.max(request.minAttemptTime, 0.1 * (request.deadline - request.startTime))
}

/** The origin's tally of attempts the rate limit refused (`stats().shed.rateLimited`). */
export const RATE_LIMITED: unique symbol = Symbol('rate-limited attempts')
