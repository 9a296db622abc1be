// Where the default stack's CPU goes on a warm pool: a V8 CPU profile of netiquette's client
// sending a tiny GET at 32 in flight to nginx (or bench/server.ts without it, or over HTTP/2 with
// --h2), grouped by source file, as a share of the client process's time and in µs per request.
// It answers "what does this layer cost per request" by attribution, where an A/B of two trees is
// lost in the run-to-run noise of a few percent: a layer with no sample is not on the path.
//
//   node bench/profile.ts                  # 2 s warm-up, then 5 s profiled
//   node bench/profile.ts --h2 --seconds 8 --top 30
import { Session } from 'node:inspector/promises'
import { parseArgs } from 'node:util'
import { createClient } from '../src/index.ts'
import { describeMachine, startNginx, startNodeServer, type Origin } from './harness.ts'

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    top: { type: 'string', default: '25' },
    h2: { type: 'boolean', default: false },
  },
})
const seconds = Number(args.seconds)
const top = Number(args.top)
if (!(seconds > 0)) throw new Error('--seconds must be a positive number')
if (!Number.isInteger(top) || top < 1) throw new Error('--top must be a positive integer')

const IN_FLIGHT = 32
const origin: Origin = args.h2
  ? await startNodeServer(false, true)
  : ((await startNginx(false)) ?? (await startNodeServer(false)))
const client = createClient({
  origin: origin.url,
  ...(origin.ca === undefined ? {} : { agent: { connect: { ca: origin.ca } } }),
})

async function run(ms: number): Promise<number> {
  const end = performance.now() + ms
  let done = 0
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < end) {
        const res = await client.request('/tiny')
        await res.body.text()
        done++
      }
    }),
  )
  return done
}

interface ProfileNode {
  id: number
  callFrame: { url: string; functionName: string }
}

/** A frame's group: our source file, undici, Node's own code, or V8's pseudo-frames. */
function groupOf(node: ProfileNode): string {
  const { url, functionName } = node.callFrame
  if (url === '') return `(${functionName})`
  const ours = url.indexOf('/src/')
  if (ours >= 0 && !url.includes('node_modules')) return url.slice(ours + 1)
  if (url.includes('/undici/')) return 'undici'
  if (url.startsWith('node:')) return 'node'
  return url
}

await run(2_000)
const session = new Session()
session.connect()
await session.post('Profiler.enable')
await session.post('Profiler.setSamplingInterval', { interval: 100 })
await session.post('Profiler.start')
const requests = await run(seconds * 1_000)
const { profile } = await session.post('Profiler.stop')
session.disconnect()
await client.close()
origin.stop()

const nodes = new Map((profile.nodes as ProfileNode[]).map((node) => [node.id, node]))
const byGroup = new Map<string, number>()
let total = 0
profile.samples!.forEach((id, i) => {
  const dt = profile.timeDeltas![i] ?? 0
  const group = groupOf(nodes.get(id)!)
  byGroup.set(group, (byGroup.get(group) ?? 0) + dt)
  total += dt
})
const rows = [...byGroup].sort((a, b) => b[1] - a[1])
const folder = (prefix: string) =>
  rows.filter(([group]) => group.startsWith(prefix)).reduce((sum, [, t]) => sum + t, 0)

console.log(describeMachine())
console.log(
  `${origin.kind}${args.h2 ? ', HTTP/2' : ''}, ${IN_FLIGHT} in flight, ${requests} requests in ` +
    `${seconds} s (${((seconds * 1e6) / requests).toFixed(1)} µs of wall time each)\n`,
)
console.log('  share   µs/request  where')
for (const [group, t] of rows.slice(0, top)) {
  console.log(
    `${((100 * t) / total).toFixed(2).padStart(6)} %  ${(t / requests).toFixed(3).padStart(9)}  ${group}`,
  )
}
console.log('\nBy folder of src/:')
for (const name of [
  'core',
  'connections',
  'concurrency',
  'timeouts',
  'retry',
  'breaker',
  'throttle',
]) {
  const t = folder(`src/${name}/`)
  console.log(
    `${((100 * t) / total).toFixed(3).padStart(7)} %  ${(t / requests).toFixed(3).padStart(9)}  src/${name}/`,
  )
}
