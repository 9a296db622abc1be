import { describe, expect, it } from 'vitest'
import { main as demo } from '../examples/demo.ts'

// Examples are part of the docs: running them here keeps them from rotting.
describe('examples', () => {
  it('demo.ts runs and explains each call', async () => {
    const lines = await demo(() => {})
    const text = lines.join('\n')
    expect(text).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/charges\/42 got 200 after 1 attempt/)
    expect(text).toMatch(/got 200 after 2 attempts/)
    expect(text).toMatch(/#1 at \+[\d.]+ ms: 503 \[overload\].*-> retry/)
    expect(text).toMatch(/\/reset failed with (ECONNRESET|UND_ERR_SOCKET)/)
    expect(text).toContain('rejected with NQ_CROSS_ORIGIN, nothing sent')
    expect(text).toContain('The server saw 4 requests')
  })
})
