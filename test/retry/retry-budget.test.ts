import { describe, expect, it } from 'vitest'
import { InvalidOptionError, RetryBudget } from '../../src/index.ts'

/** Takes every retry the budget allows at `now`, ending each as failed; returns how many. */
function drain(budget: RetryBudget, now: number): number {
  let n = 0
  while (budget.tryRetry(now)) {
    budget.retryEnded(now, true)
    n++
    if (n > 10_000) throw new Error('unbounded')
  }
  return n
}

describe('RetryBudget: the rate', () => {
  it('lets a client with no traffic make minRetriesPerSecond times the window in retries', () => {
    const budget = new RetryBudget()
    expect(drain(budget, 0)).toBe(10)
    expect(budget.stats).toMatchObject({ allowed: 10, refused: 1 })
  })

  it('allows ratio of the calls in the window on top of the floor', () => {
    const budget = new RetryBudget({ ratio: 0.1, minRetriesPerSecond: 0 })
    for (let i = 0; i < 1000; i++) budget.recordCall(i)
    expect(drain(budget, 1000)).toBe(100)
  })

  it('charges a retry only when it fails: one that succeeds is given back', () => {
    const budget = new RetryBudget({ ratio: 0, minRetriesPerSecond: 0.1 }) // 1 per 10 s
    for (let i = 0; i < 5; i++) {
      expect(budget.tryRetry(i)).toBe(true)
      budget.retryEnded(i, false)
    }
    expect(budget.tryRetry(10)).toBe(true)
    budget.retryEnded(10, true)
    expect(budget.tryRetry(11)).toBe(false)
  })

  it('reserves pending retries, so a burst cannot overdraw it', () => {
    const budget = new RetryBudget({ ratio: 0, minRetriesPerSecond: 0.3 }) // 3 per 10 s
    expect([1, 2, 3, 4].map(() => budget.tryRetry(0))).toEqual([true, true, true, false])
    expect(budget.stats.pending).toBe(3)
    budget.retryEnded(1, false)
    expect(budget.tryRetry(1)).toBe(true)
  })

  it('forgets failed retries and calls once they leave the window', () => {
    const budget = new RetryBudget({ ratio: 0.5, minRetriesPerSecond: 0 })
    for (let i = 0; i < 10; i++) budget.recordCall(0)
    expect(drain(budget, 0)).toBe(5)
    // Still within the window: nothing left.
    expect(budget.tryRetry(9_000)).toBe(false)
    // The calls have left too: with no calls, no retries.
    expect(budget.tryRetry(10_000)).toBe(false)
    for (let i = 0; i < 4; i++) budget.recordCall(10_000)
    expect(drain(budget, 10_000)).toBe(2)
  })
})

describe('RetryBudget: the in-flight floor', () => {
  it('lets minRetryConcurrency retries be on the wire when nothing else is', () => {
    const budget = new RetryBudget({ minRetriesPerSecond: 100, minRetryConcurrency: 3 })
    for (let i = 0; i < 3; i++) {
      expect(budget.tryRetry(0)).toBe(true)
      budget.attemptStarted(true)
    }
    expect(budget.tryRetry(0)).toBe(false)
    budget.attemptEnded(true)
    budget.retryEnded(0, false)
    expect(budget.tryRetry(0)).toBe(true)
  })

  it('raises the cap to the first attempts in flight, never above them', () => {
    const budget = new RetryBudget({ minRetriesPerSecond: 100, minRetryConcurrency: 3 })
    for (let i = 0; i < 5; i++) budget.attemptStarted(false)
    let sent = 0
    while (budget.tryRetry(0)) {
      budget.attemptStarted(true)
      sent++
    }
    expect(sent).toBe(5)
    expect(budget.stats).toMatchObject({ attemptsInFlight: 5, retriesInFlight: 5 })
  })

  it('counts retries waiting out their backoff against the cap, so the cap holds once they are sent', () => {
    const budget = new RetryBudget({ minRetriesPerSecond: 100, minRetryConcurrency: 3 })
    // Three retries allowed and all still sleeping: none is on the wire yet, but each will be.
    for (let i = 0; i < 3; i++) expect(budget.tryRetry(0)).toBe(true)
    expect(budget.stats).toMatchObject({ pending: 3, retriesInFlight: 0 })
    expect(budget.tryRetry(0)).toBe(false)
    // One ends (sent and answered, or aborted in its sleep): its place is free again.
    budget.retryEnded(0, false)
    expect(budget.tryRetry(0)).toBe(true)
  })
})

describe('RetryBudget options', () => {
  it.each([
    ['budget.ratio', { ratio: -0.1 }],
    ['budget.window', { window: 0 }],
    ['budget.minRetriesPerSecond', { minRetriesPerSecond: Number.NaN }],
    ['budget.minRetryConcurrency', { minRetryConcurrency: 1.5 }],
    ['budget.size', { size: 3 }],
  ])('rejects a bad %s', (option, options) => {
    expect(() => new RetryBudget(options as never)).toThrow(InvalidOptionError)
    try {
      new RetryBudget(options as never)
    } catch (error) {
      expect((error as InvalidOptionError).option).toBe(option)
    }
  })

  it('describes itself for a refusal', () => {
    const budget = new RetryBudget({ minRetriesPerSecond: 0.2 })
    drain(budget, 0)
    expect(budget.describe(0)).toBe(
      '2 failed and 0 pending retries of 2 allowed for 0 calls in 10 s; 0 of at most 10 pending at once',
    )
  })
})
