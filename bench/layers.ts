// What each part of the stack costs, without a network: every variant runs over the same
// in-process dispatcher (it answers each dispatch with a 12-byte 200 through undici's own handler
// API), so the figures are the client's CPU alone, in ns and bytes
// allocated per call. Rows: bare `undici.request` (the baseline), a raw `dispatch` (the ceiling),
// netiquette with no policies (the transport, the attempt record and the response body), each
// default policy alone on top of that, the full default stack, and the fetch faces beside their
// own baselines. Method: docs/performance.md.
//
//   npm run bench:layers
//   node bench/layers.ts --rounds 15 --calls 40000 --json
//   node bench/layers.ts --collect-each     # a full collection before each timed batch
//   node --expose-gc bench/layers.ts --variant 9 --alloc-profile default.heapprofile
//
// Each variant runs in a process of its own (so one variant's JIT feedback and garbage do not
// land on another's figures), once per round, the order alternated each round; the median over
// rounds is reported. Allocation is heapUsed growth over a batch plus what each garbage
// collection during it freed, as V8's GC profiler reports them.
import { execFileSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { fileURLToPath } from 'node:url'
import { GCProfiler } from 'node:v8'
import { parseArgs } from 'node:util'
import { Dispatcher, fetch as undiciFetch, request } from 'undici'
import { createClient, type Client, type ClientOptions, type Middleware } from '../src/index.ts'
import { asGlobalFetchSees, describeMachine } from './harness.ts'

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    calls: { type: 'string', default: '20000' },
    warmup: { type: 'string', default: '40000' },
    // A full collection forced before each timed batch, as the table before issue 37's last
    // change was measured: each batch then starts in what follows a full collection, where the
    // default stack runs at 2-5x its steady cost for about 15,000 calls (docs/performance.md).
    'collect-each': { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '32' },
    json: { type: 'boolean', default: false },
    variant: { type: 'string' },
    'alloc-profile': { type: 'string' },
  },
})
const rounds = Number(args.rounds)
const calls = Number(args.calls)
const warmup = Number(args.warmup)
if (!Number.isInteger(warmup) || warmup < 0) throw new Error('--warmup must be an integer >= 0')
const concurrency = Number(args.concurrency)
declare const gc: (() => void) | undefined
const collect = () => {
  if (typeof gc !== 'function') throw new Error('run with node --expose-gc')
  gc()
}

const ORIGIN = 'http://bench.local'
const BODY = Buffer.from('hello world!')
const HEADERS = { 'content-type': 'text/plain', 'content-length': '12' }

/**
 * Answers every dispatch in-process: the network's part of a call costs nothing here. Answers go
 * out together from one `setImmediate`, as a poll of the event loop delivers the responses that
 * arrived meanwhile: answering on a microtask would never let the loop turn, and what waits for
 * it (stream cleanup, timers) would pile up and swamp the figures.
 */
class InProcessOrigin extends Dispatcher {
  #waiting: Dispatcher.DispatchHandler[] = []
  #scheduled = false
  readonly #answer = () => {
    this.#scheduled = false
    const waiting = this.#waiting
    this.#waiting = []
    for (const handler of waiting) {
      const controller = new Controller()
      handler.onRequestStart?.(controller, {})
      handler.onResponseStart?.(controller, 200, HEADERS, 'OK')
      handler.onResponseData?.(controller, BODY)
      handler.onResponseEnd?.(controller, {})
    }
  }

  override dispatch(
    _options: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
  ): boolean {
    this.#waiting.push(handler)
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(this.#answer)
    }
    return true
  }
  override close(): Promise<void> {
    return Promise.resolve()
  }
  override destroy(): Promise<void> {
    return Promise.resolve()
  }
}

class Controller implements Dispatcher.DispatchController {
  aborted = false
  paused = false
  reason: Error | null = null
  abort(reason: Error): void {
    this.aborted = true
    this.reason = reason
  }
  pause(): void {
    this.paused = true
  }
  resume(): void {
    this.paused = false
  }
}

type Send = () => Promise<void>
const origin = new InProcessOrigin()

/** A client over the in-process origin, reading each body as `arrayBuffer()`. */
function viaClient(options: ClientOptions): Send {
  const client = createClient({ origin: ORIGIN, dispatcher: origin, ...options })
  return async () => {
    const res = await client.request('/tiny')
    await res.body.arrayBuffer()
  }
}

/** The default stack reduced to the named layers (the transport is always there). */
function only(...names: string[]): ClientOptions {
  return {
    middleware: (defaults: readonly Middleware[]) =>
      defaults.filter((layer) => names.includes(layer.name)),
  }
}

const fetchClient: Client = createClient({ origin: ORIGIN, dispatcher: origin })
const globalBare = asGlobalFetchSees(origin)
const globalOurs = asGlobalFetchSees(fetchClient.dispatcher)

const variants: [string, Send][] = [
  [
    'undici.request',
    async () => {
      const res = await request(`${ORIGIN}/tiny`, { dispatcher: origin })
      await res.body.arrayBuffer()
    },
  ],
  [
    'undici dispatch (ceiling)',
    () =>
      new Promise<void>((resolve, reject) => {
        const chunks: Buffer[] = []
        origin.dispatch(
          { origin: ORIGIN, path: '/tiny', method: 'GET' },
          {
            onResponseData: (_c, chunk) => void chunks.push(chunk),
            onResponseEnd: () => resolve(),
            onResponseError: (_c, error) => reject(error),
          },
        )
      }),
  ],
  ['netiquette, no policies', viaClient({ middleware: () => [] })],
  ['  + deadline', viaClient(only('deadline'))],
  ['  + throttle', viaClient(only('throttle'))],
  ['  + retry', viaClient(only('retry'))],
  ['  + breaker', viaClient(only('breaker'))],
  ['  + concurrency', viaClient(only('concurrency'))],
  ['  + attemptTimeout', viaClient(only('attemptTimeout'))],
  ['netiquette (default stack)', viaClient({})],
  [
    'undici fetch',
    async () => {
      const res = await undiciFetch(`${ORIGIN}/tiny`, { dispatcher: origin })
      await res.arrayBuffer()
    },
  ],
  [
    'client.fetch',
    async () => {
      const res = await fetchClient.fetch('/tiny')
      await res.arrayBuffer()
    },
  ],
  [
    'global fetch',
    async () => {
      const res = await globalThis.fetch(`${ORIGIN}/tiny`, {
        dispatcher: globalBare,
      } as RequestInit)
      await res.arrayBuffer()
    },
  ],
  [
    'global fetch, client.dispatcher',
    async () => {
      const res = await globalThis.fetch(`${ORIGIN}/tiny`, {
        dispatcher: globalOurs,
      } as RequestInit)
      await res.arrayBuffer()
    },
  ],
  // A user's `(request, next) => Promise` middleware between the retry policy and the breaker:
  // it splits the default stack's run of gates in two, and costs what a promise step costs.
  [
    'default stack + a middleware inside',
    viaClient({
      middleware: (defaults: readonly Middleware[]) => {
        const at = defaults.findIndex((layer) => layer.name === 'breaker')
        const passing: Middleware = (request, next) => next(request).then((response) => response)
        return [...defaults.slice(0, at), passing, ...defaults.slice(at)]
      },
    }),
  ],
  // The dispatcher face alone, without fetch: compare with `undici.request` and the default stack.
  [
    'undici.request, client.dispatcher',
    async () => {
      const res = await request(`${ORIGIN}/tiny`, { dispatcher: fetchClient.dispatcher })
      await res.body.arrayBuffer()
    },
  ],
]

/** `n` calls, `concurrency` at a time. */
async function batch(send: Send, n: number): Promise<void> {
  let left = n
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) await send()
    }),
  )
}

/**
 * ns per call: the fastest of three batches of `calls` calls (the others were slowed by something
 * else on the machine, never sped up), back to back with the collections they cause themselves,
 * as a service's calls run. Then bytes allocated per call over another batch: heapUsed growth
 * plus what each garbage collection in between freed (from V8's GC profiler).
 */
async function measure(send: Send): Promise<{ ns: number; bytes: number }> {
  let ns = Infinity
  for (let i = 0; i < 3; i++) {
    if (args['collect-each']) collect()
    const start = process.hrtime.bigint()
    await batch(send, calls)
    ns = Math.min(ns, Number(process.hrtime.bigint() - start) / calls)
  }
  // The allocation count starts from a clean heap: the garbage of the timed batches is not in it.
  collect()
  const profiler = new GCProfiler()
  profiler.start()
  const heap = process.memoryUsage().heapUsed
  await batch(send, calls)
  const grown = process.memoryUsage().heapUsed - heap
  let freed = 0
  for (const { beforeGC, afterGC } of profiler.stop().statistics) {
    freed += beforeGC.heapStatistics.usedHeapSize - afterGC.heapStatistics.usedHeapSize
  }
  return { ns, bytes: (grown + freed) / calls }
}

/**
 * Where a variant's allocations come from: V8's sampling heap profiler over one batch, counting
 * what the collector freed too (the default counts only what is still alive). Open the file in
 * Chrome DevTools (Memory tab).
 */
async function allocationProfile(send: Send): Promise<unknown> {
  const session = new Session()
  session.connect()
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 256,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  })
  await batch(send, calls)
  const { profile } = await session.post('HeapProfiler.stopSampling')
  session.disconnect()
  return profile
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

if (args.variant !== undefined) {
  // One variant in this process: a fresh heap and JIT state, untouched by the other variants.
  const [, send] = variants[Number(args.variant)] as [string, Send]
  // Warm-up: the optimizing compiler needs tens of thousands of calls to settle.
  await batch(send, warmup)
  const profile = args['alloc-profile']
  if (profile !== undefined) {
    await writeFile(profile, JSON.stringify(await allocationProfile(send)))
    console.error(`allocation profile of ${calls} calls written to ${profile}`)
  } else {
    console.log(JSON.stringify(await measure(send)))
  }
  await fetchClient.close()
  process.exit(0)
}

const self = fileURLToPath(import.meta.url)
const ns = new Map<string, number[]>(variants.map(([name]) => [name, []]))
const bytes = new Map<string, number[]>(variants.map(([name]) => [name, []]))
for (let round = 0; round < rounds; round++) {
  const order = variants.map((_, i) => i)
  if (round % 2 === 1) order.reverse()
  for (const i of order) {
    const out = execFileSync(
      process.execPath,
      [
        '--expose-gc',
        self,
        '--variant',
        String(i),
        '--calls',
        String(calls),
        '--warmup',
        String(warmup),
        ...(args['collect-each'] ? ['--collect-each'] : []),
        '--concurrency',
        String(concurrency),
      ],
      { encoding: 'utf8' },
    )
    const m = JSON.parse(out) as { ns: number; bytes?: number }
    const name = (variants[i] as [string, Send])[0]
    ns.get(name)?.push(m.ns)
    if (typeof m.bytes === 'number') bytes.get(name)?.push(m.bytes)
  }
  if (!args.json) process.stderr.write(`\r  round ${round + 1}/${rounds}`)
}
if (!args.json) process.stderr.write('\n')

const base = median(ns.get('undici.request') as number[])
const noPolicies = median(ns.get('netiquette, no policies') as number[])
const rows = variants.map(([name]) => {
  const time = median(ns.get(name) as number[])
  const allocated = bytes.get(name) as number[]
  return {
    variant: name.trim(),
    label: name,
    nsPerCall: Math.round(time),
    xRequest: time / base,
    // For a single layer: what it adds to the stack without policies.
    layerNs: name.startsWith('  +') ? Math.round(time - noPolicies) : undefined,
    bytesPerCall: allocated.length > 0 ? Math.round(median(allocated)) : undefined,
  }
})
if (args.json) {
  const machine = describeMachine()
  console.log(JSON.stringify({ machine, calls, concurrency, rounds, rows }, null, 2))
} else {
  console.log(describeMachine())
  console.log(
    `in-process origin, ${calls} calls x ${rounds} rounds, ${concurrency} at a time; one process per variant and round`,
  )
  console.log('variant                            ns/call   x request   layer ns   bytes/call')
  for (const r of rows) {
    const layer = r.layerNs === undefined ? '' : `+${r.layerNs}`
    console.log(
      `${r.label.padEnd(33)} ${String(r.nsPerCall).padStart(8)}   ${r.xRequest.toFixed(2).padStart(9)}   ${layer.padStart(8)}   ${String(r.bytesPerCall ?? '?').padStart(10)}`,
    )
  }
}
await fetchClient.close()
