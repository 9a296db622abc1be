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
//   npm run bench -- --only big        # one workload: tiny or big
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createHistogram } from 'node:perf_hooks'
import {
  Agent,
  fetch,
  getGlobalDispatcher,
  request,
  setGlobalDispatcher,
  type Dispatcher,
} from 'undici'
import { createClient, DEFAULT_AGENT_OPTIONS, type ClientOptions } from '../src/index.ts'

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '10' },
    window: { type: 'string', default: '1500' },
    json: { type: 'boolean', default: false },
    server: { type: 'string', default: 'auto' },
    only: { type: 'string' },
  },
})
if (!['auto', 'node', 'nginx'].includes(args.server))
  throw new Error('--server is auto, node or nginx')
const rounds = Number(args.rounds)
const windowMs = Number(args.window)
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer`)
if (!(windowMs > 0)) throw new Error(`--window must be a positive number of ms`)

interface Workload {
  name: string
  path: string
  inFlight: number
  connections: number
  /** nginx can serve it (it has no way to delay a response by 1 ms). */
  nginx: boolean
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
]

type Send = (url: string) => Promise<void>
interface Variant {
  name: string
  make: (origin: string, connections: number) => { send: Send; close: () => Promise<void> }
}

// Every variant gets an Agent with the client's default settings, so only the stack differs.
const agentFor = (connections: number) =>
  new Agent({
    connect: { timeout: DEFAULT_AGENT_OPTIONS.connectTimeout },
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
    make: (origin, connections) => {
      const client = createClient({ ...options, origin, agent: { connections } })
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

const variants: Variant[] = [
  {
    name: 'undici.request',
    make: (_origin, connections) => {
      const agent = agentFor(connections)
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
    make: (_origin, connections) => {
      const agent = agentFor(connections)
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
    make: (origin, connections) => {
      const client = createClient({ origin, agent: { connections } })
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

/**
 * The dispatcher Node's global fetch uses after `setGlobalDispatcher(dispatcher)`: undici wraps
 * it for the older handler API of the undici bundled with Node.
 */
function asGlobalFetchSees(dispatcher: Dispatcher): Dispatcher {
  const previous = getGlobalDispatcher()
  setGlobalDispatcher(dispatcher)
  const seen = (globalThis as unknown as Record<symbol, Dispatcher>)[
    Symbol.for('undici.globalDispatcher.1')
  ] as Dispatcher
  setGlobalDispatcher(previous)
  return seen
}

interface Sample {
  rps: number
  cpuUsPerReq: number
  p50: number
  p99: number
}

async function runWindow(send: Send, url: string, inFlight: number, ms: number): Promise<Sample> {
  const histogram = createHistogram()
  let count = 0
  let stop = false
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const timer = setTimeout(() => (stop = true), ms)
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (!stop) {
        const start = process.hrtime.bigint()
        await send(url)
        histogram.record(process.hrtime.bigint() - start)
        count++
      }
    }),
  )
  clearTimeout(timer)
  const elapsed = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  return {
    rps: (count * 1000) / elapsed,
    cpuUsPerReq: (cpu.user + cpu.system) / count,
    p50: histogram.percentile(50) / 1e6,
    p99: histogram.percentile(99) / 1e6,
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}
const fmt = (x: number, digits = 2) => x.toFixed(digits)

interface Origin {
  url: string
  kind: string
  stop: () => void
}

async function startNodeServer(pinned: boolean): Promise<Origin> {
  const serverPath = fileURLToPath(new URL('./server.ts', import.meta.url))
  const [command, argv] = pinned
    ? ['taskset', ['-c', '1', process.execPath, serverPath]]
    : [process.execPath, [serverPath]]
  const child = spawn(command as string, argv as string[], { stdio: ['pipe', 'pipe', 'inherit'] })
  const [portLine] = (await once(child.stdout, 'data')) as [Buffer]
  return {
    url: `http://127.0.0.1:${String(portLine).trim()}`,
    kind: 'node:http',
    stop: () => stopChild(child),
  }
}

async function startNginx(pinned: boolean): Promise<Origin | undefined> {
  if (args.server === 'node' || !hasCommand('nginx')) {
    if (args.server === 'nginx') throw new Error('--server nginx: nginx is not installed')
    return undefined
  }
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'netiquette-bench-'))
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `${t}_temp_path ${dir};`)
    .join(' ')
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 100000000; keepalive_timeout 600s; ${temp}
  server { listen 127.0.0.1:${port};
    location / { default_type text/plain; return 200 'hello world!'; } } }`,
  )
  const nginxArgs = ['-c', join(dir, 'nginx.conf'), '-p', dir]
  const child = pinned
    ? spawn('taskset', ['-c', '1', 'nginx', ...nginxArgs], { stdio: 'ignore' })
    : spawn('nginx', nginxArgs, { stdio: 'ignore' })
  const url = `http://127.0.0.1:${port}`
  // Wait until it answers (bounded): nginx gives no readiness signal on stdout.
  const probe = new Agent()
  for (let i = 0; ; i++) {
    try {
      await (await request(`${url}/tiny`, { dispatcher: probe })).body.text()
      break
    } catch (error) {
      if (i >= 100) throw new Error('nginx did not start', { cause: error })
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  await probe.close()
  return {
    url,
    kind: 'nginx',
    stop: () => {
      stopChild(child)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function main() {
  const pinned = pinSelf()
  const node = await startNodeServer(pinned)
  const nginx = await startNginx(pinned)
  const results: Record<string, unknown> = {}
  try {
    if (!args.json) {
      console.log(
        `node ${process.version}, ${rounds} rounds x ${windowMs} ms per variant; ` +
          (pinned ? 'client on core 0, server on core 1' : 'not pinned (no taskset or 1 core)'),
      )
    }
    for (const workload of workloads) {
      if (args.only !== undefined && !workload.path.includes(args.only)) continue
      const server = workload.nginx && nginx !== undefined ? nginx : node
      const origin = server.url
      const url = `${origin}${workload.path}`
      const live = variants.map((v) => ({ variant: v, ...v.make(origin, workload.connections) }))
      for (const v of live) await runWindow(v.send, url, workload.inFlight, 300) // warm-up
      const samples = new Map<string, Sample[]>(variants.map((v) => [v.name, []]))
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? live : [...live].reverse()
        for (const v of order) {
          samples
            .get(v.variant.name)
            ?.push(await runWindow(v.send, url, workload.inFlight, windowMs))
        }
        if (!args.json) process.stderr.write(`\r  ${workload.name}: round ${round + 1}/${rounds}`)
      }
      if (!args.json) process.stderr.write('\n')
      for (const v of live) await v.close()
      results[workload.name] = { server: server.kind, rows: report(workload, server.kind, samples) }
    }
  } finally {
    node.stop()
    nginx?.stop()
  }
  if (args.json) console.log(JSON.stringify(results, null, 2))
}

function stopChild(child: ChildProcess): void {
  child.stdin?.end()
  child.kill()
}

function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => resolve(port))
    })
  })
}

function report(workload: Workload, serverKind: string, samples: Map<string, Sample[]>) {
  const bare = samples.get('undici.request') as Sample[]
  const rows = [...samples].map(([name, list]) => {
    const ratios = list.map((s, i) => s.rps / (bare[i] as Sample).rps)
    const cpuRatios = list.map((s, i) => (bare[i] as Sample).cpuUsPerReq / s.cpuUsPerReq)
    return {
      variant: name,
      rps: median(list.map((s) => s.rps)),
      ratio: median(ratios),
      ratioMin: Math.min(...ratios),
      ratioMax: Math.max(...ratios),
      cpuUsPerReq: median(list.map((s) => s.cpuUsPerReq)),
      cpuRatio: median(cpuRatios),
      p50: median(list.map((s) => s.p50)),
      p99: median(list.map((s) => s.p99)),
    }
  })
  if (!args.json) {
    console.log(`\n${workload.name} (server: ${serverKind})`)
    console.log(
      'variant                    req/s   x bare (min-max)      CPU us/req  x bare CPU   p50 ms  p99 ms',
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

/** Pins this process to core 0 when taskset exists and there are 2+ cores. */
function pinSelf(): boolean {
  try {
    execFileSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

await main()
