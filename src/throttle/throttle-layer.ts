import { headersAt } from '../core/attempt.ts'
import { reportShed, type ShedHook } from '../core/events.ts'
import { gateLayer } from '../core/gate.ts'
import type { Middleware } from '../core/middleware.ts'
import { classifyError, classifyStatus, connectionLost, neverLeftClient } from '../core/outcome.ts'
import type { Random } from '../core/random.ts'
import { optionalFunction, optionsArgument, randomOption } from '../core/validate.ts'
import { ThrottledError } from '../errors.ts'
import {
  AdaptiveThrottle,
  resolveThrottleOptions,
  type ThrottleOptions,
} from './adaptive-throttle.ts'

/** Settings of {@link throttleLayer}: the throttle's, and the random source of its draws. */
export interface ThrottleLayerOptions extends ThrottleOptions {
  /**
   * Uniform numbers in [0, 1) for the rejection draws; tests pass `seededRandom(seed)`.
   * @defaultValue `Math.random`
   */
  random?: Random
  /** Called whenever the throttle rejects a call. @defaultValue none */
  onShed?: ShedHook
}

/**
 * Adaptive throttling as a middleware, for a custom stack (the client adds one when its
 * `throttle` option is set). Place it below `deadlineLayer` and above the retry layer, so that it
 * judges whole calls: one throttle per origin.
 */
export function throttleLayer(options: ThrottleLayerOptions = {}): Middleware {
  optionsArgument('options', options)
  const { random, onShed, ...throttle } = options as ThrottleLayerOptions
  const draws = randomOption(random)
  optionalFunction('onShed', onShed)
  const settings = resolveThrottleOptions('throttle', throttle)
  return throttleLayerFrom(settings, draws, onShed)
}

/**
 * {@link throttleLayer} from validated settings. A call it rejects fails at once with
 * `ThrottledError` (local: no breaker or limiter counts it) and sends nothing. A call it lets
 * through is recorded as accepted unless the origin asked for less (a 429 or 503) or timed out;
 * a call that never reached the origin (nothing sent, or only refused connects) is not recorded.
 */
export function throttleLayerFrom(
  options: Readonly<Required<ThrottleOptions>>,
  random: Random,
  onShed?: ShedHook,
): Middleware {
  const key = Symbol('adaptive throttle')
  return gateLayer<AdaptiveThrottle>({
    name: 'throttle',
    enter(request) {
      const { clock, originState } = request
      const state = originState.slot(key, () => new AdaptiveThrottle(options))
      // The call's start, not a fresh reading: the windows count in seconds, and a clock reading
      // costs more than the difference is worth.
      const p = state.rejectionProbability(request.startTime)
      if (p > 0 && random() < p) {
        originState.bump(THROTTLED)
        const { requests, accepts } = state.counts(clock.now())
        const error = new ThrottledError(
          `adaptive throttling rejected the call locally (probability ${p.toFixed(2)}): ${request.origin} accepted ${accepts} of ${requests} calls in the last ${options.window / 1000} s`,
        )
        reportShed(request, 'throttled', error, onShed)
        throw error
      }
      return state
    },
    response(state, request, response) {
      const at = headersAt(request, response.attempt)
      state.record(at, classifyStatus(response.statusCode) !== 'overload')
    },
    error(state, request, error) {
      const kind = classifyError(error, request.callerSignal?.aborted === true)
      // A call whose last attempt never reached the origin (refused connects, a wait for a
      // connection cut short) says nothing about what the origin accepts.
      const last = request.attempts.at(-1)
      if (kind !== 'cancelled' && kind !== 'local' && last !== undefined) {
        if (!neverLeftClient(error, last) && !connectionLost(error)) {
          state.record(request.clock.now(), kind !== 'overload')
        }
      }
    },
  })
}

/** The origin's tally of calls the throttle rejected (`stats().shed.throttled`). */
export const THROTTLED: unique symbol = Symbol('throttled calls')
