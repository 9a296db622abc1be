// Overhead of netiquette's default stack next to bare undici.request and undici fetch, on the same
// Agent settings, against a server in another process. Its fetch faces are measured beside their
// baselines: client.fetch against undici fetch, and Node's global fetch through client.dispatcher
// against the global fetch on a bare Agent. Method: ../shared/reference/performance.md
// section 4 — variants interleaved in every round with the order alternated, >= 10 rounds, and the
// median per-round ratio reported with its min-max. Two workloads: a 12-byte body at 32 in flight,
// and a 64 KiB body with a 1 ms server delay at 50 connections.
//
//
// The tiny-body workload is served by nginx when it is installed (apt-get install nginx-light):
// a single-core Node server saturates before the client does and compresses every ratio toward 1.
// Without nginx the Node server is used and the output says so.
//
//   npm run bench                      # defaults: 10 rounds of 1.5 s per variant and workload
//   npm run bench -- --rounds 20 --window 2000 --json
//   npm run bench -- --only big        # one workload: tiny, big or h2 (the tiny body over HTTP/2)
//   node bench/overhead.ts --one-process   # every variant in this process, as before issue 37
//
// Each window runs in a process of its own (warmed up for `--warmup` ms first), so that no
// variant's garbage and JIT state land on another's figures. In one process, V8's allocation-site
// pretenuring, decided while the fetch variants run, sends the objects undici allocates for every
// variant straight to the old space: bare undici.request cost 25.6 us a call there against 18.5
// alone, and netiquette looked faster than it (docs/performance.md, "One process per window").
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import {
  asGlobalFetchSees,
  compareToBaseline,
  describeMachine,
  fmt,
  median,
  pinSelf,
  runChildWindow,
  runWindow,
  startNginx,
  startNodeServer,
  type Sample,
  type Send,
  windowInChild,
} from './harness.ts'
import { Agent, fetch, request } from 'undici'
import { createClient, DEFAULT_AGENT_OPTIONS, type ClientOptions } from '../src/index.ts'

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '10' },
    window: { type: 'string', default: '1500' },
    json: { type: 'boolean', default: false },
    server: { type: 'string', default: 'auto' },
    only: { type: 'string' },
    warmup: { type: 'string', default: '3000' },
    'one-process': { type: 'boolean', default: false },
    // Set by the parent for one window in a process of its own.
    child: { type: 'string' },
  },
})
if (!['auto', 'node', 'nginx'].includes(args.server))
  throw new Error('--server is auto, node or nginx')
const rounds = Number(args.rounds)
const windowMs = Number(args.window)
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer`)
if (!(windowMs > 0)) throw new Error(`--window must be a positive number of ms`)
const warmupMs = Number(args.warmup)
if (!(warmupMs >= 0)) throw new Error(`--warmup must be a number of ms, 0 or more`)

interface Workload {
  name: string
  path: string
  inFlight: number
  connections: number
  /** nginx can serve it (it has no way to delay a response by 1 ms). */
  nginx: boolean
  /** Over HTTP/2 and TLS (bench/server.ts --h2), one session multiplexing every call. */
  h2?: boolean
}
const workloads: Workload[] = [
  { name: 'tiny body, 32 in flight', path: '/tiny', inFlight: 32, connections: 32, nginx: true },
  {
    name: '64 KiB body + 1 ms delay, 50 connections',
    path: '/big',
    inFlight: 50,
    connections: 50,
    nginx: false,
  },
  {
    name: 'tiny body over HTTP/2 (TLS), 32 in flight',
    path: '/tiny',
    inFlight: 32,
    connections: 32,
    nginx: false,
    h2: true,
  },
]

interface Variant {
  name: string
  make: (
    origin: string,
    connections: number,
    ca?: string,
  ) => { send: Send; close: () => Promise<void> }
  /** Runs in the HTTP/2 workload too (the global fetch variants do not: Node's undici differs). */
  h2?: boolean
  /** Runs in the HTTP/2 workload only. */
  h2Only?: boolean
}

// Every variant gets an Agent with the client's default settings, so only the stack differs.
const agentFor = (connections: number, ca?: string) =>
  new Agent({
    connect: { timeout: DEFAULT_AGENT_OPTIONS.connectTimeout, ...(ca === undefined ? {} : { ca }) },
    headersTimeout: DEFAULT_AGENT_OPTIONS.headersTimeout,
    bodyTimeout: DEFAULT_AGENT_OPTIONS.bodyTimeout,
    keepAliveTimeout: DEFAULT_AGENT_OPTIONS.keepAliveTimeout,
    keepAliveMaxTimeout: DEFAULT_AGENT_OPTIONS.keepAliveMaxTimeout,
    connections,
  })

/** A netiquette client with the given options on top of the benchmark's Agent settings. */
function netiquetteVariant(name: string, options: ClientOptions): Variant {
  return {
    name,
    h2: true,
    make: (origin, connections, ca) => {
      const client = createClient({
        ...options,
        origin,
        agent: { ...options.agent, ...agentOptions(connections, ca) },
      })
      return {
        send: async (url) => {
          const res = await client.request(url)
          await res.body.arrayBuffer()
        },
        close: () => client.close(),
      }
    },
  }
}

const agentOptions = (connections: number, ca?: string) =>
  ca === undefined ? { connections } : { connections, connect: { ca } }

const variants: Variant[] = [
  {
    name: 'undici.request',
    h2: true,
    make: (_origin, connections, ca) => {
      const agent = agentFor(connections, ca)
      return {
        send: async (url) => {
          const res = await request(url, { dispatcher: agent })
          await res.body.arrayBuffer()
        },
        close: () => agent.close(),
      }
    },
  },
  netiquetteVariant('netiquette', {}),
  // The same client with the default policies removed: the gap to 'netiquette' is what the
  // policies (deadline, retry with its budget, breaker, concurrency limiter, attempt timeout) cost.
  netiquetteVariant('netiquette, no policies', { middleware: () => [] }),
  // Over HTTP/2 only: the default stack without its session watch (`agent.http2: false`), so the
  // gap to 'netiquette' is what watching sessions costs per call.
  {
    ...netiquetteVariant('netiquette, http2 watch off', { agent: { http2: false } }),
    h2Only: true,
  },
  // The default stack plus `endpoints` over one address, behind a name: what choosing an address
  // per attempt costs (a lookup is cached, so this is the choice, the measuring and the Host).
  {
    name: 'netiquette, endpoints',
    make: (origin, connections) => {
      const named = origin.replace('127.0.0.1', 'bench.local')
      const client = createClient({
        origin: named,
        agent: { connections },
        endpoints: { resolve: () => ['127.0.0.1'] },
      })
      return {
        send: async (url) => {
          const res = await client.request(url.replace(origin, named))
          await res.body.arrayBuffer()
        },
        close: () => client.close(),
      }
    },
  },
  {
    name: 'undici fetch',
    h2: true,
    make: (_origin, connections, ca) => {
      const agent = agentFor(connections, ca)
      return {
        send: async (url) => {
          const res = await fetch(url, { dispatcher: agent })
          await res.arrayBuffer()
        },
        close: () => agent.close(),
      }
    },
  },
  {
    name: 'netiquette fetch',
    h2: true,
    make: (origin, connections, ca) => {
      const client = createClient({ origin, agent: agentOptions(connections, ca) })
      return {
        send: async (url) => {
          const res = await client.fetch(url)
          await res.arrayBuffer()
        },
        close: () => client.close(),
      }
    },
  },
  // Node's own fetch (the undici bundled with Node) on what `setGlobalDispatcher` gives it; the
  // dispatcher is passed per call so that both variants can run in one process.
  {
    name: 'global fetch',
    make: (_origin, connections) => {
      const agent = agentFor(connections)
      const dispatcher = asGlobalFetchSees(agent)
      return {
        send: async (url) => {
          const res = await globalThis.fetch(url, { dispatcher } as RequestInit)
          await res.arrayBuffer()
        },
        close: () => agent.close(),
      }
    },
  },
  {
    name: 'global fetch, dispatcher',
    make: (origin, connections) => {
      const client = createClient({ origin, agent: { connections } })
      const dispatcher = asGlobalFetchSees(client.dispatcher)
      return {
        send: async (url) => {
          const res = await globalThis.fetch(url, { dispatcher } as RequestInit)
          await res.arrayBuffer()
        },
        close: () => client.close(),
      }
    },
  },
]

async function main() {
  const pinned = pinSelf()
  const node = await startNodeServer(pinned)
  const needsH2 = workloads.some((w) => w.h2 === true && selected(w))
  const nodeH2 = needsH2 ? await startNodeServer(pinned, true) : undefined
  const nginx = args.server === 'node' ? undefined : await startNginx(pinned)
  if (args.server === 'nginx' && nginx === undefined) {
    node.stop()
    throw new Error('--server nginx: nginx is not installed')
  }
  const results: Record<string, unknown> = {}
  try {
    if (!args.json) {
      console.log(describeMachine())
      console.log(
        `${rounds} rounds x ${windowMs} ms per variant, ` +
          (args['one-process']
            ? 'every variant in this process; '
            : `each window in a process of its own after ${warmupMs} ms of warm-up; `) +
          (pinned ? 'client on core 0, server on core 1' : 'not pinned (no taskset or 1 core)'),
      )
    }
    for (const workload of workloads) {
      if (!selected(workload)) continue
      const server =
        workload.h2 === true
          ? (nodeH2 as NonNullable<typeof nodeH2>)
          : workload.nginx && nginx !== undefined
            ? nginx
            : node
      const origin = server.url
      const url = `${origin}${workload.path}`
      const chosen = variants.filter((v) =>
        workload.h2 === true ? v.h2 === true : v.h2Only !== true,
      )
      const samples = new Map<string, Sample[]>(chosen.map((v) => [v.name, []]))
      const live = args['one-process']
        ? chosen.map((v) => ({ variant: v, ...v.make(origin, workload.connections, server.ca) }))
        : undefined
      for (const v of live ?? []) await runWindow(v.send, url, workload.inFlight, 300) // warm-up
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? chosen : [...chosen].reverse()
        for (const v of order) {
          const own = live?.find((l) => l.variant === v)
          samples
            .get(v.name)
            ?.push(
              own === undefined
                ? windowInOwnProcess(v, workloads.indexOf(workload), origin, server.ca)
                : await runWindow(own.send, url, workload.inFlight, windowMs),
            )
        }
        if (!args.json) process.stderr.write(`\r  ${workload.name}: round ${round + 1}/${rounds}`)
      }
      if (!args.json) process.stderr.write('\n')
      for (const v of live ?? []) await v.close()
      results[workload.name] = {
        server: server.kind,
        rows: report(workload, server.kind, samples),
        faces: faceRatios(samples),
      }
    }
  } finally {
    node.stop()
    nodeH2?.stop()
    nginx?.stop()
  }
  if (args.json) console.log(JSON.stringify(results, null, 2))
}

const self = fileURLToPath(import.meta.url)

/** One window of `variant` in a process of its own (see {@link windowInChild}). */
function windowInOwnProcess(
  variant: Variant,
  workload: number,
  origin: string,
  ca: string | undefined,
): Sample {
  return windowInChild(
    self,
    { variant: variant.name, workload, origin },
    ['--window', String(windowMs), '--warmup', String(warmupMs)],
    { NQ_BENCH_CA: ca ?? '' },
  )
}

/** `--child`: one window of one variant, its sample printed as JSON. */
async function runChild(spec: string): Promise<void> {
  const {
    variant: name,
    workload: index,
    origin,
  } = JSON.parse(spec) as {
    variant: string
    workload: number
    origin: string
  }
  const variant = variants.find((v) => v.name === name)
  const workload = workloads[index]
  if (variant === undefined || workload === undefined) throw new Error(`--child ${spec}: unknown`)
  const made = variant.make(origin, workload.connections, process.env.NQ_BENCH_CA || undefined)
  await runChildWindow(made, `${origin}${workload.path}`, workload.inFlight, warmupMs, windowMs)
}

/** `--only tiny`, `--only big` or `--only h2` picks workloads; none picks every one. */
function selected(workload: Workload): boolean {
  if (args.only === undefined) return true
  if (args.only === 'h2') return workload.h2 === true
  return workload.h2 !== true && workload.path.includes(args.only)
}

/**
 * The fetch faces against their own baselines, per round: `client.fetch` / undici `fetch`, and
 * the global fetch through `client.dispatcher` / the global fetch on a bare Agent.
 */
function faceRatios(samples: Map<string, Sample[]>) {
  const ratio = (ours: string, theirs: string) => {
    const a = samples.get(ours) as Sample[]
    const b = samples.get(theirs) as Sample[]
    const per = a.map((s, i) => s.rps / (b[i] as Sample).rps)
    return { ratio: median(per), min: Math.min(...per), max: Math.max(...per) }
  }
  const faces: Record<string, ReturnType<typeof ratio>> = {
    'client.fetch / undici fetch': ratio('netiquette fetch', 'undici fetch'),
  }
  if (samples.has('global fetch')) {
    faces['global fetch via client.dispatcher / global fetch'] = ratio(
      'global fetch, dispatcher',
      'global fetch',
    )
  }
  if (!args.json) {
    for (const [name, r] of Object.entries(faces)) {
      console.log(`${name.padEnd(50)} ${fmt(r.ratio)} (${fmt(r.min)}-${fmt(r.max)})`)
    }
  }
  return faces
}

function report(workload: Workload, serverKind: string, samples: Map<string, Sample[]>) {
  const bare = samples.get('undici.request') as Sample[]
  const rows = [...samples].map(([name, list]) => ({
    variant: name,
    ...compareToBaseline(list, bare),
  }))
  if (!args.json) {
    console.log(`\n${workload.name} (server: ${serverKind})`)
    console.log(
      'variant                    req/s   x bare (min-max)      CPU us/req  CPU x bare   p50 ms  p99 ms',
    )
    for (const r of rows) {
      console.log(
        `${r.variant.padEnd(25)} ${fmt(r.rps, 0).padStart(7)}   ${fmt(r.ratio)} (${fmt(r.ratioMin)}-${fmt(r.ratioMax)})`.padEnd(
          57,
        ) +
          `${fmt(r.cpuUsPerReq, 1).padStart(8)}    ${fmt(r.cpuRatio).padStart(6)}   ${fmt(r.p50).padStart(6)}  ${fmt(r.p99).padStart(6)}`,
      )
    }
  }
  return rows
}

if (args.child !== undefined) {
  await runChild(args.child)
  process.exit(0)
}
await main()
