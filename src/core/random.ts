import { finiteNumber } from './validate.ts'
/** A source of uniform random numbers in [0, 1), like `Math.random`. */
export type Random = () => number

/**
 * A small seeded generator (mulberry32): the same seed gives the same sequence, so a jittered
 * schedule or a fault script replays exactly. Not for secrets: keys and ids use `node:crypto`.
 */
export function seededRandom(seed: number): Random {
  finiteNumber('seed', seed)
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
