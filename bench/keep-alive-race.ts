// The keep-alive race, as a misconfigured client meets it: the server closes connections idle for
// 1,000 ms and sends no Keep-Alive hint; the client keeps idle connections for 10 s; calls come
// at 990-1,010 ms intervals, so about half find their connection just at the server's timeout.
// Three loops per contender (GET, POST with an Idempotency-Key, POST without), each on its own
// client and connection, for --duration seconds, all contenders at once on their own servers.
// Two servers: `timer` closes an idle connection when its timer fires (a FIN, or a reset when a
// request's bytes arrived unread just then), as Node's and most servers do; `lazy` acts on its
// timeout only when the next request arrives, resetting it, so every request after a gap longer
// than the timeout meets the race (the worst case, and the one where the client can learn only
// from races, not from FINs).
//
//   node bench/keep-alive-race.ts [--duration 60] [--json]
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { Agent, request } from 'undici'
import { createClient, type AttemptRecord, type Client } from '../src/index.ts'
import { describeMachine } from './harness.ts'

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    idle: { type: 'string', default: '1000' },
    json: { type: 'boolean', default: false },
  },
})
const duration = Number(args.duration) * 1000
const idle = Number(args.idle)
if (!(duration > 0)) throw new Error('--duration must be a positive number of seconds')
if (!(idle > 20)) throw new Error('--idle must be a number of ms above 20')

/**
 * An HTTP/1.1 server that answers every request with 200 and sends no Keep-Alive hint. `timer`
 * closes a connection idle for `idle` ms, as Node's and most servers' idle timers do: a request
 * whose bytes arrive as the timer fires is in the kernel's buffer, unread, and the close resets
 * it. `lazy` acts on the timeout only when a request arrives, resetting the connection.
 */
async function idleServer(
  mode: ServerMode,
): Promise<{ server: Server; origin: string; connections: () => number }> {
  let connections = 0
  const server = createServer((socket: Socket) => {
    connections++
    let buffered = ''
    let idleSince = performance.now()
    const arm = () => (mode === 'timer' ? setTimeout(() => socket.destroy(), idle) : undefined)
    let timer = arm()
    socket.on('error', () => {})
    socket.on('data', (chunk) => {
      clearTimeout(timer)
      if (mode === 'lazy' && performance.now() - idleSince > idle) {
        socket.resetAndDestroy()
        return
      }
      buffered += chunk.toString('latin1')
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n')
        if (end < 0) break
        const length = Number(/content-length: *(\d+)/i.exec(buffered.slice(0, end))?.[1] ?? 0)
        if (buffered.length < end + 4 + length) break
        buffered = buffered.slice(end + 4 + length)
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
      }
      idleSince = performance.now()
      timer = arm()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { server, origin: `http://127.0.0.1:${port}`, connections: () => connections }
}

type Kind = 'GET' | 'keyed POST' | 'POST'
type ServerMode = 'timer' | 'lazy'
interface Row {
  server: ServerMode
  contender: string
  kind: Kind
  calls: number
  failed: number
  /** Attempts recorded `reused: true` (the defaults only), and the time of the last one. */
  raced: number
  lastRaceAt: number | undefined
  firstFailure: string | undefined
}

function options(kind: Kind, n: number) {
  if (kind === 'GET') return { method: 'GET' as const }
  const headers = kind === 'keyed POST' ? { 'idempotency-key': `k-${n}` } : undefined
  return { method: 'POST' as const, body: `order ${n}`, headers }
}

async function loop(
  server: ServerMode,
  contender: string,
  kind: Kind,
  call: (n: number) => Promise<readonly AttemptRecord[] | undefined>,
  started: number,
): Promise<Row> {
  const row: Row = {
    server,
    contender,
    kind,
    calls: 0,
    failed: 0,
    raced: 0,
    lastRaceAt: undefined,
    firstFailure: undefined,
  }
  while (performance.now() - started < duration) {
    const n = row.calls++
    try {
      const attempts = await call(n)
      const raced = attempts?.filter((a) => a.reused === true).length ?? 0
      if (raced > 0) {
        row.raced += raced
        row.lastRaceAt = performance.now() - started
      }
    } catch (error) {
      row.failed++
      const attempts = (error as { attempts?: readonly AttemptRecord[] }).attempts
      const why = attempts?.at(-1)?.decision?.reason
      row.firstFailure ??=
        String((error as { code?: string }).code ?? error) + (why === undefined ? '' : `: ${why}`)
      if (attempts?.some((a) => a.reused === true)) {
        row.raced++
        row.lastRaceAt = performance.now() - started
      }
    }
    await sleep(idle - 10 + Math.random() * 20)
  }
  return row
}

const kinds: Kind[] = ['GET', 'keyed POST', 'POST']
const closers: (() => Promise<unknown>)[] = []
const started = performance.now()
const runs: Promise<Row>[] = []
for (const mode of ['timer', 'lazy'] as const) {
  for (const kind of kinds) {
    const ours = await idleServer(mode)
    const client: Client = createClient({
      origin: ours.origin,
      agent: { keepAliveTimeout: 10_000, keepAliveMaxTimeout: 10_000 },
    })
    closers.push(
      () => client.close(),
      async () => ours.server.close(),
    )
    const viaClient = async (n: number) => {
      const res = await client.request('/', options(kind, n))
      await res.body.text()
      return res.attempts
    }
    runs.push(loop(mode, 'defaults', kind, viaClient, started))
    const bare = await idleServer(mode)
    const agent = new Agent({ keepAliveTimeout: 10_000, keepAliveMaxTimeout: 10_000 })
    closers.push(
      () => agent.close(),
      async () => bare.server.close(),
    )
    const viaUndici = async (n: number) => {
      const res = await request(bare.origin, { dispatcher: agent, ...options(kind, n) })
      await res.body.text()
      return undefined
    }
    runs.push(loop(mode, 'undici.request', kind, viaUndici, started))
  }
}
const rows = await Promise.all(runs)
for (const close of closers) await close()

if (args.json) {
  console.log(JSON.stringify({ machine: describeMachine(), duration, idle, rows }, null, 2))
} else {
  console.log(describeMachine())
  console.log(
    `server idle timeout ${idle} ms (no hint), client's 10 s, calls every ${idle - 10}-${idle + 10} ms for ${duration / 1000} s\n`,
  )
  console.log(
    'server  contender         kind         calls  failed  reused-socket resets  last at   first failure',
  )
  for (const row of rows) {
    const last = row.lastRaceAt === undefined ? '-' : `${(row.lastRaceAt / 1000).toFixed(1)} s`
    console.log(
      `${row.server.padEnd(7)} ${row.contender.padEnd(17)} ${row.kind.padEnd(11)} ${String(row.calls).padStart(6)} ${String(row.failed).padStart(7)}` +
        ` ${String(row.contender === 'defaults' ? row.raced : '-').padStart(21)} ${last.padStart(8)}   ${row.firstFailure ?? '-'}`,
    )
  }
}
