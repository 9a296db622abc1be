// `npm run bench`: the overhead benchmark (arguments go to it), heap per call in flight, the
// peers, then the resilience, overload, partial-failure, hedging and endpoints figures (`--json`
// goes to all).
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const args = process.argv.slice(2)
const runs: [string, string[]][] = [
  ['overhead.ts', args],
  ['memory.ts', args.includes('--json') ? ['--json'] : []],
  ['peers.ts', args.includes('--json') ? ['--json'] : []],
  ['resilience.ts', args.includes('--json') ? ['--json'] : []],
  ['overload.ts', args.includes('--json') ? ['--json'] : []],
  ['partial-failure.ts', args.includes('--json') ? ['--json'] : []],
  ['hedging.ts', args.includes('--json') ? ['--json'] : []],
  ['endpoints.ts', args.includes('--json') ? ['--json'] : []],
]
for (const [script, scriptArgs] of runs) {
  const path = fileURLToPath(new URL(script, import.meta.url))
  const { status } = spawnSync(process.execPath, [path, ...scriptArgs], { stdio: 'inherit' })
  if (status !== 0) process.exit(status ?? 1)
}
