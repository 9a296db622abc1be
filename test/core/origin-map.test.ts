import { describe, expect, it } from 'vitest'
import { OriginMap } from '../../src/core/origin-map.ts'

function makeMap(maxOrigins: number, idleTimeout: number) {
  let now = 0
  const disposed: string[] = []
  const map = new OriginMap<{ origin: string }>({
    create: (origin) => ({ origin }),
    dispose: (_value, origin) => disposed.push(origin),
    maxOrigins,
    idleTimeout,
    now: () => now,
  })
  return { map, disposed, advance: (ms: number) => (now += ms) }
}

describe('OriginMap', () => {
  it('creates state once per origin', () => {
    const { map } = makeMap(10, 60_000)
    expect(map.get('http://a')).toBe(map.get('http://a'))
    expect(map.size).toBe(1)
  })

  it('evicts and disposes the least recently used origin past maxOrigins', () => {
    const { map, disposed } = makeMap(2, 60_000)
    map.get('http://a')
    map.get('http://b')
    map.get('http://a') // a is now the most recent
    map.get('http://c')
    expect(disposed).toEqual(['http://b'])
    expect([...map.entries()].map(([o]) => o)).toEqual(['http://a', 'http://c'])
  })

  it('stays bounded with 100k distinct origins', () => {
    const { map, disposed } = makeMap(1000, 60_000)
    for (let i = 0; i < 100_000; i++) map.get(`http://host-${i}`)
    expect(map.size).toBe(1000)
    expect(disposed).toHaveLength(99_000)
  })

  it('expires idle origins lazily, disposing them', () => {
    const { map, disposed, advance } = makeMap(10, 1000)
    map.get('http://idle')
    advance(500)
    map.get('http://busy')
    advance(600) // idle is 1100 ms old, busy 600 ms
    map.get('http://busy')
    expect(disposed).toEqual(['http://idle'])
    expect(map.peek('http://idle')).toBeUndefined()
  })

  it('clear() disposes everything', () => {
    const { map, disposed } = makeMap(10, 1000)
    map.get('http://a')
    map.get('http://b')
    map.clear()
    expect(map.size).toBe(0)
    expect(disposed.sort()).toEqual(['http://a', 'http://b'])
  })
})

describe('OriginState.recentCalls', () => {
  it('counts the calls of about the last 10 s, for a policy created late', async () => {
    const { OriginState } = await import('../../src/core/origin-state.ts')
    const state = new OriginState('http://o.test')
    for (let t = 0; t < 10_000; t += 100) state.noteCall(t) // 100 calls over 10 s
    expect(state.recentCalls(9_999)).toBe(100)
    expect(state.recentCalls(15_000)).toBe(50) // half of that bucket is older than 10 s
    expect(state.recentCalls(40_000)).toBe(0)
    expect(state.counters.calls).toBe(100)
  })
})
