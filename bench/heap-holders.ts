// What a call in flight holds, object by object: `bench/memory.ts` says how many bytes, this says
// which objects and who holds them. Each variant (bare undici.request, netiquette's default
// client) holds `--calls` calls against a server that never answers, in a process of its own, and
// writes a heap snapshot; the two snapshots are then grouped, and the difference printed per call:
// by kind of object, then by object shape and holder (a plain object by its property names, an
// array by the property that holds it). Method: docs/performance.md.
//
//   npm run bench:heap-holders
//   npm run bench:heap-holders -- --calls 4000 --top 60
//   npm run bench:heap-holders -- --compare netiquette,client.dispatcher   # the face over the client
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { writeHeapSnapshot } from 'node:v8'
import { Agent, request } from 'undici'
import { createClient } from '../src/index.ts'
import { describeMachine, startNodeServer } from './harness.ts'

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '2000' },
    top: { type: 'string', default: '40' },
    variant: { type: 'string' },
    out: { type: 'string' },
    // Two of undici.request, netiquette and client.dispatcher: the second minus the first.
    compare: { type: 'string', default: 'undici.request,netiquette' },
  },
})
const VARIANTS = ['undici.request', 'netiquette', 'client.dispatcher']
const compared = args.compare.split(',')
if (compared.length !== 2 || compared.some((name) => !VARIANTS.includes(name))) {
  throw new Error(`--compare takes two of ${VARIANTS.join(', ')}, as a,b; got ${args.compare}`)
}
const calls = Number(args.calls)
const top = Number(args.top)
if (!Number.isInteger(calls) || calls < 1) throw new Error('--calls must be a positive integer')
if (!Number.isInteger(top) || top < 1) throw new Error('--top must be a positive integer')

/** One variant in this process: holds the calls, then writes the snapshot to `out`. */
async function hold(name: string, origin: string, out: string): Promise<void> {
  let send: (path: string) => Promise<unknown>
  if (name === 'undici.request') {
    const agent = new Agent({ connections: calls + 10 })
    send = async (path) => (await request(origin + path, { dispatcher: agent })).body.arrayBuffer()
  } else {
    // As bench/memory.ts: every call on a connection of its own, as bare undici's.
    const client = createClient({
      origin,
      agent: { connections: calls + 10, totalConnections: calls + 10 },
      concurrency: { limit: calls + 10 },
      deadline: 600_000,
    })
    send =
      name === 'client.dispatcher'
        ? async (path) =>
            (await request(origin + path, { dispatcher: client.dispatcher })).body.arrayBuffer()
        : async (path) => (await client.request(path)).body.arrayBuffer()
  }
  const control = new Agent()
  const stalled = async () =>
    Number(await (await request(`${origin}/stalled`, { dispatcher: control })).body.text())
  for (let i = 0; i < 200; i++) await send('/tiny')
  const before = await stalled()
  for (let i = 0; i < calls; i++) send('/stall').catch(() => undefined)
  for (let i = 0; (await stalled()) < before + calls; i++) {
    if (i > 600) throw new Error(`only ${(await stalled()) - before} of ${calls} calls arrived`)
    await delay(50)
  }
  writeHeapSnapshot(out)
}

interface Snapshot {
  snapshot: {
    meta: {
      node_fields: string[]
      node_types: [string[]]
      edge_fields: string[]
      edge_types: [string[]]
    }
  }
  nodes: number[]
  edges: number[]
  strings: string[]
}

/** Count and bytes per key, for both groupings. */
type Groups = Map<string, [count: number, bytes: number]>

/** Groups a snapshot's objects by kind, and by shape and holder. */
function group(file: string): { kinds: Groups; holders: Groups } {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot
  const { meta } = s.snapshot
  const nodeFields = meta.node_fields.length
  const edgeFields = meta.edge_fields.length
  const [types] = meta.node_types
  const [edgeTypes] = meta.edge_types
  const { nodes, edges, strings } = s
  const count = nodes.length / nodeFields
  // Who holds each node through a named property, and whose elements store each array is.
  const holder = new Array<string | undefined>(count)
  const elementsOf = new Array<number | undefined>(count)
  const properties: string[][] = []
  for (let n = 0, e = 0; n < count; n++) {
    const at = n * nodeFields
    const props: string[] = []
    for (let k = 0; k < (nodes[at + 4] as number); k++, e += edgeFields) {
      const type = edgeTypes[edges[e] as number]
      const name = strings[edges[e + 1] as number] as string
      const to = (edges[e + 2] as number) / nodeFields
      if (type === 'property') {
        props.push(name)
        holder[to] = `${strings[nodes[at + 1] as number]}.${name}`
      } else if (type === 'internal' && name === 'elements') {
        elementsOf[to] = n
      }
    }
    properties.push(props)
  }
  const kinds: Groups = new Map()
  const holders: Groups = new Map()
  const add = (groups: Groups, key: string, bytes: number) => {
    const entry = groups.get(key) ?? [0, 0]
    entry[0]++
    entry[1] += bytes
    groups.set(key, entry)
  }
  for (let n = 0; n < count; n++) {
    const at = n * nodeFields
    const type = types[nodes[at] as number] as string
    const name = strings[nodes[at + 1] as number] as string
    const bytes = nodes[at + 3] as number
    const plain = type === 'object' && (name === 'Object' || name === 'Array')
    add(kinds, plain || type === 'object' || type === 'closure' ? `${type} ${name}` : type, bytes)
    const owner = elementsOf[n]
    if (owner !== undefined) {
      add(holders, `elements of an array held by ${holder[owner] ?? '?'}`, bytes)
    } else if (plain) {
      const shape = (properties[n] as string[])
        .filter((p) => p !== '__proto__')
        .slice(0, 8)
        .join(',')
      add(holders, `${name}{${shape}} held by ${holder[n] ?? '?'}`, bytes)
    } else if (type === 'object' || type === 'closure') {
      add(holders, `${type} ${name} held by ${holder[n] ?? '?'}`, bytes)
    }
  }
  return { kinds, holders }
}

/** `ours` minus `bare`, per call, largest first; only keys with at least one object in 3 calls. */
function difference(bare: Groups, ours: Groups): [string, number, number][] {
  const keys = new Set([...bare.keys(), ...ours.keys()])
  return [...keys]
    .map((key): [string, number, number] => {
      const [bareCount, bareBytes] = bare.get(key) ?? [0, 0]
      const [ourCount, ourBytes] = ours.get(key) ?? [0, 0]
      return [key, (ourCount - bareCount) / calls, (ourBytes - bareBytes) / calls]
    })
    .filter(([, count]) => Math.abs(count) >= 0.3)
    .sort((a, b) => b[2] - a[2])
}

function print(title: string, rows: [string, number, number][]): void {
  console.log(`\n${title}\n   B/call  objects/call  what`)
  for (const [key, count, bytes] of rows.slice(0, top)) {
    console.log(`${bytes.toFixed(0).padStart(9)}  ${count.toFixed(2).padStart(12)}  ${key}`)
  }
}

if (args.variant !== undefined) {
  await hold(args.variant, process.env.NQ_BENCH_ORIGIN as string, args.out as string)
  process.exit(0)
}

const self = fileURLToPath(import.meta.url)
const dir = mkdtempSync(join(tmpdir(), 'nq-heap-'))
const server = await startNodeServer(false)
try {
  const files = compared.map((name) => {
    const out = join(dir, `${name}.heapsnapshot`)
    execFileSync(
      process.execPath,
      [self, '--variant', name, '--calls', String(calls), '--out', out],
      { env: { ...process.env, NQ_BENCH_ORIGIN: server.url }, stdio: 'inherit' },
    )
    return out
  })
  const [bare, ours] = files.map(group) as [ReturnType<typeof group>, ReturnType<typeof group>]
  console.log(describeMachine())
  console.log(
    `${calls} calls held open against a server that never answers; ${compared[1]} minus ${compared[0]}`,
  )
  const kinds = difference(bare.kinds, ours.kinds)
  const total = kinds.reduce((sum, [, , bytes]) => sum + bytes, 0)
  console.log(
    `about ${total.toFixed(0)} B per call more (code objects included; bench/memory.ts is the figure)`,
  )
  print('by kind', kinds)
  print('by shape and holder', difference(bare.holders, ours.holders))
} finally {
  server.stop()
  rmSync(dir, { recursive: true, force: true })
}
