// Calls under SYN loss: every call on a new connection (the server answers `Connection: close`),
// a share of SYNs to the server's port dropped by iptables on loopback. Linux retransmits a lost
// SYN after 1 s and again 2 s later, so bare undici pays 1 s or 3 s for each; the default stack's
// racing connector (agent.race) sends another SYN after its learned connection attempt delay.
//
// Needs root and iptables (apt-get install iptables); the rule is for the bench's own ports and
// is removed at exit. Contenders run interleaved, one call each in turn:
//   - healthy: the defaults against a port without loss (the baseline the p99 is compared with)
//   - healthy, race off: the same with `agent: { race: false }`: what the racing connector costs
//     a connect that needs no race (compare the p50s)
//   - defaults: the default stack under loss
//   - race off: the default stack with `agent: { race: false }`, the ablation of the connector
//   - undici: bare undici.request on an Agent with the same connect timeout
//
//   node bench/syn-loss.ts [--calls 200] [--loss 0.1] [--json]
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import diagnosticsChannel from 'node:diagnostics_channel'
import { Agent, request } from 'undici'
import { createClient, type Client, type ConnectEvent } from '../src/index.ts'
import { dropSyns } from '../tools/lab/syn-drop.ts'
import { describeMachine, fmt } from './harness.ts'

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '200' },
    loss: { type: 'string', default: '0.1' },
    json: { type: 'boolean', default: false },
  },
})
const calls = Number(args.calls)
const loss = Number(args.loss)
if (!Number.isInteger(calls) || calls < 1) throw new Error('--calls must be a positive integer')
if (!(loss >= 0 && loss < 1)) throw new Error('--loss must be a number from 0 to below 1')
if (loss > 0 && process.getuid?.() !== 0) {
  throw new Error('needs root: it adds an iptables rule on loopback (or run with --loss 0)')
}

interface Contender {
  name: string
  lossy: boolean
  server: Server
  port: number
  connections: number
  times: number[]
  failed: number
  call: () => Promise<void>
  removeRule?: () => void
}

async function listen(): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    res.setHeader('connection', 'close')
    res.end('ok')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as AddressInfo).port }
}

// Rules left are removed at exit (syn-drop.ts); Ctrl-C exits through it.
process.on('SIGINT', () => process.exit(130))

const clients: Client[] = []
const agents: Agent[] = []
async function contender(
  name: string,
  lossy: boolean,
  make: (origin: string) => () => Promise<void>,
): Promise<Contender> {
  const { server, port } = await listen()
  const entry: Contender = {
    name,
    lossy,
    server,
    port,
    connections: 0,
    times: [],
    failed: 0,
    call: make(`http://127.0.0.1:${port}`),
  }
  server.on('connection', () => entry.connections++)
  if (lossy && loss > 0) entry.removeRule = dropSyns(port, { probability: loss })
  return entry
}
function viaClient(options: Parameters<typeof createClient>[0]) {
  return (origin: string) => {
    const client = createClient({ origin, ...options })
    clients.push(client)
    return async () => {
      const res = await client.request('/')
      await res.body.text()
    }
  }
}

const raced = new Map<string, number>()
diagnosticsChannel.subscribe('netiquette:connect', (message) => {
  const event = message as ConnectEvent
  if (event.type === 'raced') raced.set(event.origin, (raced.get(event.origin) ?? 0) + 1)
})

const contenders = [
  await contender('healthy (defaults, no loss)', false, viaClient({})),
  await contender('healthy, race off', false, viaClient({ agent: { race: false } })),
  await contender('defaults', true, viaClient({})),
  await contender('race off', true, viaClient({ agent: { race: false } })),
  await contender('undici.request', true, (origin) => {
    const agent = new Agent({ connect: { timeout: 5_000 } })
    agents.push(agent)
    return async () => {
      const res = await request(origin, { dispatcher: agent })
      await res.body.text()
    }
  }),
]

// One untimed call each first: the first call of a process pays for compiling the client, undici
// and the server's code, which would land on whichever contender goes first.
for (const entry of contenders) await entry.call().catch(() => undefined)
for (const entry of contenders) entry.connections = 0
raced.clear()

for (let i = 0; i < calls; i++) {
  for (const entry of i % 2 === 0 ? contenders : [...contenders].reverse()) {
    const start = performance.now()
    try {
      await entry.call()
      entry.times.push(performance.now() - start)
    } catch {
      entry.failed++
    }
  }
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * q) - 1)] ?? NaN
}
const healthyP99 = quantile(
  [...contenders[0]!.times].sort((a, b) => a - b),
  0.99,
)
const undiciP99 = quantile(
  [...contenders.at(-1)!.times].sort((a, b) => a - b),
  0.99,
)
const rows = contenders.map((entry) => {
  const sorted = [...entry.times].sort((a, b) => a - b)
  const p99 = quantile(sorted, 0.99)
  return {
    contender: entry.name,
    p50: quantile(sorted, 0.5),
    p99,
    max: sorted.at(-1) ?? NaN,
    overHealthyP99: p99 / healthyP99,
    overUndiciP99: p99 / undiciP99,
    connectionsPerCall: entry.connections / calls,
    raced: raced.get(`http://127.0.0.1:${entry.port}`) ?? 0,
    failed: entry.failed,
  }
})

await Promise.all(clients.map((client) => client.close()))
await Promise.all(agents.map((agent) => agent.close()))
for (const entry of contenders) {
  entry.server.close()
  entry.removeRule?.()
}

if (args.json) {
  console.log(JSON.stringify({ machine: describeMachine(), calls, loss, rows }, null, 2))
} else {
  console.log(describeMachine())
  console.log(
    `${calls} calls per contender, one new connection each, ${loss * 100}% of SYNs dropped\n`,
  )
  console.log(
    'contender                     p50 ms   p99 ms   max ms  p99/healthy  p99/undici  conn/call  raced  failed',
  )
  for (const row of rows) {
    console.log(
      `${row.contender.padEnd(28)} ${fmt(row.p50).padStart(7)} ${fmt(row.p99).padStart(8)} ${fmt(row.max).padStart(8)}` +
        ` ${fmt(row.overHealthyP99).padStart(12)} ${fmt(row.overUndiciP99).padStart(11)}` +
        ` ${row.connectionsPerCall.toFixed(2).padStart(10)} ${String(row.raced).padStart(6)} ${String(row.failed).padStart(7)}`,
    )
  }
}
