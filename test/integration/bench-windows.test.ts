// The throughput benchmarks run each window in a process of their own (bench/harness.ts,
// windowInChild): a short run of each, so that a change that breaks the child's side (its
// arguments, a variant that cannot be made alone, a library loaded only in its own variant)
// fails here rather than in the next person's measurement.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const execFileAsync = promisify(execFile)
const SHORT = ['--rounds', '1', '--window', '150', '--warmup', '100', '--only', 'tiny', '--json']

async function run(script: string, extra: string[]): Promise<string> {
  const path = fileURLToPath(new URL(`../../bench/${script}`, import.meta.url))
  const { stdout } = await execFileAsync(process.execPath, [path, ...SHORT, ...extra], {
    timeout: 150_000,
    maxBuffer: 16 * 1024 * 1024,
  })
  return stdout
}

interface Row {
  variant: string
  rps: number
  success: number
}

describe('the throughput benchmarks, one process per window', () => {
  it('bench/overhead.ts measures every variant', async () => {
    const results = JSON.parse(await run('overhead.ts', ['--server', 'node'])) as Record<
      string,
      { rows: Row[] }
    >
    const rows = Object.values(results)[0]!.rows
    expect(rows.map((r) => r.variant)).toEqual([
      'undici.request',
      'netiquette',
      'netiquette, no policies',
      'netiquette, endpoints',
      'undici fetch',
      'netiquette fetch',
      'global fetch',
      'global fetch, dispatcher',
    ])
    for (const row of rows) {
      expect(row.rps, row.variant).toBeGreaterThan(0)
      expect(row.success, row.variant).toBe(1)
    }
  }, 180_000)

  it('bench/peers.ts measures every library, each loaded in its own process', async () => {
    const out = JSON.parse(await run('peers.ts', [])) as {
      results: Record<string, { rows: Row[] }>
    }
    const rows = Object.values(out.results)[0]!.rows
    expect(rows).toHaveLength(8)
    for (const row of rows) {
      expect(row.rps, row.variant).toBeGreaterThan(0)
      expect(row.success, row.variant).toBe(1)
    }
  }, 180_000)
})
