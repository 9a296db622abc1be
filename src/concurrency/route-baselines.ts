// Answers a route's mean takes before it is trusted as a baseline. The first of a new route (a
// cold cache, a new connection) are not what it usually takes, and the mean of 20 answers of a
// lognormal σ 0.75 origin is off by about 17% (σ/√20): rounds judged against it cut the limits
// of a fan-out to 100 origins to 1 on noise alone (bench/hedging.ts). With 50, none fell below 20.
const MIN_SAMPLES = 50

// Nor is it trusted before three of its RTTs have passed since its first answer. The first
// answers of a burst are its fastest: at 1,000 calls/s of 110-260 ms, the mean of the first 10
// was 115 ms against 175 ms after, which made every later round look like queueing and cut the
// limit to 138 (bench/endpoints.ts, cold start, seed 2).
const SETTLE_RTTS = 3

// Routes kept per origin. A route past it replaces the one first seen, which learns its baseline
// again if it comes back: paths the templating does not catch (an id it does not know) must not
// grow memory without bound.
export const MAX_ROUTES = 256

interface Route {
  readonly since: number
  /** When it last learnt. */
  last: number
  /** The mean of the logarithm of its RTTs: a geometric mean, which one slow answer moves little. */
  logMean: number
  samples: number
  /** The answers of the round in progress, learnt or dropped when it is judged. */
  pendingLog: number
  pending: number
}

/**
 * The baseline RTT of each route of one origin: the geometric mean of its answers, over about
 * `memory` ms once it has settled. One origin's routes differ (a 2 ms lookup and a 200 ms
 * report): judged against one baseline, a mix of them looks like queueing whenever the share of
 * slow ones rises, so each answer is judged against its own route's. A settled route learns a
 * round's answers only once the round is judged calm ({@link RouteBaselines.endRound}), so that a
 * queue does not become the baseline it is judged against. Pure: every method takes `now`.
 *
 * Why a mean and not a windowed minimum, as before: the minimum of a noisy estimate over 30 s
 * sits several of its deviations below the typical value. With service times as spread as a
 * lognormal of σ 0.75 (p99 5.7 times the median), it was half the typical RTT, every round
 * looked like a queue, and the limit fell to 1 in front of an origin with 20 free slots
 * (bench/hedging.ts at capacity).
 */
export class RouteBaselines {
  readonly #memory: number
  readonly #routes = new Map<string, Route>()
  // Routes with answers pending in the round in progress.
  readonly #touched: Route[] = []

  /** @param memory - the time constant of the mean once settled, in ms. */
  constructor(memory: number) {
    this.#memory = memory
  }

  /**
   * The baseline of `route` for an answer that took `rtt` ms, in ms, or `undefined` while the
   * route is new (fewer than 50 answers, or less than three of its RTTs since its first), while
   * it learns every answer at once. A settled route holds the answer until the round is judged.
   */
  judge(route: string, now: number, rtt: number): number | undefined {
    let r = this.#routes.get(route)
    if (r === undefined) {
      if (this.#routes.size >= MAX_ROUTES) {
        this.#routes.delete(this.#routes.keys().next().value as string)
      }
      r = { since: now, last: now, logMean: Math.log(rtt), samples: 0, pendingLog: 0, pending: 0 }
      this.#routes.set(route, r)
    }
    const baseline = Math.exp(r.logMean)
    if (!settled(r, now, baseline)) {
      learn(r, Math.log(rtt), 1, now, this.#memory)
      return undefined
    }
    if (r.pending === 0) this.#touched.push(r)
    r.pendingLog += Math.log(rtt)
    r.pending++
    return baseline
  }

  /** Ends a round: its answers are learnt when `calm`, and forgotten otherwise. */
  endRound(now: number, calm: boolean): void {
    for (const r of this.#touched) {
      if (calm) learn(r, r.pendingLog / r.pending, r.pending, now, this.#memory)
      // A round not learnt still counts as time passed: the first calm round after a long queue
      // moves the mean by its own length, not by the whole queue's.
      else r.last = now
      r.pendingLog = 0
      r.pending = 0
    }
    this.#touched.length = 0
  }

  /** `route`'s baseline at `now`, in ms; `Infinity` while it has none. */
  baseline(route: string, now: number): number {
    const r = this.#routes.get(route)
    if (r === undefined) return Infinity
    const baseline = Math.exp(r.logMean)
    return settled(r, now, baseline) ? baseline : Infinity
  }

  /** Routes known. */
  get size(): number {
    return this.#routes.size
  }
}

function settled(r: Route, now: number, baseline: number): boolean {
  return r.samples >= MIN_SAMPLES && now - r.since >= SETTLE_RTTS * baseline
}

/**
 * Moves `r`'s mean towards `log`, the mean of `count` answers: the plain mean of all its answers
 * until the memory's own weight is larger, then a moving one over about `memory` ms, whatever
 * the rate.
 */
function learn(r: Route, log: number, count: number, now: number, memory: number): void {
  r.samples += count
  const weight = Math.min(1, Math.max(count / r.samples, (now - r.last) / memory))
  r.logMean += weight * (log - r.logMean)
  r.last = now
}
