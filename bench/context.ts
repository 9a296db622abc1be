// What the opt-in async context (withDeadline, the server helpers) costs the rest of a process.
// On Node 22, AsyncLocalStorage runs on promise hooks: once any store has been entered, every
// promise in the process pays, inside a scope or not. On Node 24 (AsyncContextFrame) it does not.
//
// Each case runs in a fresh process (entering a store is global and sticky on Node 22), three
// times, and the median is reported in ns per `await` of an async function with three awaits.
//
//   npm run bench:context                       # on the Node that npm runs (24)
//   npx -p node@22 -c "node bench/context.ts"   # on Node 22
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { withDeadline } from '../src/index.ts'

const CASES = {
  'no store ever entered': 'plain',
  'a store entered once, elsewhere': 'entered-once',
  'inside withDeadline': 'scoped',
} as const
type Mode = (typeof CASES)[keyof typeof CASES]

const { values: args } = parseArgs({
  options: { mode: { type: 'string' }, ops: { type: 'string', default: '300000' } },
})
const ops = Number(args.ops)

async function leaf(): Promise<number> {
  return 1
}
async function work(): Promise<number> {
  return (await leaf()) + (await leaf()) + (await leaf())
}
async function loop(n: number): Promise<number> {
  let sum = 0
  for (let i = 0; i < n; i++) sum += await work()
  return sum
}

async function measure(mode: Mode): Promise<number> {
  if (mode === 'entered-once') withDeadline(1, () => undefined)
  const run = (n: number) => (mode === 'scoped' ? withDeadline(60_000, () => loop(n)) : loop(n))
  await run(ops / 10) // warm-up
  const start = process.hrtime.bigint()
  await run(ops)
  return Number(process.hrtime.bigint() - start) / ops
}

if (args.mode !== undefined) {
  console.log(await measure(args.mode as Mode))
} else {
  const self = fileURLToPath(import.meta.url)
  console.log(`Node ${process.version}, ${ops} calls of an async function with 3 awaits`)
  for (const [name, mode] of Object.entries(CASES)) {
    const runs = [0, 1, 2].map((): number =>
      Number(
        execFileSync(process.execPath, [self, '--mode', mode, '--ops', String(ops)], {
          encoding: 'utf8',
        }),
      ),
    )
    runs.sort((a, b) => a - b)
    console.log(`${name.padEnd(34)} ${(runs[1] as number).toFixed(0).padStart(5)} ns per call`)
  }
}
