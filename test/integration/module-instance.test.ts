import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)
const fixture = fileURLToPath(new URL('./fixtures/dual-consumer.cjs', import.meta.url))
const built = fileURLToPath(new URL('../../dist/index.cjs', import.meta.url))

// The built package, loaded by name (the package's own exports), as a user's app loads it.
describe('require and import in one process', () => {
  it('share one module instance: a deadline scope and error classes cross between them', async () => {
    expect(
      existsSync(built),
      'dist/ is missing: `npm test` builds it (or run `npm run build`)',
    ).toBe(true)
    const { stdout } = await run(process.execPath, [fixture], { timeout: 15_000 })
    const seen = JSON.parse(stdout) as {
      elapsed: number
      code: string
      instanceofEsm: boolean
      instanceofCjs: boolean
      sameClass: boolean
    }
    expect(seen.sameClass).toBe(true)
    expect(seen.code).toBe('NQ_DEADLINE_EXCEEDED')
    // The 300 ms scope, not the client's 5 s deadline (generous: a loaded machine).
    expect(seen.elapsed).toBeLessThan(2_500)
    expect(seen.instanceofEsm).toBe(true)
    expect(seen.instanceofCjs).toBe(true)
  })
})
