import { describe, expect, it } from 'vitest'
import type { CallRecord, ContenderRun, ScenarioRun } from '../../tools/lab/run-scenario.ts'
import { bucketWidth, quantile, recoveredAfter, summarize } from '../../tools/lab/summarize.ts'

const call = (
  start: number,
  latency: number,
  ok = true,
  label = ok ? '200' : '503',
): CallRecord => ({
  start,
  end: start + latency,
  ok,
  label,
})

function run(contenders: Omit<ContenderRun, 'samples'>[], duration = 2_000): ScenarioRun {
  const arrivals = contenders[0]?.calls.map((c) => c.start).sort((a, b) => a - b) ?? []
  return {
    scenario: 'outage',
    shape: { rate: 10, duration, seed: 1 },
    fault: { start: 400, end: 1_200 },
    arrivals,
    contenders: contenders.map((c) => ({ ...c, samples: [] })),
  }
}

describe('summarize', () => {
  it('counts amplification from the requests the origin received, and success however late', () => {
    const calls = [call(0, 10), call(500, 3_000), call(600, 20, false), call(1_500, 10)]
    const summary = summarize(
      run([{ name: 'naive', calls, attempts: [0, 500, 600, 650, 700, 1_500] }]),
      1_000,
    )
    const naive = summary.contenders[0]
    expect(naive?.offered).toBe(4)
    expect(naive?.attempts).toBe(6)
    expect(naive?.amplification).toBe(1.5)
    expect(naive?.successRate).toBe(0.75)
    // Goodput leaves out the call that took 3 s: 2 good calls over the 2 s run.
    expect(naive?.goodput).toBe(1)
    // The fault window (400 to 1200 ms) holds two calls and four attempts.
    expect(naive?.fault).toMatchObject({
      offered: 2,
      attempts: 4,
      amplification: 2,
      successRate: 0.5,
    })
    expect(naive?.outcomes).toEqual({ '200': 3, '503': 1 })
    // The series reach the end of the slowest call, 3.5 s, in 100 ms buckets.
    expect(summary.bucket).toBe(100)
    expect(summary.horizon).toBe(3_500)
    expect(naive?.series.attempts).toHaveLength(35)
    expect(naive?.series.attempts[6]).toBe(20) // 600 and 650 ms: two in 100 ms, 20/s
    expect(naive?.series.attempts[7]).toBe(10)
    expect(naive?.series.goodput[0]).toBe(10)
    expect(naive?.series.p99[5]).toBe(3_000)
    expect(naive?.series.p99[1]).toBeNull()
  })

  it('takes p50 and p99 over every call, failed ones too', () => {
    const calls = Array.from({ length: 100 }, (_, i) => call(i * 10, i + 1, i % 2 === 0))
    const summary = summarize(run([{ name: 'netiquette', calls, attempts: [] }]), 1_000)
    expect(summary.contenders[0]?.p50).toBe(50)
    expect(summary.contenders[0]?.p99).toBe(99)
  })
})

describe('recoveredAfter', () => {
  const good = (c: CallRecord) => c.ok
  const bucketOf = (...oks: boolean[]) => oks.map((ok) => call(0, 1, ok))

  it('is the start of the first bucket from which every bucket is 90% good, after the fault', () => {
    const due = [bucketOf(false), bucketOf(false), bucketOf(true), bucketOf(true)]
    expect(recoveredAfter(due, 100, 100, good)).toBe(100)
  })

  it('starts again when a later bucket falls back below 90%', () => {
    const due = [
      bucketOf(true),
      bucketOf(false, ...Array(9).fill(true)),
      bucketOf(false, true),
      bucketOf(true),
    ]
    expect(recoveredAfter(due, 100, 0, good)).toBe(300)
  })

  it('is null when the last bucket is not good, and 0 when nothing went wrong', () => {
    expect(recoveredAfter([bucketOf(true), bucketOf(false)], 100, 0, good)).toBeNull()
    expect(recoveredAfter([bucketOf(true), [], bucketOf(true)], 100, 0, good)).toBe(0)
  })

  it('measures from the end of the fault, not from the bucket boundary before it', () => {
    expect(recoveredAfter([bucketOf(false), bucketOf(true)], 100, 50, good)).toBe(50)
  })
})

describe('quantile and bucketWidth', () => {
  it('takes the nearest rank', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2)
    expect(quantile([1, 2, 3, 4], 0.99)).toBe(4)
    expect(quantile([], 0.5)).toBeNaN()
  })

  it('gives about 20 buckets, 100 ms to 1 s', () => {
    expect(bucketWidth(10_000)).toBe(500)
    expect(bucketWidth(2_000)).toBe(100)
    expect(bucketWidth(600_000)).toBe(1_000)
  })
})
