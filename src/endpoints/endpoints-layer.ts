import { ATTEMPT_ENDPOINT } from '../core/attempt-keys.ts'
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { recordUnsentAttempt } from '../core/attempt.ts'
import type { Cancellation } from '../core/cancellation.ts'
import { channels, type AttemptHook } from '../core/events.ts'
import type { Middleware } from '../core/middleware.ts'
import { classifyError, classifyStatus } from '../core/outcome.ts'
import type { Random } from '../core/random.ts'
import { EndpointResolutionError } from '../errors.ts'
import { ENDPOINT_SET, EndpointSet, type EndpointEvent } from './endpoint-set.ts'
import type { ResolveAddresses, ResolvedEndpoints } from './endpoints-options.ts'

/** After a failed lookup, the old addresses serve this long before the next try, in ms. */
const RETRY_LOOKUP = 1_000

/**
 * The `endpoints` policy: each attempt goes to one of its origin's addresses, chosen by
 * {@link EndpointSet} (power of two choices over peak-EWMA cost, outlier ejection, another
 * address than the call's earlier attempts when there is one). It sits at the bottom of the
 * stack, just above the transport, so that it measures each attempt alone and sees every retry
 * and hedge as an attempt. The transport connects to the chosen address and sends the origin's
 * host as Host and as the TLS server name. Origins whose host is an IP address pass through.
 */
export function endpointsLayerFrom(
  options: ResolvedEndpoints,
  random: Random,
  onAttempt?: AttemptHook,
): Middleware {
  const resolve = options.resolve
  return async function endpoints(request, next) {
    const { clock, originState, cancellation } = request
    let set = originState.peekSlot<EndpointSet | null>(ENDPOINT_SET)
    if (set === undefined) {
      set = originState.slot(ENDPOINT_SET, () => createSet(request.origin, options, clock.now()))
    }
    if (set === null) return next(request)
    if (set.stale(clock.now())) {
      const pending = (set.lookup ??= refresh(set, resolve, () => clock.now()))
      if (set.endpoints.length === 0) {
        const error = await untilAborted(pending, cancellation)
        if (set.endpoints.length === 0) {
          // An attempt that could not be sent, recorded as undici records a failed DNS lookup.
          recordUnsentAttempt(request, error, onAttempt)
          throw error
        }
      }
    }
    const { attempts } = request
    const avoid = attempts.length === 0 ? undefined : attempts.map((a) => a.address)
    const start = clock.now()
    const endpoint = set.choose(start, random, avoid)
    let response
    try {
      response = await next(ATTEMPT_ENDPOINT.with(request, endpoint))
    } catch (error) {
      const end = clock.now()
      const kind = classifyError(error, request.callerSignal?.aborted === true)
      // A cancelled attempt (a hedge that lost, a caller who left) says nothing of the address,
      // but its time so far still raises the estimate of a slow one.
      set.settle(endpoint, end, start, false, isFailure(kind) ? true : undefined)
      throw error
    }
    const end = clock.now()
    const status = response.statusCode
    // 429 is a quota, not a broken address; other 5xx and 408 are the address's failures.
    set.settle(endpoint, end, start, true, status !== 429 && !isSuccess(status))
    return response
  }
}

function isFailure(kind: string): boolean {
  return kind === 'failure' || kind === 'overload'
}

function isSuccess(status: number): boolean {
  return classifyStatus(status) === 'success'
}

function createSet(origin: string, options: ResolvedEndpoints, now: number): EndpointSet | null {
  const { hostname } = new URL(origin)
  if (isIP(hostname.replace(/^\[|\]$/g, '')) !== 0) return null
  return new EndpointSet(origin, options, now, publish)
}

function publish(event: EndpointEvent): void {
  if (channels.endpoint.hasSubscribers) channels.endpoint.publish(event)
}

/**
 * Looks the addresses up and hands them to `set`. Never rejects: a failure is returned, and the
 * old addresses, if any, serve until the next try.
 */
async function refresh(
  set: EndpointSet,
  resolve: ResolveAddresses | undefined,
  now: () => number,
): Promise<Error | undefined> {
  try {
    set.update(await lookupAddresses(set.hostname, resolve), now())
    return undefined
  } catch (error) {
    set.lookupFailed(now(), RETRY_LOOKUP)
    return error as Error
  } finally {
    set.lookup = undefined
  }
}

async function lookupAddresses(
  hostname: string,
  resolve: ResolveAddresses | undefined,
): Promise<readonly string[]> {
  // The system's lookup fails as undici's own connect would (ENOTFOUND, EAI_AGAIN).
  if (resolve === undefined) return (await lookup(hostname, { all: true })).map((r) => r.address)
  let addresses: unknown
  try {
    addresses = await resolve(hostname)
  } catch (error) {
    throw new EndpointResolutionError(
      hostname,
      `endpoints.resolve failed for ${hostname}: ${(error as Error)?.message ?? String(error)}`,
      { cause: error },
    )
  }
  if (
    !Array.isArray(addresses) ||
    addresses.length === 0 ||
    addresses.some((a) => typeof a !== 'string' || isIP(a) === 0)
  ) {
    throw new EndpointResolutionError(
      hostname,
      `endpoints.resolve returned ${describe(addresses)} for ${hostname}; expected a non-empty array of IPv4 or IPv6 address strings`,
    )
  }
  return addresses as readonly string[]
}

function describe(value: unknown): string {
  if (!Array.isArray(value)) return value === null ? 'null' : typeof value
  if (value.length === 0) return 'an empty array'
  const bad = value.find((a) => typeof a !== 'string' || isIP(a) === 0) as unknown
  return `an array holding ${typeof bad === 'string' ? JSON.stringify(bad.slice(0, 64)) : typeof bad}, which is not an IP address`
}

/** `promise`'s value, or the cancellation's reason as soon as it aborts. */
function untilAborted<T>(promise: Promise<T>, cancellation: Cancellation): Promise<T> {
  if (cancellation.aborted) return Promise.reject(cancellation.reason as Error)
  return new Promise<T>((resolve, reject) => {
    const remove = cancellation.onAbort((reason) => reject(reason as Error))
    promise.then((value) => {
      remove()
      resolve(value)
    }, reject)
  })
}
