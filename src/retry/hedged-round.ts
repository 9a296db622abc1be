import { failedAttempt } from '../core/attempt.ts'
import { asHedge } from './hedge-attempt.ts'
import type { AttemptRecord } from '../core/attempt-record.ts'
import { Cancellation } from '../core/cancellation.ts'
import type { TimerHandle } from '../core/clock.ts'
import { discardResponse } from '../core/discard.ts'
import { channels } from '../core/events.ts'
import type { CallRequest, CallResponse, Handler } from '../core/middleware.ts'
import { errorCode } from '../core/outcome.ts'
import { whenBodyComplete } from '../core/response-body.ts'
import type { RetryBudget } from './retry-budget.ts'
import { HedgeDeclinedError, SupersededError } from '../errors.ts'
import { chargeable } from './chargeable.ts'
import type { ResolvedHedgePolicy } from './hedge-options.ts'
import type { HedgeState } from './hedge-state.ts'
import type { ResolvedRetryPolicy } from './retry-options.ts'
import { redactQuery } from '../core/redact-query.ts'

/** How a round ended: the response or error the retry policy judges next, and its attempt. */
export interface RoundResult {
  response: CallResponse | undefined
  error: unknown
  /** The record of the attempt that ended the round; `undefined` when it was never sent. */
  attempt: AttemptRecord | undefined
}

/** What a round needs from the retry layer. */
export interface RoundSettings {
  /** The call's retry policy: a status it retries is not an answer while a rival still runs. */
  policy: ResolvedRetryPolicy
  hedge: ResolvedHedgePolicy
  state: HedgeState
  budget: RetryBudget | undefined
  /** The round's first attempt is a retry the budget allowed (and is charged as one). */
  granted: boolean
  /** The wait before the first hedge (and between hedges), in ms. */
  delay: number
  /** Hedges the call may still send; the round takes from it. */
  left: { hedges: number }
}

/** Attempt errors that say how slow the origin was, as an answer does (Finagle records them). */
const SLOW_CODES = new Set(['NQ_ATTEMPT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'NQ_SUPERSEDED'])

/** One attempt of a round in flight. */
interface Runner {
  readonly cancellation: Cancellation
  readonly unfollow: () => void
  readonly hedge: boolean
  /** `clock.now()` when it was sent down the stack. */
  readonly start: number
  /** How many records the call had before it: its own is after them. */
  readonly before: number
}

/**
 * One round of a call: its attempt, plus hedges while it has not answered, each sent `delay` ms
 * after the one before if the hedge share, the budget and the deadline allow. The first answer
 * (a response whose status the policy does not retry) wins and the others are cancelled at once,
 * which closes their sockets. An attempt that fails while another still runs does not end the
 * round; the last one to fail does, and the retry policy judges it as any attempt.
 */
export function hedgedRound(
  request: CallRequest,
  next: Handler,
  settings: RoundSettings,
): Promise<RoundResult> {
  return new Promise((resolve) => new Round(request, next, settings, resolve).start())
}

class Round {
  readonly #request: CallRequest
  readonly #next: Handler
  readonly #s: RoundSettings
  readonly #resolve: (result: RoundResult) => void
  readonly #running = new Set<Runner>()
  #timer: TimerHandle | undefined
  #settled = false
  // The latest failure held while another attempt still runs.
  #last: RoundResult | undefined
  #winner: AttemptRecord | undefined

  constructor(
    request: CallRequest,
    next: Handler,
    settings: RoundSettings,
    resolve: (result: RoundResult) => void,
  ) {
    this.#request = request
    this.#next = next
    this.#s = settings
    this.#resolve = resolve
  }

  start(): void {
    this.#launch(false)
    this.#schedule()
  }

  #launch(hedge: boolean): void {
    const request = this.#request
    const cancellation = new Cancellation()
    const unfollow = request.cancellation.onAbort((reason) => cancellation.abort(reason))
    const runner: Runner = {
      cancellation,
      unfollow,
      hedge,
      start: request.clock.now(),
      before: request.attempts.length,
    }
    this.#running.add(runner)
    this.#s.budget?.attemptStarted(hedge || this.#s.granted)
    let pending: Promise<CallResponse>
    try {
      const own = { ...request, cancellation }
      pending = this.#next(hedge ? asHedge(own) : own)
    } catch (error) {
      pending = Promise.reject(error as Error)
    }
    pending.then(
      (response) => this.#onResponse(runner, response),
      (error: unknown) => this.#onError(runner, error),
    )
  }

  /** Arms the timer of the next hedge, if the call may send one and has the time for it. */
  #schedule(): void {
    const { left, delay } = this.#s
    if (left.hedges <= 0) return
    const { clock } = this.#request
    if (this.#lacksTime(clock.now() + delay) !== undefined) return
    this.#timer = clock.setTimer(() => this.#fire(), delay)
  }

  /** Why a hedge sent at `at` could not finish before the deadline, or `undefined` if it can. */
  #lacksTime(at: number): string | undefined {
    const { deadline, minAttemptTime } = this.#request
    // A hedge that cannot get a typical answer before the deadline's last slice is load for nothing.
    const typical = this.#s.state.typical() ?? 0
    if (at + typical <= deadline - minAttemptTime) return undefined
    return `the deadline leaves ${Math.max(0, Math.round(deadline - at))} ms, less than minAttemptTime (${minAttemptTime} ms) plus the origin's median attempt (${Math.round(typical)} ms)`
  }

  #fire(): void {
    this.#timer = undefined
    const request = this.#request
    if (this.#settled || request.cancellation.aborted) return
    const now = request.clock.now()
    const refusal = this.#refusal(now)
    if (refusal !== undefined) {
      this.#refused(refusal)
      return
    }
    this.#s.left.hedges--
    this.#s.state.sent++
    this.#publish('sent')
    this.#launch(true)
    this.#schedule()
  }

  /** Why no hedge may be sent now, or `undefined` (and the hedge taken) when one may. */
  #refusal(now: number): string | undefined {
    const { state, hedge, budget } = this.#s
    const late = this.#lacksTime(now)
    if (late !== undefined) return late
    const share = hedgeShare(hedge)
    if (!state.tryHedge(now, share)) {
      return `hedges to this origin have used their share, ${share} of calls in 10 s`
    }
    if (budget !== undefined && !budget.tryHedge(now)) {
      state.refund(now)
      return `the retry budget is more than half spent: ${budget.describe(now)}`
    }
    return undefined
  }

  #refused(reason: string): void {
    this.#s.state.refused++
    this.#publish('refused', reason)
    // The record of each attempt still running says so: a call that asked to hedge and did not
    // explains itself.
    const { attempts } = this.#request
    for (const runner of this.#running) {
      const record = attempts[runner.before]
      if (!runner.hedge && record !== undefined) record.hedgeRefused = reason
    }
  }

  #onResponse(runner: Runner, response: CallResponse): void {
    this.#running.delete(runner)
    const now = this.#request.clock.now()
    this.#ended(runner, now, response, undefined, true)
    // Its body follows the call's cancellation (deadline, caller) until it is in or discarded.
    whenBodyComplete(response.body, runner.unfollow)
    const record = response.attempt
    if (this.#settled) {
      // Overtaken between the winner's answer and its cancellation reaching this one.
      this.#superseded(record)
      discardResponse(response)
      return
    }
    const answer = !this.#s.policy.statuses.has(response.statusCode)
    if (!answer) {
      this.#failed({ response, error: undefined, attempt: record })
      return
    }
    // Only the attempts that were hedged say how the origin answers: a hedge's own latency,
    // taken only when it was quick, would pull the percentile, and then every hedge, earlier.
    if (!runner.hedge && record.timeToHeaders !== undefined) {
      this.#s.state.recordLatency(now, record.timeToHeaders)
    }
    if (runner.hedge) {
      this.#s.state.won++
      this.#publish('won')
    }
    this.#settle({ response, error: undefined, attempt: record }, true)
  }

  #onError(runner: Runner, error: unknown): void {
    this.#running.delete(runner)
    runner.unfollow()
    const request = this.#request
    const now = request.clock.now()
    const attempt = failedAttempt(error, request.attempts, runner.before)
    const sent = attempt !== undefined
    this.#ended(runner, now, undefined, error, sent)
    // An attempt cut short by its hedge took at least this long: above the delay, where it
    // does not move the percentile that sent the hedge (Finagle records it too).
    if (sent && !runner.hedge && SLOW_CODES.has(errorCode(error))) {
      this.#s.state.recordLatency(now, now - runner.start)
    }
    if (this.#settled) {
      if (attempt !== undefined) this.#superseded(attempt)
      return
    }
    if (runner.hedge && error instanceof HedgeDeclinedError) {
      // Declined by a policy below (limit reached, circuit not closed): the call goes on without it.
      this.#s.left.hedges = 0
      this.#s.state.sent--
      this.#refused(error.message)
      // Had the attempt it hedged failed meanwhile, that failure ends the round.
      if (this.#running.size === 0 && this.#last !== undefined) this.#settle(this.#last, false)
      return
    }
    this.#failed({ response: undefined, error, attempt })
  }

  /**
   * An attempt failed (an error, or a status the policy retries). While another still runs it is
   * held, and the call waits; the last failure ends the round. A held response is kept unread
   * until then (its body is small, or paused), so that the policy can judge it.
   */
  #failed(result: RoundResult): void {
    const previous = this.#last
    if (previous !== undefined) this.#supersedeFailure(previous)
    if (this.#running.size === 0) {
      this.#settle(result, false)
      return
    }
    this.#last = result
  }

  /** A failure that is no longer the round's outcome: say why, free its response. */
  #supersedeFailure(result: RoundResult): void {
    const { attempt, response, error } = result
    if (attempt !== undefined && !this.#request.cancellation.aborted) {
      attempt.decision = {
        action: 'superseded',
        code: 'hedge-pending',
        reason: `${response !== undefined ? `status ${response.statusCode}` : errorCode(error)}, while another attempt of the call was still running`,
      }
    }
    if (response !== undefined) discardResponse(response)
  }

  /** Budget and share bookkeeping for an attempt that has ended. */
  #ended(
    runner: Runner,
    now: number,
    response: CallResponse | undefined,
    error: unknown,
    sent: boolean,
  ): void {
    const { budget, granted, state } = this.#s
    if (runner.hedge) {
      budget?.attemptEnded(true)
      // A hedge that went out cost the origin a request whoever won; one declined cost nothing.
      budget?.retryEnded(now, sent)
      if (!sent) state.refund(now)
      return
    }
    if (budget === undefined) return
    budget.attemptEnded(granted)
    if (granted) budget.retryEnded(now, chargeable(response, error, sent))
  }

  #settle(result: RoundResult, answer: boolean): void {
    this.#settled = true
    const last = this.#last
    if (last !== undefined && last !== result) this.#supersedeFailure(last)
    this.#last = undefined
    if (this.#timer !== undefined) {
      this.#request.clock.clearTimer(this.#timer)
      this.#timer = undefined
    }
    if (!answer) {
      this.#resolve(result)
      return
    }
    const winner = result.attempt as AttemptRecord
    this.#winner = winner
    for (const runner of this.#running) {
      runner.cancellation.abort(
        new SupersededError(
          `attempt ${winner.number}${winner.hedge ? ' (a hedge)' : ''} answered first`,
        ),
      )
    }
    this.#resolve(result)
  }

  #superseded(record: AttemptRecord): void {
    const winner = this.#winner
    if (winner === undefined) return
    record.decision ??= {
      action: 'superseded',
      code: 'hedge-lost',
      reason: `attempt ${winner.number}${winner.hedge ? ' (a hedge)' : ''} answered first; this one was cancelled`,
    }
  }

  #publish(action: 'sent' | 'refused' | 'won', reason?: string): void {
    if (!channels.hedge.hasSubscribers) return
    const request = this.#request
    channels.hedge.publish({
      origin: request.origin,
      method: request.method,
      path: redactQuery(request.path),
      action,
      at: request.clock.now() - request.startTime,
      delay: this.#s.delay,
      reason,
      attempts: request.attempts,
    })
  }
}

/**
 * The share of calls hedges may add: `maxExtraLoad`, and with a percentile delay no more than
 * twice the share of attempts slower than it. Were nearly all of those hedged, the slow attempts
 * they cut short would hide how slow the origin is, and a delay that started too low (read from
 * the first few samples) would creep up by a hedge's latency every 3 s instead of jumping to the
 * truth.
 */
export function hedgeShare(hedge: ResolvedHedgePolicy): number {
  return hedge.quantile === undefined || hedge.delay !== undefined
    ? hedge.maxExtraLoad
    : Math.min(hedge.maxExtraLoad, 2 * (1 - hedge.quantile))
}
