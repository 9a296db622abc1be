import { failedAttempt } from '../core/attempt.ts'
import type { AttemptRecord } from '../core/attempt-record.ts'
import { discardResponse } from '../core/discard.ts'
import { answer, gateLayer } from '../core/gate.ts'
import type { CallRequest, CallResponse, Handler, Middleware } from '../core/middleware.ts'
import { channels, emit, type RetryHook } from '../core/events.ts'
import { errorCode } from '../core/outcome.ts'
import { idleCloseOf } from '../core/idle-close.ts'
import { isReplayableBody } from '../core/request-body.ts'
import { RetryBudget } from './retry-budget.ts'
import type { Random } from '../core/random.ts'
import { optionalFunction, optionsArgument, randomOption } from '../core/validate.ts'
import { DeadlineExceededError } from '../errors.ts'
import { planRetry, type RetryPlan } from './retry-plan.ts'
import { chargeable } from './chargeable.ts'
import { hedgedRound } from './hedged-round.ts'
import {
  REQUEST_HEDGE,
  resolveHedgePolicy,
  type HedgeOptions,
  type ResolvedHedgePolicy,
} from './hedge-options.ts'
import { HEDGE_STATE, HedgeState } from './hedge-state.ts'
import { replaySafety } from './idempotency.ts'
import {
  DEFAULT_RETRY,
  REQUEST_RETRY,
  resolveRetryPolicy,
  type ResolvedRetryPolicy,
  type RetryOptions,
} from './retry-options.ts'
import { redactQuery } from '../core/redact-query.ts'

/** Settings of {@link retryLayer}: the retry policy, and the random source of its jitter. */
export interface RetryLayerOptions extends RetryOptions {
  /**
   * Uniform numbers in [0, 1) for the backoff jitter; tests pass `seededRandom(seed)`.
   * @defaultValue `Math.random`
   */
  random?: Random
  /** Called, synchronously, each time another attempt is about to be sent. @defaultValue none */
  onRetry?: RetryHook
  /**
   * Hedged requests: `true` for the defaults, options, or `false`. See {@link HedgeOptions}.
   * @defaultValue `false`: a hedge is extra load, which the caller chooses
   */
  hedge?: HedgeOptions | boolean
}

/**
 * The retry policy as a middleware, for a custom stack (the client puts one in its default stack
 * from its `retry` option). Place it below `deadlineLayer` and above `attemptTimeoutLayer`. A
 * request's own `retry` option still replaces this policy for that call.
 */
export function retryLayer(options: RetryLayerOptions = {}): Middleware {
  optionsArgument('options', options)
  const { random, onRetry, hedge, ...policy } = options as RetryLayerOptions
  const jitter = randomOption(random)
  optionalFunction('onRetry', onRetry)
  const resolved = resolveRetryPolicy('', policy, DEFAULT_RETRY)
  const hedging = resolveHedgePolicy('hedge', hedge, false)
  return retryLayerFrom(resolved, jitter, onRetry, hedging)
}

/**
 * {@link retryLayer} from a validated policy (`false`: none, unless a request enables one).
 *
 * After each attempt it asks {@link planRetry} what to do and writes the answer into the
 * attempt's record. A response it will not hand over is discarded (its socket goes back to the
 * pool); the wait is a sleep on the call's clock that ends as soon as the call is aborted. An
 * aborted call or a passed deadline is final: nothing after it is retried.
 *
 * With a hedging policy (`hedgeBase`, or the request's own), a call that is safe to send twice
 * runs each attempt as a {@link hedgedRound}: hedges go out while it is slow, and the round's
 * outcome is judged as a single attempt's would be.
 */
export function retryLayerFrom(
  base: ResolvedRetryPolicy | false,
  random: Random,
  onRetry?: RetryHook,
  hedgeBase: ResolvedHedgePolicy | false = false,
): Middleware {
  // A gate: the first attempt of a call (nearly every call has one attempt) costs no promise of
  // its own; a response or error the policy would retry takes the outcome over with the loop.
  return gateLayer<RetryPass | number | undefined>({
    name: 'retry',
    enter(request, below) {
      const own = REQUEST_RETRY.get(request)
      const policy = own === undefined ? base : own
      if (policy === false) return undefined
      const budget = budgetFor(policy, request)
      // The call's start (the budget's window counts in seconds): no clock reading of its own.
      budget?.recordCall(request.startTime)
      const ownHedge = REQUEST_HEDGE.get(request)
      const hedge = ownHedge === undefined ? hedgeBase : ownHedge
      const hedging = hedge === false ? undefined : hedgingFor(hedge, request)
      if (hedging !== undefined) {
        return answer(retryLoop(request, below, policy, random, budget, onRetry, hedging))
      }
      // An origin some call asked to hedge (a request's own `hedge` on a client without hedging)
      // counts every call and answer, so that its share and percentile mean what they say.
      const watched = request.originState.peekSlot<HedgeState>(HEDGE_STATE)
      watched?.recordCall(request.startTime)
      budget?.attemptStarted(false)
      const before = request.attempts.length
      // The common case, the client's policy on an origin nobody hedges, remembers one number:
      // the rest is found again from the request (56 B less a call in flight).
      if (own === undefined && watched === undefined) return before
      return { policy, budget, watched, before }
    },
    response(pass, request, response, below) {
      if (pass === undefined) return undefined
      const policy = typeof pass === 'number' ? (base as ResolvedRetryPolicy) : pass.policy
      const budget = typeof pass === 'number' ? budgetFor(policy, request) : pass.budget
      budget?.attemptEnded(false)
      const watched = typeof pass === 'number' ? undefined : pass.watched
      if (watched !== undefined) {
        const ttfb = response.attempt.timeToHeaders
        if (ttfb !== undefined && !policy.statuses.has(response.statusCode)) {
          watched.recordLatency(request.startTime + response.attempt.start + ttfb, ttfb)
        }
      }
      if (!policy.statuses.has(response.statusCode) && policy.shouldRetry === undefined) {
        return undefined
      }
      const first = { response, before: typeof pass === 'number' ? pass : pass.before }
      return retryLoop(request, below, policy, random, budget, onRetry, undefined, first)
    },
    error(pass, request, error, below) {
      if (pass === undefined) return undefined
      const policy = typeof pass === 'number' ? (base as ResolvedRetryPolicy) : pass.policy
      const budget = typeof pass === 'number' ? budgetFor(policy, request) : pass.budget
      budget?.attemptEnded(false)
      const first = { error, before: typeof pass === 'number' ? pass : pass.before }
      return retryLoop(request, below, policy, random, budget, onRetry, undefined, first)
    },
  })
}

/**
 * What the retry gate remembers about a call's first attempt: this, or, for a call with the
 * client's own policy on an origin nobody hedges, only `before` (the policy is the client's, the
 * budget is found again in the origin's state, and nobody is watching).
 */
interface RetryPass {
  readonly policy: ResolvedRetryPolicy
  readonly budget: RetryBudget | undefined
  /** The origin's hedging state, when some call asked to hedge. */
  readonly watched: HedgeState | undefined
  /** The call's attempt records before the first attempt. */
  readonly before: number
}

/** How the first attempt of a call ended, when it ran before the loop (see retryLayerFrom). */
interface FirstOutcome {
  readonly response?: CallResponse
  readonly error?: unknown
  /** The call's attempt records before it. */
  readonly before: number
}

/** A call's hedging: its policy, its origin's state, and the hedges it has left. */
interface CallHedging {
  readonly hedge: ResolvedHedgePolicy
  readonly state: HedgeState
  /** Safe to send twice: idempotent or keyed, with a body that can be sent again. */
  readonly eligible: boolean
  readonly left: { hedges: number }
}

function hedgingFor(hedge: ResolvedHedgePolicy, request: CallRequest): CallHedging {
  const now = request.clock.now()
  const state = request.originState.slot(HEDGE_STATE, () => newHedgeState(request, now))
  state.recordCall(now)
  const eligible =
    replaySafety(request.method, request.headers, request.undiciOptions.dispatch?.idempotent) !==
      undefined && isReplayableBody(request.body)
  return { hedge, state, eligible, left: { hedges: hedge.maxHedges } }
}

/**
 * An origin's hedging state, created when a call first asks to hedge: its share starts from the
 * origin's calls of the last 10 s (this one left out: it is recorded next), so that a request's
 * own `hedge` on a warm origin of a client without hedging may hedge at once, as it would on a
 * client with `hedge: true`.
 */
function newHedgeState(request: CallRequest, now: number): HedgeState {
  const state = new HedgeState()
  const recent = request.originState.recentCalls(now) - 1
  if (recent > 0) state.recordCall(now, recent)
  return state
}

/** The wait before a hedge of this round, or `undefined` when the round sends none. */
function hedgeDelay(hedging: CallHedging | undefined, now: number): number | undefined {
  if (hedging === undefined || !hedging.eligible || hedging.left.hedges <= 0) return undefined
  const { hedge, state } = hedging
  return hedge.delay ?? state.delay(now, hedge.quantile as number)
}

// Long (about 140 lines): one async frame per call that retries, holding its counters as locals;
// the decision itself is `planRetry`, and each step (budget, wait, hedge round) reads in order.
async function retryLoop(
  request: CallRequest,
  next: Handler,
  policy: ResolvedRetryPolicy,
  random: Random,
  budget: RetryBudget | undefined,
  onRetry: RetryHook | undefined,
  hedging: CallHedging | undefined,
  first?: FirstOutcome,
): Promise<CallResponse> {
  const { attempts, clock, cancellation } = request
  let retries = 0
  let transparentRetries = 0
  let keepAliveRetries = 0
  let previousDelay: number | undefined
  // A retry the budget allowed, until its attempt has ended.
  let granted = false
  for (;;) {
    const before = attempts.length
    let response: CallResponse | undefined
    let error: unknown
    let attempt: AttemptRecord | undefined
    // Hedging off (the default) costs a comparison: no clock reading, no round.
    const delay = hedging === undefined ? undefined : hedgeDelay(hedging, clock.now())
    if (first !== undefined) {
      // The first attempt, already run (and its budget bookkeeping done) by the layer.
      ;({ response, error } = first)
      attempt = response?.attempt ?? failedAttempt(error, attempts, first.before)
      first = undefined
    } else if (delay !== undefined) {
      const { hedge, state, left } = hedging as CallHedging
      const settings = { policy, hedge, state, budget, granted, delay, left }
      ;({ response, error, attempt } = await hedgedRound(request, next, settings))
    } else {
      const start = hedging === undefined ? 0 : clock.now()
      budget?.attemptStarted(granted)
      try {
        response = await next(request)
      } catch (caught) {
        error = caught
      }
      if (budget !== undefined) {
        budget.attemptEnded(granted)
        if (granted) {
          budget.retryEnded(clock.now(), chargeable(response, error, attempts.length > before))
        }
      }
      attempt = response?.attempt ?? failedAttempt(error, attempts, before)
      if (hedging !== undefined)
        recordForHedging(hedging.state, policy, start, response, error, attempt, clock.now())
    }
    granted = false
    // The common case, a response that is not retried, costs one lookup.
    if (
      response !== undefined &&
      !policy.statuses.has(response.statusCode) &&
      policy.shouldRetry === undefined
    ) {
      return response
    }
    // Final whatever the policy says: nothing was sent to judge, or the deadline has passed.
    if (attempt === undefined || error instanceof DeadlineExceededError) throw error
    if (cancellation.aborted) {
      // The call is over (the caller gave up, the deadline passed, the client was destroyed):
      // its answer is the abort, not a response it can no longer use.
      if (response === undefined) throw error
      discardResponse(response)
      throw cancellation.reason
    }
    let plan: RetryPlan
    try {
      plan = planRetry({
        policy,
        request,
        attempt,
        response,
        error,
        retries,
        transparentRetries,
        keepAliveRetries,
        previousDelay,
        now: clock.now(),
        wallNow: clock.wallNow(),
        minAttemptTime: request.minAttemptTime,
        random,
      })
    } catch (thrown) {
      // A `shouldRetry` or `delay` callback threw: that is the call's error now, and the
      // response nobody will read must still free its socket.
      if (response !== undefined) discardResponse(response)
      throw thrown
    }
    if (!plan.retry) return stop(request, attempt, plan, response, error)
    // A transparent retry costs the origin nothing, so the budget is not asked.
    if (budget !== undefined && !plan.transparent) {
      const now = clock.now()
      if (!budget.tryRetry(now)) {
        request.originState.bump(RETRIES_REFUSED)
        const reason = `${plan.basis}, but the retry budget refused: ${budget.describe(now)}`
        if (channels.budgetRefused.hasSubscribers) {
          const { origin, method } = request
          const path = redactQuery(request.path)
          channels.budgetRefused.publish({ origin, method, path, attempt, reason })
        }
        return stop(request, attempt, { retry: false, code: 'budget', reason }, response, error)
      }
      request.originState.bump(RETRIES_ALLOWED)
      granted = true
    }

    attempt.decision = {
      action: 'retry',
      reason: plan.reason,
      delay: plan.delay,
      delaySource: plan.delaySource,
      code: 'retryable',
    }
    emit(channels.retry, onRetry, 'onRetry', () => ({
      origin: request.origin,
      method: request.method,
      path: redactQuery(request.path),
      attempt,
      delay: plan.delay,
      delaySource: plan.delaySource,
      reason: plan.reason,
    }))
    if (response !== undefined) discardResponse(response)
    if (plan.delay > 0) {
      try {
        await clock.sleep(plan.delay, cancellation.signal)
      } catch (reason) {
        if (granted) budget?.retryEnded(clock.now(), false)
        attempt.decision = {
          action: 'fail',
          reason: `${plan.reason}; the call was aborted during the ${Math.round(plan.delay)} ms wait`,
          code: 'aborted',
        }
        throw reason
      }
    }
    if (plan.transparent) {
      transparentRetries++
      if (idleCloseOf(error) !== undefined) keepAliveRetries++
    } else retries++
    previousDelay = plan.delay
  }
}

/** The budget this call's retries draw from: the policy's shared one, or its origin's. */
function budgetFor(policy: ResolvedRetryPolicy, request: CallRequest): RetryBudget | undefined {
  const { budget } = policy
  if (budget === false) return undefined
  if (budget instanceof RetryBudget) return budget
  return request.originState.slot(budget.key, () => new RetryBudget(budget.perOrigin))
}

/**
 * Feeds an attempt that was not part of a hedged round to its origin's hedging latency: an
 * answer's time to headers, or an attempt timeout's full wait (fast failures are left out).
 */
function recordForHedging(
  state: HedgeState,
  policy: ResolvedRetryPolicy,
  start: number,
  response: CallResponse | undefined,
  error: unknown,
  attempt: AttemptRecord | undefined,
  now: number,
): void {
  if (response !== undefined) {
    const ttfb = response.attempt.timeToHeaders
    if (ttfb !== undefined && !policy.statuses.has(response.statusCode)) {
      state.recordLatency(now, ttfb)
    }
  } else if (attempt !== undefined && TIMEOUT_CODES.has(errorCode(error))) {
    state.recordLatency(now, now - start)
  }
}

const TIMEOUT_CODES = new Set(['NQ_ATTEMPT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT'])

/** Records why the call goes no further and hands over the last response or error. */
function stop(
  request: CallRequest,
  attempt: AttemptRecord,
  plan: Extract<RetryPlan, { retry: false }>,
  response: CallResponse | undefined,
  error: unknown,
): CallResponse {
  // A success only reaches here when `shouldRetry` was asked about it: nothing to explain.
  if (plan.code === 'not-retryable' && response !== undefined && response.statusCode < 400) {
    return response
  }
  // A response the policy will not retry is the caller's to judge, whatever the reason: a 429
  // whose Retry-After does not fit the deadline still says what the server wants (an SDK turns
  // it into its rate-limit error), where a deadline error would hide it.
  attempt.decision = {
    action: response !== undefined ? 'return' : 'fail',
    reason: plan.reason,
    code: plan.code,
  }
  if (response !== undefined) return response
  throw error
}

/** The origin's tally of retries the retry budget allowed (`stats().retriesAllowed`). */
export const RETRIES_ALLOWED: unique symbol = Symbol('retries allowed')
/** The origin's tally of retries the retry budget refused (`stats().retriesRefused`). */
export const RETRIES_REFUSED: unique symbol = Symbol('retries refused')
