import type { Random } from '../core/random.ts'
import { chooseEndpoint } from './choose-endpoint.ts'
import { Endpoint, type EndpointStats } from './endpoint.ts'
import type { ResolvedEndpoints } from './endpoints-options.ts'
import { canEject, countOutcome, eject, sweep } from './outlier-ejection.ts'

/** The origin-state slot of an origin's {@link EndpointSet}; `null` for an IP-literal origin. */
export const ENDPOINT_SET: unique symbol = Symbol('endpoints')

/** What happened to one address of an origin, as the `netiquette:endpoint` channel tells it. */
export interface EndpointEvent {
  /** The origin, `scheme://host[:port]`. */
  origin: string
  /** The IP address. */
  address: string
  /**
   * - `added`: a lookup returned it; it now gets attempts.
   * - `removed`: a lookup no longer returns it; it gets no new attempts (those in flight end).
   * - `ejected`: it failed too often; it gets no attempts until `until`.
   * - `readmitted`: its ejection ended; it is measured afresh.
   */
  action: 'added' | 'removed' | 'ejected' | 'readmitted'
  /** Why, for people: `5 failures in a row`, `60% of 40 attempts failed, others 2%`. */
  reason: string
  /** With `ejected`: when the ejection ends, on the client's clock, in ms. */
  until?: number
}

/**
 * The addresses of one origin and the balancer's state for each: which to send an attempt to,
 * what its outcome changes, which are ejected, and what a new lookup adds and drains. Pure: every
 * method takes `now`; the endpoints layer reads the clock and does the lookups.
 */
/** The most doublings of an unanswered attempt's time: 16x the timeout that cut it. */
const MAX_DOUBLINGS = 4

export class EndpointSet {
  readonly origin: string
  readonly hostname: string
  /** Every address: those in service, and those draining until their attempts end. */
  readonly endpoints: Endpoint[] = []
  /**
   * The lookup in progress, shared by every attempt that waits for it; it resolves with the
   * lookup's error, if it failed (it never rejects).
   */
  lookup: Promise<Error | undefined> | undefined
  readonly #url: URL
  readonly #options: ResolvedEndpoints
  readonly #notify: (event: EndpointEvent) => void
  #nextSweep: number
  // When the addresses are due to be looked up again.
  #nextLookup = -Infinity

  constructor(
    origin: string,
    options: ResolvedEndpoints,
    now: number,
    notify: (event: EndpointEvent) => void,
  ) {
    this.origin = origin
    this.#url = new URL(origin)
    this.hostname = this.#url.hostname
    this.#options = options
    this.#notify = notify
    this.#nextSweep = options.ejection === false ? Infinity : now + options.ejection.interval
  }

  /** Whether the addresses should be looked up (again) at `now`. */
  stale(now: number): boolean {
    return now >= this.#nextLookup
  }

  /**
   * A lookup failed at `now`: while there are addresses to serve, the next try waits `retry` ms
   * (at most the TTL), so that a DNS outage is not met with a lookup per attempt.
   */
  lookupFailed(now: number, retry: number): void {
    if (this.endpoints.length > 0) this.#nextLookup = now + Math.min(this.#options.ttl, retry)
  }

  /**
   * Takes a lookup's answer at `now`: the first `maxAddresses` distinct addresses in sorted
   * order. Known addresses keep their state; new ones start unmeasured; missing ones drain.
   * `addresses` must hold at least one IP address.
   */
  update(addresses: readonly string[], now: number): void {
    this.#nextLookup = now + this.#options.ttl
    const wanted = [...new Set(addresses)].sort().slice(0, this.#options.maxAddresses)
    const keep = new Set(wanted)
    for (const endpoint of this.endpoints) {
      if (keep.has(endpoint.address)) {
        endpoint.draining = false
      } else if (!endpoint.draining) {
        endpoint.draining = true
        this.#emit(endpoint, 'removed', 'no longer among the addresses of ' + this.hostname)
      }
    }
    const known = new Set(this.endpoints.map((e) => e.address))
    for (const address of wanted) {
      if (known.has(address)) continue
      const endpoint = new Endpoint(address, this.#url, this.#options.decay, now)
      this.endpoints.push(endpoint)
      this.#emit(endpoint, 'added', 'among the addresses of ' + this.hostname)
    }
    this.#dropDrained()
  }

  /**
   * The address for the next attempt: the power of two choices among those in service and not
   * ejected, leaving out the addresses in `avoid` (the call's earlier attempts) when any other
   * remains. Readmits addresses whose ejection ended, and judges failure rates when an interval
   * has passed. There must be at least one address.
   */
  choose(now: number, random: Random, avoid?: readonly (string | undefined)[]): Endpoint {
    this.#tick(now)
    const usable: Endpoint[] = []
    const preferred: Endpoint[] = []
    for (const endpoint of this.endpoints) {
      if (endpoint.draining || endpoint.ejected(now)) continue
      usable.push(endpoint)
      if (avoid === undefined || !avoid.includes(endpoint.address)) preferred.push(endpoint)
    }
    const candidates =
      preferred.length > 0
        ? preferred
        : usable.length > 0
          ? usable
          : this.endpoints.filter((e) => !e.draining)
    const endpoint = chooseEndpoint(
      candidates.length > 0 ? candidates : this.endpoints,
      now,
      random,
    )
    endpoint.inFlight++
    endpoint.pendingStarts.push(now)
    return endpoint
  }

  /**
   * An attempt to `endpoint` that started at `start` ended at `now`: with response headers (`answered`), or
   * without (an error, a timeout, a cancelled hedge), whose time only raises the estimate.
   * `failed` is `undefined` for an outcome that says nothing of the address (the caller gave up,
   * the attempt lost to a hedge).
   */
  settle(
    endpoint: Endpoint,
    now: number,
    start: number,
    answered: boolean,
    failed: boolean | undefined,
  ): void {
    endpoint.inFlight--
    const starts = endpoint.pendingStarts
    const i = starts.indexOf(start)
    if (i !== -1) starts.splice(i, 1)
    const ms = now - start
    if (answered) {
      endpoint.unanswered = 0
      endpoint.latency.observe(now, ms)
    } else {
      // An attempt that failed without an answer (cut by a timeout, reset) took at least `ms`:
      // a lower bound. Each one in a row doubles the bound taken, up to 16x, so an address whose
      // attempts all end unanswered looks far slower than the timeout that hides its true time.
      if (failed === true) endpoint.unanswered++
      const doublings = Math.min(Math.max(0, endpoint.unanswered - 1), MAX_DOUBLINGS)
      endpoint.latency.observePeak(now, ms * 2 ** doublings)
    }
    const rules = this.#options.ejection
    if (failed !== undefined && rules !== false) {
      const run = countOutcome(endpoint, failed, rules)
      if (run && !endpoint.ejected(now) && canEject(this.endpoints, now, rules.maxShare)) {
        eject(endpoint, now, rules)
        this.#emit(endpoint, 'ejected', `${rules.consecutiveFailures} failures in a row`)
      }
    }
    if (endpoint.draining && endpoint.inFlight === 0) this.#dropDrained()
  }

  /** Every address's state, for `client.stats()`. */
  stats(now: number): EndpointStats[] {
    return this.endpoints.map((e) => e.stats(now))
  }

  #tick(now: number): void {
    for (const endpoint of this.endpoints) {
      if (!endpoint.out || endpoint.ejected(now)) continue
      endpoint.out = false
      endpoint.consecutiveFailures = 0
      endpoint.latency.reset(now)
      this.#emit(endpoint, 'readmitted', 'its ejection ended')
    }
    const rules = this.#options.ejection
    if (rules === false || now < this.#nextSweep) return
    this.#nextSweep = now + rules.interval
    const rates = new Map(
      this.endpoints.map((e) => [e, [e.intervalFailures, e.intervalAttempts]] as const),
    )
    for (const endpoint of sweep(this.endpoints, now, rules)) {
      const [failures = 0, attempts = 0] = rates.get(endpoint) ?? []
      this.#emit(
        endpoint,
        'ejected',
        `${failures} of ${attempts} attempts failed in ${rules.interval} ms, well above the other addresses`,
      )
    }
  }

  #dropDrained(): void {
    for (let i = this.endpoints.length - 1; i >= 0; i--) {
      const endpoint = this.endpoints[i] as Endpoint
      if (endpoint.draining && endpoint.inFlight === 0) this.endpoints.splice(i, 1)
    }
  }

  #emit(endpoint: Endpoint, action: EndpointEvent['action'], reason: string): void {
    this.#notify({
      origin: this.origin,
      address: endpoint.address,
      action,
      reason,
      ...(action === 'ejected' ? { until: endpoint.ejectedUntil } : {}),
    })
  }
}
