import { describe, expect, it } from 'vitest'
import {
  ConnectHistory,
  DELAY_SAMPLES,
  MIN_SAMPLES,
  WINDOW,
} from '../../src/connections/connect-history.ts'
import { interleaveFamilies } from '../../src/connections/interleave-families.ts'

describe('ConnectHistory', () => {
  it('waits the initial delay until enough connects are known, then twice their p90', () => {
    const history = new ConnectHistory()
    for (let i = 0; i < DELAY_SAMPLES - 1; i++) history.record(5, false)
    expect(history.delay(250, 10, 2_000)).toBe(250)
    history.record(7, false)
    // Fewer than ten connects: the p90 is the slowest.
    expect(history.delay(250, 10, 2_000)).toBe(14)
    // Ten connects of 1..10 ms: p90 is 9 ms.
    const spread = new ConnectHistory()
    for (let ms = 1; ms <= 10; ms++) spread.record(ms, false)
    expect(spread.delay(250, 10, 2_000)).toBe(18)
  })

  it('keeps the delay within its floor and ceiling', () => {
    const fast = new ConnectHistory()
    const slow = new ConnectHistory()
    for (let i = 0; i < WINDOW; i++) {
      fast.record(0.1, false)
      slow.record(5_000, false)
    }
    expect(fast.delay(250, 10, 2_000)).toBe(10)
    expect(slow.delay(250, 10, 2_000)).toBe(2_000)
  })

  it('forgets connects older than its window', () => {
    const history = new ConnectHistory()
    for (let i = 0; i < WINDOW; i++) history.record(900, false)
    for (let i = 0; i < WINDOW; i++) history.record(1, false)
    expect(history.delay(250, 10, 2_000)).toBe(10)
  })

  it('learns the delay from connects that won, and the race share from every connect', () => {
    const history = new ConnectHistory()
    for (let i = 0; i < MIN_SAMPLES; i++) history.record(undefined, true)
    expect(history.mayRace(0.5)).toBe(false)
    // No time was learned from connects that failed.
    expect(history.delay(250, 10, 2_000)).toBe(250)
    expect(history.racedShare()).toBe(1)
  })

  it('stops racing once maxShare of recent connects needed a race, and resumes as the share falls', () => {
    const history = new ConnectHistory()
    expect(history.mayRace(0)).toBe(true) // nothing known yet
    for (let i = 0; i < 15; i++) history.record(1, false)
    for (let i = 0; i < 5; i++) history.record(1, true)
    expect(history.racedShare()).toBe(0.25)
    expect(history.mayRace(0.25)).toBe(false)
    expect(history.mayRace(0.3)).toBe(true)
    history.record(1, false)
    expect(history.mayRace(0.25)).toBe(true)
    // The window slides: WINDOW connects without a race, and the old races are gone.
    for (let i = 0; i < WINDOW; i++) history.record(1, false)
    expect(history.racedShare()).toBe(0)
  })
})

describe('interleaveFamilies (RFC 8305 section 4)', () => {
  const v6a = { address: '2001:db8::1', family: 6 }
  const v6b = { address: '2001:db8::2', family: 6 }
  const v6c = { address: '2001:db8::3', family: 6 }
  const v4a = { address: '192.0.2.1', family: 4 }
  const v4b = { address: '192.0.2.2', family: 4 }

  it('alternates the families, starting with the first address’s', () => {
    expect(interleaveFamilies([v6a, v6b, v6c, v4a, v4b])).toEqual([v6a, v4a, v6b, v4b, v6c])
    expect(interleaveFamilies([v4a, v4b, v6a])).toEqual([v4a, v6a, v4b])
  })

  it('keeps the resolver’s order within one family', () => {
    expect(interleaveFamilies([v4b, v4a])).toEqual([v4b, v4a])
    expect(interleaveFamilies([v6a])).toEqual([v6a])
    expect(interleaveFamilies([])).toEqual([])
  })
})
