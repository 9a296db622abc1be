import { clamp } from './aimd-limit.ts'
import { appLimited, type LimitAlgorithm, type LimitSample } from './limit-algorithm.ts'
import { RouteBaselines } from './route-baselines.ts'
import { optionsArgument } from '../core/validate.ts'

/**
 * Settings of `DelayLimit`. The bounds mean what they do in `ConcurrencyOptions`; the lowest
 * is 1, so that the limit can follow an origin down to its capacity.
 */
export interface DelayOptions {
  /** @defaultValue 20 */
  initialLimit?: number
  /** @defaultValue 1 */
  minLimit?: number
  /** @defaultValue 200 */
  maxLimit?: number
  /**
   * The target of a round's signal: how much longer than their routes' baselines its answers
   * took (their geometric mean ratio, weighted by the baselines). Above it, requests are
   * queueing at the origin. At an origin of 3 slots, one request more than it serves makes
   * 1.33; a target of 1.5 sat above it, and the p99 during a 3x capacity drop was 2.06 times the
   * p99 before (1.97 at 1.25). Rounds are long enough for noise to stay three standard errors
   * below it (`docs/concurrency.md`). Chosen on `bench/overload.ts`, which reports it.
   * @defaultValue 1.25
   */
  tolerance?: number
  /**
   * How long a route's baseline remembers its answers, in ms: the time constant of its moving
   * mean. It learns only rounds that are calm (at most √tolerance), so a queue does not become
   * the baseline it is judged against; after three windows without a calm round, the origin has
   * a new normal (a slower release) and it learns again.
   * @defaultValue 10000
   */
  baselineWindow?: number
  /**
   * How hard the limit is cut above the target: by `beta × (signal − tolerance) / signal`, at
   * most `maxDecrease`, once per round (Swift's β and max_mdf).
   * @defaultValue 0.8
   */
  beta?: number
  /**
   * The largest share of the limit one cut (or a drop) takes away: half, as TCP does on a loss.
   * @defaultValue 0.5
   */
  maxDecrease?: number
}

/** The defaults of {@link DelayOptions}, with their reasons in its TSDoc. */
export const DEFAULT_DELAY: Readonly<Required<DelayOptions>> = Object.freeze({
  initialLimit: 20,
  minLimit: 1,
  maxLimit: 200,
  tolerance: 1.25,
  baselineWindow: 10_000,
  beta: 0.8,
  maxDecrease: 0.5,
})

// Growth per round: one, or a tenth of the limit when that is more. Swift adds a constant per
// RTT; with 1, a limit cut during overload took 2.6-3 s to grow back once capacity returned at a
// 50 ms service time (bench/overload.ts). A constant 4 came back in 0.1-0.5 s but overshot small
// limits (p99 32 ms against 26 ms at a 10 ms service time); a tenth of the limit does both.
// Half the limit once there has been no cut for 2 s: then nothing says the origin is near its
// capacity, and calls waiting for a place (bodies that trickle and hold their places, a load
// that doubled) need the limit now. By a tenth, the lab's slow-body scenario shed 38-41 calls to
// the queue's deadline while the limit took 5 s to climb from 20 to 40.
function growthPerRound(limit: number, sinceCut: number): number {
  return Math.max(1, (sinceCut >= CALM_AFTER ? 0.5 : 0.1) * limit)
}

// Time without a latency cut after which the limit grows by half per round, in ms.
const CALM_AFTER = 2_000

// RTTs after a cut during which the limit does not grow. A delay-based limit finds the origin's
// capacity only by going past it, and each time it does, the requests of one RTT queue at the
// origin. Growing straight back after each cut did so every 4 to 5 RTTs, and the p99 during a
// 3x capacity drop was 2.2 times the p99 before it; holding for 20 RTTs makes it 1.8 times,
// at the same goodput, and capacity that comes back is still found within 0.3 s at a 10 ms
// service time (bench/overload.ts). 30 gained little more and took 1.5 s at 50 ms.
const HOLD_RTTS = 20

// The longest that hold lasts, in ms. At 50 ms answers, 20 RTTs held the limit for 1.2 s after
// a cut, and once capacity came back the limit took up to 1.4 s to follow it; with a 200 ms
// route in the mix, 2 s and 3.4 s (bench/overload.ts). 500 ms brings both within about 1 s.
const MAX_HOLD = 500

// The share of the limit a timeout or reset takes away (AIMD's 0.9 backoff ratio).
const DROP_DECREASE = 0.1

// How long the baselines may stop learning, in baseline windows: an origin whose answers have
// taken longer for that long has a new normal (a slower release, heavier requests).
const FREEZE_LIMIT = 3

// Weight of each calm round in the spread of log ratios.
const SPREAD_WEIGHT = 0.1

// The most answers a round needs, however spread they are.
const MAX_ROUND_SAMPLES = 100

// The share of a round's time the process was busy, at or above which the round's answers are
// taken to have waited on the process itself. A client that parses 64 KiB bodies at 10,000 a
// second (150 in flight, bench/busy-client.ts) is busy 99-100% of every round and its RTTs
// grow with its own backlog; its old-space collections (one every 60-80 ms, 3-11 ms each) push
// a round's answers to 2.5 times its baseline. Read as the origin's queue, those cut the limit
// to 5-20 and the client served 40% fewer calls. A loop that waits for slow answers is busy
// for a few percent.
const HOST_BUSY = 0.9

// The fewest answers a round averages. Answers of one origin differ (a fast 404, a cached hit, a
// body sent after quick headers): with 5, rounds of mostly fast answers set a baseline that made
// every ordinary round look like queueing, and the lab's slow-body scenario cut the limit to 1.
// 20 held it there, at a p99 during a 3x capacity drop of 2.0 times the p99 before (1.9 with 5).
const ROUND_SAMPLES = 20

/**
 * Latency-based AIMD, after Google's Swift (SIGCOMM 2020), which runs AIMD on delay instead of
 * loss; the default limit. It judges rounds: at least one RTT, and enough answers for their
 * spread (20 to 100). Each answer is measured against its route's baseline (`RouteBaselines`:
 * the geometric mean of that route's calm answers), so a mix of fast and slow routes is not
 * mistaken for a queue. A round's signal is the geometric mean of its answers' ratios to their
 * baselines, weighted by the baselines. Above `tolerance`, requests are queueing at the origin,
 * and the limit is cut in proportion to the excess: by `beta × (signal − tolerance) / signal`,
 * at most `maxDecrease`, and held for 20 RTTs or 500 ms. At or below it, the limit grows by a
 * tenth per round within 2 s of a cut and by half after, as long as it is in use. A limit far
 * from use (fewer than half its places taken) is neither grown nor cut. The baselines learn only
 * calm rounds (a signal of at most √tolerance). A timeout or reset takes a tenth off, once per
 * RTT; a 429 or 503 is left to adaptive throttling.
 *
 * It **starts** faster than TCP does: until its first round is judged, an answer that comes back
 * while calls wait for a place raises the limit to the demand it saw (in flight plus waiting),
 * so a cold client at 1,000 calls/s × 170 ms has its 175 places after one RTT rather than after
 * the doublings of a slow start, during which its queue grew past the deadline
 * (`bench/endpoints.ts`).
 *
 * It answers what a loss-based limit cannot see: an origin that queues instead of shedding.
 * Netflix's Gradient2 and Vegas aim at the same thing; in `bench/overload.ts` the first let its
 * moving-average baseline drift up under overload, and the second's minimum-based queue estimate
 * was biased by service-time jitter. What each part earns is in `docs/concurrency.md`.
 */
export class DelayLimit implements LimitAlgorithm {
  readonly #options: Readonly<Required<DelayOptions>>
  readonly #routes: RouteBaselines
  readonly #logTolerance: number
  #estimate: number
  // Until the first round is judged (or a drop), the limit may jump to the demand it sees.
  #starting = true
  #lastDecrease = -Infinity
  #lastDrop = -Infinity
  // The end of the last calm round: the baselines learn only calm rounds (at most √tolerance),
  // unless none has been for 3 × baselineWindow (the origin's new normal).
  #calmAt = 0
  // The spread of answers around their baselines: the mean square of their log ratios.
  #spread = 0
  // The round in progress: its start, length (the last round's mean RTT), and its samples.
  #roundStart = -Infinity
  #roundLength = 0
  #sum = 0
  #weightedLog = 0
  #weights = 0
  #squares = 0
  #count = 0
  #roundInFlight = 0
  // The process's idle time at the round's start, when there is a reader of it.
  #roundIdle: number | undefined

  constructor(options: Readonly<Required<DelayOptions>> = DEFAULT_DELAY) {
    optionsArgument('options', options, 'DelayOptions')
    options = { ...DEFAULT_DELAY, ...options }
    this.#options = options
    this.#routes = new RouteBaselines(options.baselineWindow)
    this.#logTolerance = Math.log(options.tolerance)
    this.#estimate = clamp(options.initialLimit, options.minLimit, options.maxLimit)
  }

  get limit(): number {
    // The cuts are fractions: 40 × (1 − 0.8 × 1.5 / 3) must be 24, not 23.999….
    return Math.floor(this.#estimate + 1e-9)
  }

  /** The baseline RTT of `route` at `now`, in ms (`Infinity` while it is new). */
  baseline(now: number, route = ''): number {
    return this.#routes.baseline(route, now)
  }

  update(sample: LimitSample, idle?: () => number): number {
    const { now, rtt, inFlight, dropped } = sample
    const o = this.#options
    if (!(rtt > 0) || sample.nack === true) return this.limit
    if (dropped) {
      // A timeout or a reset: a tenth off, once per RTT, as AIMD does on a loss. Harder cuts
      // halved the limit whenever a few slow attempts timed out (a GC pause, one slow worker),
      // and the queue shed calls the origin could have served. Its RTT is however long it
      // lasted before it failed, which measures nothing, so it joins no round, and it does not
      // hold growth back: latency does that.
      if (now - this.#lastDrop >= rtt) {
        this.#estimate = Math.max(o.minLimit, this.#estimate * (1 - DROP_DECREASE))
        this.#lastDrop = now
        this.#starting = false
      }
      return this.limit
    }
    const queued = sample.queued ?? 0
    if (this.#starting && queued > 0 && inFlight + queued > this.#estimate) {
      this.#estimate = Math.min(o.maxLimit, inFlight + queued)
    }
    const baseline = this.#routes.judge(sample.route ?? '', now, rtt)
    if (baseline === undefined) return this.limit
    const log = Math.log(rtt / baseline)
    this.#squares += baseline * log * log
    this.#sum += rtt
    this.#weightedLog += baseline * log
    this.#weights += baseline
    this.#count++
    if (inFlight > this.#roundInFlight) this.#roundInFlight = inFlight
    if (now - this.#roundStart < this.#roundLength || this.#count < this.#roundSamples()) {
      return this.limit
    }
    // A round ends about one RTT after it began. Its signal is how much longer than their
    // routes' baselines its answers took: the geometric mean of their ratios, weighted by the
    // baselines, so that a queue of 20 ms counts for what it adds to the origin's work (Little's
    // law), not 11-fold for a 2 ms route's answers. A geometric mean, because one slow answer
    // among 20 moves an arithmetic one past any target.
    const signal = Math.exp(this.#weightedLog / this.#weights)
    const mean = this.#sum / this.#count
    const used = !appLimited(this.#roundInFlight, this.#estimate)
    // A round during which the process was busy nearly throughout measured its own delay as much
    // as the origin's: it cuts nothing and teaches the baselines nothing (it may still grow).
    const idleNow = idle?.()
    const ownDelay = hostBusy(this.#roundIdle, idleNow, now - this.#roundStart) >= HOST_BUSY
    this.#roundIdle = idleNow
    const squares = this.#squares / this.#weights - (this.#weightedLog / this.#weights) ** 2
    this.#squares = 0
    this.#sum = 0
    this.#weightedLog = 0
    this.#weights = 0
    this.#count = 0
    this.#roundInFlight = 0
    this.#roundStart = now
    this.#roundLength = mean
    // The drift guard Netflix's Gradient2 lacks: while answers take longer than usual, the
    // baselines do not learn them, or a queue that lasts would become the new normal.
    const rising = ownDelay || signal > Math.sqrt(o.tolerance)
    if (!rising) this.#calmAt = now
    this.#routes.endRound(
      now,
      !rising || (!ownDelay && now - this.#calmAt >= FREEZE_LIMIT * o.baselineWindow),
    )
    // The first round judged has seen the demand: from now on the limit grows by rounds.
    this.#starting = false
    // The spread of answers at rest: a queue's own delay is not noise to average out.
    if (!rising) this.#spread += SPREAD_WEIGHT * (squares - this.#spread)
    // A limit far from use is not cut: what queues at the origin is not of its making, and a
    // cut it could not feel would only shed the next burst.
    if (signal > o.tolerance && used && !ownDelay) {
      const cut = Math.min(o.maxDecrease, (o.beta * (signal - o.tolerance)) / signal)
      this.#estimate = Math.max(o.minLimit, this.#estimate * (1 - cut))
      this.#lastDecrease = now
      this.#starting = false
    } else if (
      signal <= o.tolerance &&
      used &&
      now - this.#lastDecrease >= Math.min(HOLD_RTTS * mean, MAX_HOLD)
    ) {
      this.#estimate = Math.min(
        o.maxLimit,
        this.#estimate + growthPerRound(this.#estimate, now - this.#lastDecrease),
      )
    }
    return this.limit
  }

  // Answers a round needs for its mean to stand out from the spread of single answers: enough
  // that three standard errors fit within the tolerance. 20 for answers within ±20% of each
  // other; 100 (the most) for a lognormal of σ 0.75 at a tolerance of 1.25.
  #roundSamples(): number {
    const n = (9 * this.#spread) / (this.#logTolerance * this.#logTolerance)
    return Math.min(MAX_ROUND_SAMPLES, Math.max(ROUND_SAMPLES, Math.ceil(n)))
  }
}

/**
 * The share of `elapsed` ms the process was busy, from its idle time in total at both ends; 0
 * when either reading is missing (a clock without one) or the interval is empty.
 */
function hostBusy(idleBefore: number | undefined, idleNow: number | undefined, elapsed: number) {
  if (idleBefore === undefined || idleNow === undefined || !(elapsed > 0)) return 0
  return 1 - (idleNow - idleBefore) / elapsed
}
