import { execFile, execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { ErrorCodes } from '../../src/index.ts'
import { unsupportedNode } from '../../src/node-check.ts'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../..', import.meta.url))

describe('the Node version check', () => {
  it('names the Node it needs and the one it runs on', () => {
    expect(unsupportedNode('20.20.2')).toBe('netiquette needs Node 22.19 or later; this is 20.20.2')
    expect(unsupportedNode('22.18.0')).toMatch(/needs Node 22\.19 or later; this is 22\.18\.0$/)
    expect(ErrorCodes.UNSUPPORTED_NODE).toBe('NQ_UNSUPPORTED_NODE')
    for (const fine of ['22.19.0', '22.20.1', '24.21.0', '25.0.0']) {
      expect(unsupportedNode(fine)).toBeUndefined()
    }
  })

  // The machine's own Node (20 on a fresh machine: the dev dependencies bring 24 for the rest).
  const old = olderNode()
  it.skipIf(old === undefined)(
    'the built package fails at import and at require with that message on an older Node',
    async () => {
      expect(existsSync(`${root}/dist/index.js`), 'dist/ is missing: `npm test` builds it').toBe(
        true,
      )
      for (const code of [
        "import('netiquette').then(() => console.log('loaded'), (e) => console.log(e.code, e.message))",
        "try { require('netiquette'); console.log('loaded') } catch (e) { console.log(e.code, e.message) }",
        "import('netiquette/testing').then(() => console.log('loaded'), (e) => console.log(e.code, e.message))",
      ]) {
        const { stdout } = await run(old as string, ['-e', code], { cwd: root, timeout: 15_000 })
        expect(stdout.trim()).toMatch(
          /^NQ_UNSUPPORTED_NODE netiquette needs Node 22\.19 or later; this is 2[01]\.\d+\.\d+$/,
        )
      }
    },
  )
})

/** A `node` on the PATH older than 22.19 (the npm scripts put Node 24 first), if there is one. */
function olderNode(): string | undefined {
  for (const candidate of ['/usr/bin/node', '/usr/local/bin/node', '/bin/node']) {
    if (!existsSync(candidate)) continue
    const version = execFileSync(candidate, ['-p', 'process.versions.node']).toString().trim()
    if (unsupportedNode(version) !== undefined) return candidate
  }
  console.warn(
    'node-version.test: no Node older than 22.19 on this machine; the load check is skipped',
  )
  return undefined
}
