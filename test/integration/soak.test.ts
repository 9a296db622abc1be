// faults.md items 43-46 and 48, the short version of `node --expose-gc bench/soak.ts` (50,000
// calls). In a fresh process with --expose-gc: the test runner's own heap and handles would hide
// a leak here.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'
import type { SoakResult } from '../../bench/soak.ts'

const execFileAsync = promisify(execFile)
const KiB = 1024
let result: SoakResult

beforeAll(async () => {
  const soak = fileURLToPath(new URL('../../bench/soak.ts', import.meta.url))
  const { stdout } = await execFileAsync(
    process.execPath,
    ['--expose-gc', soak, '--calls', '6000', '--tls', '1000', '--json'],
    { timeout: 150_000, maxBuffer: 16 * 1024 * 1024 },
  )
  result = JSON.parse(stdout.trim().split('\n').at(-1) as string) as SoakResult
}, 180_000)

describe('a soak of 6,000 mixed calls (ok, 503, resets, timeouts, aborts in flight and queued)', () => {
  it('went through every kind of ending, with typed errors only, and nothing escaped', () => {
    // A reset reads as ECONNRESET or, when the close wins the race, UND_ERR_SOCKET (Node 22).
    const endings = Object.keys(result.outcomes)
    for (const ending of ['200', 'NQ_ABORTED', 'NQ_ATTEMPT_TIMEOUT']) {
      expect(endings).toContain(ending)
    }
    expect(endings.some((e) => e === 'ECONNRESET' || e === 'UND_ERR_SOCKET')).toBe(true)
    const expected = [
      '200',
      '503',
      'ECONNRESET',
      'UND_ERR_SOCKET',
      'NQ_ABORTED',
      'NQ_ATTEMPT_TIMEOUT',
    ]
    expect(endings.filter((e) => !expected.includes(e))).toEqual([])
    expect(Object.values(result.outcomes).reduce((a, b) => a + b, 0)).toBe(6000)
    expect(result.untyped).toEqual([])
    expect(result.escaped).toEqual([])
    // MaxListenersExceededWarning among them: one signal was shared by thousands of calls.
    expect(result.warnings).toEqual([])
  })

  // The heap of objects: heapUsed less compiled code, which grows with the JIT's warm-up (about
  // 1 MB over these calls on Node 22, released later) and is not the client's.
  it('keeps the heap of objects after gc() flat once warm: under 1 MiB over the last 4,800 calls', () => {
    const [, ...warm] = result.heapSteps
    expect(warm.reduce((a, b) => a + b, 0)).toBeLessThan(1024 * KiB)
  })

  it('leaves no listener on the long-lived signal every call shared', () => {
    expect(result.signalListeners).toBe(0)
  })

  it('leaves no timer or socket after close()', () => {
    expect(result.leftAfterClose).toEqual([])
  })
})

describe('repeated TLS handshake failures', () => {
  it('add no more than 768 KiB over what Node keeps for as many bare tls.connect failures', () => {
    expect(result.tlsFailures).toBeGreaterThanOrEqual(1000)
    expect(result.tlsHeapGrowth - result.tlsNodeHeapGrowth).toBeLessThan(768 * KiB)
  })
})

describe('destroy() with backoffs pending and calls queued', () => {
  it('rejects every call with ClientClosedError, leaves no timer, and the client is collected', () => {
    expect(result.destroy.rejections).toEqual({ NQ_CLIENT_CLOSED: 22 })
    expect(result.destroy.leftAfter).toEqual([])
    expect(result.destroy.collected).toBe(true)
  })
})
