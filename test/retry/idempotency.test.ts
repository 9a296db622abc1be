import { afterEach, describe, expect, it, vi } from 'vitest'
import { idempotencyKeyFor } from '../../src/retry/idempotency.ts'

afterEach(() => {
  vi.restoreAllMocks()
})

// faults.md 42: CVE-2025-22150 was a multipart boundary from Math.random, guessable by a peer.
describe('idempotency keys', () => {
  it('are random v4 UUIDs from node:crypto, never from Math.random', () => {
    const random = vi.spyOn(Math, 'random')
    const keys = new Set(Array.from({ length: 1000 }, () => idempotencyKeyFor(true)))
    expect(keys.size).toBe(1000)
    for (const key of keys) {
      expect(key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    }
    expect(random).not.toHaveBeenCalled()
  })
})
