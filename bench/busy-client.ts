// A client busy with its own work: 150 calls in flight, each a 64 KiB body after 1 ms, against
// bench/server.ts in another process. The client parses bodies as fast as it can, so its own
// event loop (and its old-space collections, one every 60-80 ms at this rate) delays every
// answer it reads. The latency-based limit must not take that delay for a queue at the origin.
//
// Each window uses a fresh client (a limit that collapses does so in its first rounds), after a
// warm-up of its own; variants interleaved, the order alternated every round, ratios to bare
// undici.request in the same round. Variants:
//   - netiquette: the default stack.
//   - netiquette, limit blind to its process: a clock without `idle()`, so the delay limit reads
//     every delay as the origin's (the limit before it read the process's idle time).
//   - netiquette, no concurrency limit: `concurrency: false`, the limiter's own part.
//
//   node bench/busy-client.ts                 # 5 rounds of 2 s per variant
//   node bench/busy-client.ts --rounds 8 --json
import { parseArgs } from 'node:util'
import { Agent, request } from 'undici'
import {
  compareToBaseline,
  describeMachine,
  fmt,
  median,
  pinSelf,
  runWindow,
  startNodeServer,
  type Sample,
  type Send,
} from './harness.ts'
import { createClient, type Clock, type ClientOptions } from '../src/index.ts'
import { systemClock } from '../src/core/clock.ts'

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    window: { type: 'string', default: '2000' },
    'in-flight': { type: 'string', default: '150' },
    json: { type: 'boolean', default: false },
  },
})
const rounds = Number(args.rounds)
const windowMs = Number(args.window)
const inFlight = Number(args['in-flight'])
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive integer')
if (!(windowMs > 0)) throw new Error('--window must be a positive number of ms')
if (!Number.isInteger(inFlight) || inFlight < 1) {
  throw new Error('--in-flight must be a positive integer')
}
const WARM_UP_MS = 500

// The system clock without its idle time: what the delay limit saw before it read it.
const blindClock: Clock = {
  now: systemClock.now,
  wallNow: systemClock.wallNow,
  sleep: systemClock.sleep,
  setTimer: systemClock.setTimer,
  clearTimer: systemClock.clearTimer,
}

interface Variant {
  name: string
  make: (origin: string) => { send: Send; close: () => Promise<void>; limit: () => number | null }
}

function netiquette(name: string, options: ClientOptions): Variant {
  return {
    name,
    make: (origin) => {
      const client = createClient({ origin, agent: { connections: inFlight }, ...options })
      return {
        send: async (url) => {
          const res = await client.request(url)
          await res.body.arrayBuffer()
        },
        close: () => client.close(),
        limit: () => client.stats().origins[0]?.limit ?? null,
      }
    },
  }
}

const variants: Variant[] = [
  {
    name: 'undici.request',
    make: () => {
      const agent = new Agent({ connections: inFlight })
      return {
        send: async (url) => {
          const res = await request(url, { dispatcher: agent })
          await res.body.arrayBuffer()
        },
        close: () => agent.close(),
        limit: () => null,
      }
    },
  },
  netiquette('netiquette', {}),
  netiquette('netiquette, limit blind to its process', { clock: blindClock }),
  netiquette('netiquette, no concurrency limit', { concurrency: false }),
]

const pinned = pinSelf()
const server = await startNodeServer(pinned)
const url = `${server.url}/big`
const samples = new Map<string, Sample[]>(variants.map((v) => [v.name, []]))
const limits = new Map<string, number[]>(variants.map((v) => [v.name, []]))
try {
  if (!args.json) {
    console.log(describeMachine())
    console.log(
      `${rounds} rounds x ${windowMs} ms per variant (a fresh client each, ${WARM_UP_MS} ms of warm-up); ` +
        `${inFlight} in flight on ${inFlight} connections; ` +
        (pinned ? 'client on core 0, server on core 1' : 'not pinned (no taskset or 1 core)'),
    )
  }
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse()
    for (const variant of order) {
      const made = variant.make(server.url)
      await runWindow(made.send, url, inFlight, WARM_UP_MS)
      samples.get(variant.name)?.push(await runWindow(made.send, url, inFlight, windowMs))
      const limit = made.limit()
      if (limit !== null) limits.get(variant.name)?.push(limit)
      await made.close()
    }
    if (!args.json) process.stderr.write(`\r  round ${round + 1}/${rounds}`)
  }
} finally {
  server.stop()
}
if (!args.json) process.stderr.write('\n')

const bare = samples.get('undici.request') as Sample[]
const rows = variants.map(({ name }) => {
  const compared = compareToBaseline(samples.get(name) as Sample[], bare)
  const ls = limits.get(name) as number[]
  return {
    variant: name,
    ...compared,
    limit:
      ls.length === 0 ? null : { median: median(ls), min: Math.min(...ls), max: Math.max(...ls) },
  }
})
if (args.json) {
  console.log(JSON.stringify(rows, null, 2))
} else {
  console.log(
    `${'variant'.padEnd(42)} ${'req/s'.padStart(7)}   x bare (min-max)   CPU us/req  limit at the end (min-max)`,
  )
  for (const r of rows) {
    const limit =
      r.limit === null ? '' : `${r.limit.median} (${r.limit.min}-${r.limit.max})`.padStart(12)
    console.log(
      `${r.variant.padEnd(42)} ${String(Math.round(r.rps)).padStart(7)}   ${fmt(r.ratio)} (${fmt(r.ratioMin)}-${fmt(r.ratioMax)})   ${fmt(r.cpuUsPerReq, 1).padStart(10)}  ${limit}`,
    )
  }
}
process.exit(0)
