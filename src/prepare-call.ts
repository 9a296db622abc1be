import { callerAbortError } from './core/call-error.ts'
import { Cancellation } from './core/cancellation.ts'
import { channels } from './core/events.ts'
import { CALL_HEADERS, mergeHeaders, type HeaderRecord } from './core/headers.ts'
import { normalizeMethod } from './core/method.ts'
import type { AttemptRecord } from './core/attempt-record.ts'
import type { CallRequest } from './core/middleware.ts'
import type { RequestOption } from './core/policy.ts'
import { redactQuery } from './core/redact-query.ts'
import { resolveTarget } from './core/target.ts'
import { splitUndiciOptions } from './core/undici-options.ts'
import { positiveMs } from './core/validate.ts'
import { InvalidOptionError } from './errors.ts'
import { IDEMPOTENCY_KEY_HEADER, idempotencyKeyFor } from './retry/idempotency.ts'
import { currentDeadline } from './timeouts/deadline-context.ts'
import { deadlineFromNow } from './timeouts/timeout-options.ts'
import type { ClientSetup } from './client-setup.ts'
import type { RequestOptions } from './client-options.ts'

/**
 * One call's request, validated before anything is sent so that a bad input rejects at once:
 * target, method, headers, the call's deadline (its own, or an inherited sooner one), the
 * policies' request options under their keys, and a cancellation (or `given`: `client.dispatcher`
 * makes it and aborts it itself). The caller makes the cancellation follow `options.signal` (see
 * {@link Cancellation.follow}), keeping the returned `unfollow` with its continuation rather than
 * in an object of its own (40 B a call in flight). The call is counted on its origin; the caller
 * settles it.
 */
export function prepareCall(
  setup: ClientSetup,
  url: string | URL,
  options: RequestOptions,
  defaultHeaders: HeaderRecord | undefined,
  given?: Cancellation,
): CallRequest {
  const { origin, path } = resolveTarget(setup.origin, url, setup.prefix)
  const { method, headers, body, signal } = options
  const normalizedMethod = normalizeMethod(method)
  const mergedHeaders = mergeHeaders(defaultHeaders, headers)
  if (options.idempotencyKey !== undefined) {
    const key = idempotencyKeyFor(options.idempotencyKey)
    // A key already in the headers is the caller's own: it wins.
    if (key !== undefined) mergedHeaders[IDEMPOTENCY_KEY_HEADER] ??= key
  }
  const undiciOptions = splitUndiciOptions(options, setup.handledRequestOptions)
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidOptionError('signal', signal, 'an AbortSignal')
  }
  const { clock, timeouts } = setup
  const attemptTimeout =
    options.attemptTimeout === undefined
      ? timeouts.attemptTimeout
      : positiveMs('attemptTimeout', options.attemptTimeout)
  const startTime = clock.now()
  let deadline =
    startTime +
    (options.deadline === undefined ? timeouts.deadline : deadlineFromNow(options.deadline, clock))
  let deadlineInherited = false
  if (timeouts.inherit) {
    const scope = currentDeadline()
    if (scope !== undefined) {
      const inherited = startTime + scope.remaining()
      if (inherited < deadline) {
        deadline = inherited
        deadlineInherited = true
      }
    }
  }
  const own = policyOptions(setup.requestOptionList, options)
  if (signal?.aborted) throw callerAbortError(signal.reason, [])

  const request: CallRequest = {
    method: normalizedMethod,
    origin,
    path,
    headers: mergedHeaders,
    body,
    cancellation: given ?? new Cancellation(),
    callerSignal: signal,
    attempts: roomForOne(),
    startTime,
    deadline,
    deadlineInherited,
    attemptTimeout,
    minAttemptTime: timeouts.minAttemptTime,
    clock,
    originState: setup.origins.get(origin, startTime),
    undiciOptions,
  }
  CALL_HEADERS.init(request, mergedHeaders)
  if (own !== undefined) for (const [option, value] of own) option.key.init(request, value)
  request.originState.noteCall(startTime)
  request.originState.inFlight++
  if (channels.callStart.hasSubscribers) {
    channels.callStart.publish({
      method: normalizedMethod,
      origin,
      path: redactQuery(path),
      attempts: request.attempts,
    })
  }
  return request
}

/**
 * The policies' own options a request gives (its `retry`), each validated and merged over the
 * client's; `undefined` when it gives none (nearly every call: nothing allocated). An indexed
 * loop: iterating a Map would allocate an entry per option per call.
 */
function policyOptions(
  list: readonly RequestOption[],
  options: RequestOptions,
): [RequestOption, unknown][] | undefined {
  let own: [RequestOption, unknown][] | undefined
  for (let i = 0; i < list.length; i++) {
    const option = list[i] as RequestOption
    const value = (options as Record<string, unknown>)[option.name]
    if (value !== undefined) (own ??= []).push([option, option.resolve(value)])
  }
  return own
}

/**
 * An empty array with room for one element, for the call's attempt records: nearly every call
 * has one. An empty literal's first `push` reserves 17 slots (152 B per call in flight against
 * 24, by heap snapshot); a popped literal of one keeps its one slot.
 */
function roomForOne(): AttemptRecord[] {
  const attempts: (AttemptRecord | undefined)[] = [undefined]
  attempts.pop()
  return attempts as AttemptRecord[]
}
