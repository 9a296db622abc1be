import type { CircuitState } from '../../src/index.ts'
import type { ContenderName, PolicyTotals } from './contenders.ts'
import type { CallRecord, ContenderRun, ScenarioRun } from './run-scenario.ts'

/** Numbers over a set of calls. */
export interface CallFigures {
  /** Calls due. */
  offered: number
  /** Requests the origin received while they were due (first attempts and retries). */
  attempts: number
  /** `attempts / offered`: 1 means no extra load; 4 means every call cost four requests. */
  amplification: number
  /** Share of calls that got a 2xx with its whole body, however late. */
  successRate: number
  /** Latency of all calls, failed ones too, from when they were due until they ended, in ms. */
  p50: number
  p99: number
}

/** Per-bucket time series of one contender; index i covers `[i * bucket, (i + 1) * bucket)`. */
export interface ContenderSeries {
  /** Requests reaching the origin, per second. */
  attempts: number[]
  /** Calls that ended in the bucket successfully and within the objective, per second. */
  goodput: number[]
  /** p99 latency of the calls due in the bucket, in ms; `null` when none was. */
  p99: (number | null)[]
  /** Most calls in flight at once during the bucket. */
  inFlight: number[]
}

/** What one contender did in one scenario. */
export interface ContenderSummary extends CallFigures {
  contender: ContenderName
  /** Calls that succeeded within the objective, per second of the run. */
  goodput: number
  /**
   * From the end of the fault until calls were good again (succeeded within the objective, at
   * least 90% of those due in each bucket, in every bucket to the end), in ms; `null` if that
   * never happened before the run ended.
   */
  recoveredAfter: number | null
  /** Calls still in flight when the run ended; they count as failed. */
  unfinished: number
  /** How calls ended: status or error code, and how many. */
  outcomes: Record<string, number>
  /** The same figures for the calls due during the fault. */
  fault: CallFigures
  series: ContenderSeries
  /** netiquette only: retries its budget allowed and refused, attempts it shed. */
  policy?: PolicyTotals
}

/** netiquette's policy state at one moment. */
export interface PolicyPoint {
  /** ms since the start. */
  t: number
  limit: number | null
  queued: number
  circuit: CircuitState | null
}

/** A run reduced to what the tables and charts show. */
export interface ScenarioSummary {
  /** Bucket width of the series, in ms. */
  bucket: number
  /** How far the series reach: the run and the wait for its last calls, in ms. */
  horizon: number
  /** Calls due per second, per bucket. */
  offered: number[]
  contenders: ContenderSummary[]
  /** netiquette's limit, queue length and circuit state over time. */
  policy: PolicyPoint[]
}

/** The share of the calls due in a bucket that must be good for it to count as recovered. */
export const RECOVERED_SHARE = 0.9

/** A bucket width giving about 20 points over the run: 100 ms to 1 s, in steps of 50 ms. */
export function bucketWidth(duration: number): number {
  return Math.min(1_000, Math.max(100, Math.round(duration / 20 / 50) * 50))
}

/** The value at quantile `q` of ascending `sorted` (nearest rank); NaN when it is empty. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] as number
}

/** Reduces a run: figures per contender, series per bucket, and netiquette's policy state. */
export function summarize(run: ScenarioRun, objective: number): ScenarioSummary {
  const { duration } = run.shape
  const bucket = bucketWidth(duration)
  let horizon = duration
  for (const contender of run.contenders) {
    for (const call of contender.calls) horizon = Math.max(horizon, call.end)
  }
  horizon = Math.ceil(horizon / bucket) * bucket
  const buckets = horizon / bucket
  const perSecond = 1000 / bucket
  const offered = new Array<number>(buckets).fill(0)
  for (const t of run.arrivals) offered[Math.floor(t / bucket)]! += perSecond

  const netiquette = run.contenders.find((c) => c.name === 'netiquette')
  const policy = (netiquette?.samples ?? []).map((s) => ({
    t: s.t,
    limit: s.limit ?? null,
    queued: s.queued ?? 0,
    circuit: s.circuit ?? null,
  }))
  return {
    bucket,
    horizon,
    offered,
    contenders: run.contenders.map((c) => summarizeContender(run, c, objective, bucket, buckets)),
    policy,
  }
}

function summarizeContender(
  run: ScenarioRun,
  contender: ContenderRun,
  objective: number,
  bucket: number,
  buckets: number,
): ContenderSummary {
  const { fault } = run
  const { calls, attempts } = contender
  const good = (call: CallRecord) => call.ok && call.end - call.start <= objective
  const outcomes: Record<string, number> = {}
  for (const call of calls) outcomes[call.label] = (outcomes[call.label] ?? 0) + 1

  const perSecond = 1000 / bucket
  const attemptRate = new Array<number>(buckets).fill(0)
  for (const t of attempts) attemptRate[Math.min(buckets - 1, Math.floor(t / bucket))]! += perSecond
  const goodput = new Array<number>(buckets).fill(0)
  const due: CallRecord[][] = Array.from({ length: buckets }, () => [])
  for (const call of calls) {
    if (good(call)) goodput[Math.min(buckets - 1, Math.floor(call.end / bucket))]! += perSecond
    due[Math.floor(call.start / bucket)]!.push(call)
  }
  const inFlight = new Array<number>(buckets).fill(0)
  for (const s of contender.samples) {
    const i = Math.min(buckets - 1, Math.floor(s.t / bucket))
    inFlight[i] = Math.max(inFlight[i] as number, s.inFlight)
  }

  const inFault = (t: number) => t >= fault.start && t < fault.end
  return {
    contender: contender.name,
    ...figures(calls, attempts.length),
    goodput: (calls.filter(good).length * 1000) / run.shape.duration,
    recoveredAfter: recoveredAfter(due, bucket, fault.end, good),
    unfinished: outcomes.unfinished ?? 0,
    outcomes,
    fault: figures(
      calls.filter((call) => inFault(call.start)),
      attempts.filter(inFault).length,
    ),
    series: {
      attempts: attemptRate,
      goodput,
      p99: due.map((list) => (list.length === 0 ? null : quantile(latencies(list), 0.99))),
      inFlight,
    },
    ...(contender.totals === undefined ? {} : { policy: contender.totals }),
  }
}

function figures(calls: readonly CallRecord[], attempts: number): CallFigures {
  const sorted = latencies(calls)
  const offered = calls.length
  return {
    offered,
    attempts,
    amplification: offered === 0 ? NaN : attempts / offered,
    successRate: offered === 0 ? NaN : calls.filter((call) => call.ok).length / offered,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
  }
}

function latencies(calls: readonly CallRecord[]): number[] {
  return calls.map((call) => call.end - call.start).sort((a, b) => a - b)
}

/**
 * The start of the first bucket, at or after `faultEnd`, from which every bucket's due calls were
 * at least {@link RECOVERED_SHARE} good, less `faultEnd`; `null` if the last bucket was not.
 * Buckets with no calls due do not count either way.
 */
export function recoveredAfter(
  due: readonly (readonly CallRecord[])[],
  bucket: number,
  faultEnd: number,
  good: (call: CallRecord) => boolean,
): number | null {
  const first = Math.ceil(faultEnd / bucket)
  let recovered: number | null = null
  for (let i = first; i < due.length; i++) {
    const list = due[i] as readonly CallRecord[]
    if (list.length === 0) continue
    const share = list.filter(good).length / list.length
    if (share < RECOVERED_SHARE) recovered = null
    else recovered ??= i
  }
  return recovered === null ? null : recovered * bucket - faultEnd
}
