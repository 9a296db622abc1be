// Heap per call in flight: 10,000 calls held open against a server that never answers, heapUsed
// after gc() per call, for bare undici.request and for netiquette's default stack (its limiter
// raised so that every call is on the wire, and the Agent given a connection per call, as bare
// undici's is). Each variant runs in a fresh process, three times; the median is reported, and
// netiquette's figure minus bare undici's is what a call in flight costs on top. The sockets are
// in both figures alike. A third row holds the calls through `client.dispatcher` under
// `undici.request` (issue 37's native-face goal reads it against bare). Method:
// docs/performance.md.
//
//   npm run bench:memory
//   npm run bench:memory -- --calls 20000 --json
import { execFileSync } from 'node:child_process'
import { setTimeout as delay } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Agent, request } from 'undici'
import { createClient } from '../src/index.ts'
import { describeMachine, median, startNodeServer } from './harness.ts'

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
    variant: { type: 'string' },
  },
})
const calls = Number(args.calls)
const runs = Number(args.runs)
if (!Number.isInteger(calls) || calls < 1) throw new Error('--calls must be a positive integer')

declare const gc: (() => void) | undefined

async function heapAfterGc(): Promise<number> {
  if (typeof gc !== 'function') throw new Error('run with node --expose-gc')
  for (let i = 0; i < 3; i++) {
    gc()
    await delay(20)
  }
  return process.memoryUsage().heapUsed
}

interface Variant {
  send: (path: string) => Promise<unknown>
  close: () => Promise<void>
}

function make(name: string, origin: string): Variant {
  if (name === 'undici.request') {
    const agent = new Agent({ connections: calls + 10 })
    return {
      send: async (path) => {
        const res = await request(origin + path, { dispatcher: agent })
        await res.body.arrayBuffer()
      },
      close: () => agent.destroy(),
    }
  }
  const client = createClient({
    origin,
    // Every call on a connection of its own, as bare undici's: past the default cap of 512 too.
    agent: { connections: calls + 10, totalConnections: calls + 10 },
    concurrency: { limit: calls + 10 },
    deadline: 600_000,
  })
  // The dispatcher face under undici's own request API: what a call through
  // `{ dispatcher: client.dispatcher }` holds (undici.request's handler included, as in bare).
  if (name === 'client.dispatcher') {
    return {
      send: async (path) => {
        const res = await request(origin + path, { dispatcher: client.dispatcher })
        await res.body.arrayBuffer()
      },
      close: () => client.destroy(),
    }
  }
  return {
    send: async (path) => {
      const res = await client.request(path)
      await res.body.arrayBuffer()
    },
    close: () => client.destroy(),
  }
}

/** One variant in this process: heap per held call, in bytes. */
async function measure(name: string, origin: string): Promise<number> {
  const variant = make(name, origin)
  const control = new Agent()
  const stalled = async () =>
    Number(await (await request(`${origin}/stalled`, { dispatcher: control })).body.text())
  // Warm-up: code loaded and compiled, per-origin state created, a few connections used.
  for (let i = 0; i < 200; i++) await variant.send('/tiny')
  const before = await heapAfterGc()
  const held: Promise<unknown>[] = []
  // In steps, so that the server's accept queue never overflows.
  for (let sent = 0; sent < calls;) {
    const step = Math.min(500, calls - sent)
    for (let i = 0; i < step; i++) held.push(variant.send('/stall').catch(() => undefined))
    sent += step
    for (let i = 0; (await stalled()) < sent; i++) {
      if (i > 600) throw new Error(`only ${await stalled()} of ${sent} calls reached the server`)
      await delay(50)
    }
  }
  const during = await heapAfterGc()
  await variant.close()
  await Promise.all(held)
  await control.close()
  return (during - before) / calls
}

if (args.variant !== undefined) {
  const origin = process.env.NQ_BENCH_ORIGIN as string
  console.log(JSON.stringify(await measure(args.variant, origin)))
  process.exit(0)
}

const self = fileURLToPath(import.meta.url)
const server = await startNodeServer(false)
const perCall = new Map<string, number[]>([
  ['undici.request', []],
  ['netiquette', []],
  ['client.dispatcher', []],
])
try {
  for (let run = 0; run < runs; run++) {
    for (const name of perCall.keys()) {
      const out = execFileSync(
        process.execPath,
        ['--expose-gc', self, '--variant', name, '--calls', String(calls)],
        { encoding: 'utf8', env: { ...process.env, NQ_BENCH_ORIGIN: server.url } },
      )
      perCall.get(name)?.push(JSON.parse(out) as number)
    }
    if (!args.json) process.stderr.write(`\r  run ${run + 1}/${runs}`)
  }
} finally {
  server.stop()
}
if (!args.json) process.stderr.write('\n')
const bare = median(perCall.get('undici.request') as number[])
const ours = median(perCall.get('netiquette') as number[])
const face = median(perCall.get('client.dispatcher') as number[])
const result = { calls, runs, bare, netiquette: ours, extra: ours - bare, dispatcher: face }
if (args.json) {
  console.log(JSON.stringify({ machine: describeMachine(), ...result }, null, 2))
} else {
  console.log(describeMachine())
  console.log(`${calls} calls held open against a server that never answers, median of ${runs}`)
  console.log(`  undici.request   ${bare.toFixed(0).padStart(6)} B of heap per call in flight`)
  console.log(`  netiquette       ${ours.toFixed(0).padStart(6)} B`)
  console.log(`  extra            ${(ours - bare).toFixed(0).padStart(6)} B per call`)
  console.log(
    `  undici.request through client.dispatcher ${face.toFixed(0).padStart(6)} B (${(face - bare).toFixed(0)} B over bare)`,
  )
}
