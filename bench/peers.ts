// netiquette beside the libraries users would pick instead, each in its usual configuration, on
// the same server and workload, interleaved (method: docs/performance.md). Two tables, as ratios
// to bare `undici.request` in the same round:
//
// - happy path: a 12-byte 200 from nginx (or bench/server.ts without nginx), 32 in flight;
// - failure mix: bench/server.ts's /mix, where 1 request in 20 gets a 503 and 1 in 20 a reset
//   connection, so retries run. A call counts as a success when it ends with a 200; throughput
//   is successes per second and CPU is per success.
//
// Every client keeps 32 connections alive. Peers are dev dependencies, used only here.
//
//   npm run bench:peers
//   npm run bench:peers -- --rounds 10 --window 2000 --json
//   npm run bench:peers -- --only mix
//   node bench/peers.ts --one-process   # every peer in this process, as before issue 37
//
// Each window runs in a process of its own, warmed up for `--warmup` ms first, so that no peer's
// garbage and JIT state land on another's figures (bench/harness.ts, windowInChild).
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { Agent as HttpAgent } from 'node:http'
import { Agent, RetryAgent, request, type Dispatcher } from 'undici'
import {
  asGlobalFetchSees,
  compareToBaseline,
  describeMachine,
  fmt,
  pinSelf,
  runChildWindow,
  runWindow,
  startNginx,
  startNodeServer,
  type Sample,
  type Send,
  windowInChild,
} from './harness.ts'

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '6' },
    window: { type: 'string', default: '1500' },
    json: { type: 'boolean', default: false },
    only: { type: 'string' },
    warmup: { type: 'string', default: '3000' },
    'one-process': { type: 'boolean', default: false },
    // Set by the parent for one window in a process of its own.
    child: { type: 'string' },
  },
})
const rounds = Number(args.rounds)
const windowMs = Number(args.window)
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive integer')
if (!(windowMs > 0)) throw new Error('--window must be a positive number of ms')
const warmupMs = Number(args.warmup)
if (!(warmupMs >= 0)) throw new Error('--warmup must be a number of ms, 0 or more')

const IN_FLIGHT = 32
const CONNECTIONS = 32

/** A status other than 200 is a failed call for every variant alike. */
class StatusError extends Error {
  readonly status: number
  constructor(status: number) {
    super(`status ${status}`)
    this.status = status
  }
}

interface Variant {
  name: string
  /**
   * Loads its library and makes its client. A library is loaded only in its own variant's
   * process: loading axios, ky and opossum beside bare `undici.request` made it cost 24 µs of
   * CPU a call instead of 18 (a larger heap for every old-space collection to mark).
   */
  make: () => Promise<{ send: Send; close: () => Promise<void> | void }>
}

const agent = () => new Agent({ connections: CONNECTIONS })
const httpAgent = () => new HttpAgent({ keepAlive: true, maxSockets: CONNECTIONS })

/** An undici.request that throws for a status other than 200, as the wrappers need it to. */
async function undiciCall(url: string, dispatcher: Dispatcher, signal?: AbortSignal) {
  const res = await request(url, { dispatcher, signal })
  if (res.statusCode !== 200) {
    await res.body.dump()
    throw new StatusError(res.statusCode)
  }
  await res.body.arrayBuffer()
}

const variants: Variant[] = [
  {
    name: 'undici.request',
    make: async () => {
      const dispatcher = agent()
      return { send: (url) => undiciCall(url, dispatcher), close: () => dispatcher.close() }
    },
  },
  {
    name: 'netiquette',
    make: async () => {
      const { createClient } = await import('../src/index.ts')
      const client = createClient({ agent: { connections: CONNECTIONS } })
      return {
        send: async (url) => {
          const res = await client.request(url)
          if (res.statusCode !== 200) {
            await res.body.dump()
            throw new StatusError(res.statusCode)
          }
          await res.body.arrayBuffer()
        },
        close: () => client.close(),
      }
    },
  },
  {
    // Its defaults: up to 5 retries of 5xx/429 and connection errors, 500 ms x 2^n, no jitter.
    name: 'undici RetryAgent',
    make: async () => {
      const inner = agent()
      const dispatcher = new RetryAgent(inner)
      return { send: (url) => undiciCall(url, dispatcher), close: () => dispatcher.close() }
    },
  },
  {
    // cockatiel's README composition: retry (3 attempts, exponential backoff) around a
    // consecutive-failure breaker around a timeout, wrapping undici.request.
    name: 'cockatiel + undici',
    make: async () => {
      const cockatiel = await import('cockatiel')
      const { ConsecutiveBreaker, ExponentialBackoff, TimeoutStrategy } = cockatiel
      const { circuitBreaker, handleAll, retry, timeout, wrap } = cockatiel
      const dispatcher = agent()
      const policy = wrap(
        retry(handleAll, { maxAttempts: 3, backoff: new ExponentialBackoff() }),
        circuitBreaker(handleAll, {
          halfOpenAfter: 10_000,
          breaker: new ConsecutiveBreaker(5),
        }),
        timeout(10_000, TimeoutStrategy.Aggressive),
      )
      return {
        send: (url) => policy.execute(({ signal }) => undiciCall(url, dispatcher, signal)),
        close: () => dispatcher.close(),
      }
    },
  },
  {
    // opossum's README settings: 3 s timeout, open at 50% errors, 30 s reset. No retries.
    name: 'opossum + undici',
    make: async () => {
      const { default: CircuitBreaker } = await import('opossum')
      const dispatcher = agent()
      const breaker = new CircuitBreaker((url: string) => undiciCall(url, dispatcher), {
        timeout: 3000,
        errorThresholdPercentage: 50,
        resetTimeout: 30_000,
      })
      return {
        send: async (url) => {
          await breaker.fire(url)
        },
        close: () => {
          breaker.shutdown()
          return dispatcher.close()
        },
      }
    },
  },
  {
    // got's defaults: 2 retries of GETs on 5xx and connection errors, ~1 s x 2^n + noise.
    name: 'got',
    make: async () => {
      const { default: got } = await import('got')
      const http = httpAgent()
      const instance = got.extend({ agent: { http } })
      return {
        send: async (url) => {
          await instance(url).buffer()
        },
        close: () => http.destroy(),
      }
    },
  },
  {
    // axios with axios-retry as its README shows it: 3 retries, exponential delay.
    name: 'axios + axios-retry',
    make: async () => {
      const { default: axios } = await import('axios')
      const { default: axiosRetry } = await import('axios-retry')
      const http = httpAgent()
      const instance = axios.create({ httpAgent: http, responseType: 'arraybuffer' })
      axiosRetry(instance, { retries: 3, retryDelay: axiosRetry.exponentialDelay })
      return {
        send: async (url) => {
          await instance.get(url)
        },
        close: () => http.destroy(),
      }
    },
  },
  {
    // ky's defaults (2 retries of 503s and friends) on Node's global fetch.
    name: 'ky (global fetch)',
    make: async () => {
      const { default: ky } = await import('ky')
      const dispatcher = agent()
      const seen = asGlobalFetchSees(dispatcher)
      const instance = ky.create({
        fetch: (input, init) =>
          globalThis.fetch(input, { ...init, dispatcher: seen } as RequestInit),
      })
      return {
        send: async (url) => {
          await instance.get(url).arrayBuffer()
        },
        close: () => dispatcher.close(),
      }
    },
  },
]

interface Workload {
  name: string
  path: string
  /** Served by nginx when it is installed. */
  nginx: boolean
}
const workloads: Workload[] = [
  { name: 'happy path: 12-byte 200, 32 in flight', path: '/tiny', nginx: true },
  { name: 'failure mix: 5% 503s, 5% resets, 32 in flight', path: '/mix', nginx: false },
]

async function main() {
  const pinned = pinSelf()
  const node = await startNodeServer(pinned)
  const nginx = await startNginx(pinned)
  const results: Record<string, unknown> = {}
  const machine = describeMachine(['got', 'ky', 'axios', 'axios-retry', 'cockatiel', 'opossum'])
  try {
    if (!args.json) {
      console.log(machine)
      console.log(
        `${rounds} rounds x ${windowMs} ms per variant, interleaved, ` +
          (args['one-process']
            ? 'every variant in this process; '
            : `each window in a process of its own after ${warmupMs} ms of warm-up; `) +
          (pinned ? 'client on core 0, server on core 1' : 'not pinned (no taskset or 1 core)'),
      )
    }
    for (const workload of workloads) {
      if (args.only !== undefined && !workload.path.includes(args.only)) continue
      const server = workload.nginx && nginx !== undefined ? nginx : node
      const url = `${server.url}${workload.path}`
      const live = args['one-process']
        ? await Promise.all(variants.map(async (v) => ({ name: v.name, ...(await v.make()) })))
        : undefined
      for (const v of live ?? []) await runWindow(v.send, url, IN_FLIGHT, 300) // warm-up
      const samples = new Map<string, Sample[]>(variants.map((v) => [v.name, []]))
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? variants : [...variants].reverse()
        for (const v of order) {
          const own = live?.find((l) => l.name === v.name)
          samples
            .get(v.name)
            ?.push(
              own === undefined
                ? windowInChild(self, { variant: v.name, url }, [
                    '--window',
                    String(windowMs),
                    '--warmup',
                    String(warmupMs),
                  ])
                : await runWindow(own.send, url, IN_FLIGHT, windowMs),
            )
        }
        if (!args.json) process.stderr.write(`\r  ${workload.name}: round ${round + 1}/${rounds}`)
      }
      if (!args.json) process.stderr.write('\n')
      for (const v of live ?? []) await v.close()
      results[workload.name] = { server: server.kind, rows: report(workload, server.kind, samples) }
    }
  } finally {
    node.stop()
    nginx?.stop()
  }
  if (args.json) console.log(JSON.stringify({ machine, rounds, windowMs, results }, null, 2))
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
      'variant                  ok/s   x bare (min-max)    CPU us/ok  x bare   p99 ms  x bare  success',
    )
    for (const r of rows) {
      console.log(
        `${r.variant.padEnd(21)} ${fmt(r.rps, 0).padStart(7)}   ${fmt(r.ratio)} (${fmt(r.ratioMin)}-${fmt(r.ratioMax)})`.padEnd(
          50,
        ) +
          `${fmt(r.cpuUsPerReq, 1).padStart(8)}   ${fmt(r.cpuRatio).padStart(5)}  ${fmt(r.p99, 1).padStart(7)}  ${fmt(r.p99Ratio).padStart(6)}  ${(100 * r.success).toFixed(1).padStart(6)}%`,
      )
    }
  }
  return rows
}

const self = fileURLToPath(import.meta.url)

if (args.child !== undefined) {
  // One window of one peer (see windowInChild), its sample printed as JSON.
  const { variant: name, url } = JSON.parse(args.child) as { variant: string; url: string }
  const variant = variants.find((v) => v.name === name)
  if (variant === undefined) throw new Error(`--child ${args.child}: unknown variant`)
  await runChildWindow(await variant.make(), url, IN_FLIGHT, warmupMs, windowMs)
  process.exit(0)
}
await main()
