// Soak: does anything leak? Mixed calls against a loopback fault server, then heap and handles
// compared with their baselines (faults.md items 43, 44, 45, 46, 48). Needs --expose-gc.
//
//   node --expose-gc bench/soak.ts                 # 50,000 mixed calls, 2,000 TLS failures
//   node --expose-gc bench/soak.ts --calls 6000 --tls 600 --json
//   node --expose-gc bench/soak.ts --calls 1000000 --steps 10 --tls 0   # heap every 100k calls
//
// Phases:
// 1. Mixed calls, 64 at a time, through the default stack with a small fixed limit (so calls
//    queue): ok, 503 then retried, resets before headers and mid-body, stalls cut by an attempt
//    timeout, caller aborts in flight and while queued. All share one long-lived AbortSignal, as
//    a server's shutdown signal would be. heapUsed after gc(), less compiled code, is compared
//    with its value after a warm-up; the signal's listeners must be back to none.
// 2. TLS handshakes that fail (a plain TCP server answering https), after a warm-up.
// 3. close() and destroy() with backoffs pending and calls queued: every call rejects with a
//    typed error, no timer or socket is left, and the client is garbage-collected.
import { getEventListeners } from 'node:events'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import { connect as tlsConnect } from 'node:tls'
import { parseArgs } from 'node:util'
import { getHeapSpaceStatistics } from 'node:v8'
import { NetiquetteError, createClient, type Client } from '../src/index.ts'
import { createFaultServer, seededRandom, type FaultServer } from '../src/testing/index.ts'

/** What a soak measured. Sizes in bytes. */
export interface SoakResult {
  calls: number
  /** Calls by how they ended: a status, an error code. */
  outcomes: Record<string, number>
  heapBaseline: number
  /**
   * Growth of the heap of objects after gc() (heapUsed less compiled code and bytecode, which
   * grow while the JIT warms up) over each step of the calls (a fifth of them by default). A
   * leak grows every step alike; what is left of the warm-up shows in the first step only.
   */
  heapSteps: number[]
  /** The heap of objects after gc() at the end of each step. */
  heapAfterStep: number[]
  /** Abort listeners on the shared signal once every call has settled. */
  signalListeners: number
  tlsFailures: number
  tlsHeapGrowth: number
  /** The same number of failed handshakes with bare `tls.connect`, for comparison. */
  tlsNodeHeapGrowth: number
  /** Errors that were not netiquette's or undici's typed errors, by name. */
  untyped: string[]
  /** Process warnings seen (MaxListenersExceededWarning among them). */
  warnings: string[]
  /** Unhandled rejections and uncaught exceptions. */
  escaped: string[]
  /** Resources active after close() that were not there before the client. */
  leftAfterClose: string[]
  /** After destroy() with backoffs pending and calls queued. */
  destroy: { rejections: Record<string, number>; leftAfter: string[]; collected: boolean }
}

declare const gc: (() => void) | undefined

// V8's spaces for compiled code, bytecode and their metadata. They grow while the JIT compiles
// the hot paths, for tens of thousands of calls on Node 22 (about 1 MB over a 6,000-call soak,
// released later by bytecode flushing), and hold no object of the client's: a leak shows in the
// other spaces.
const CODE_SPACES = new Set([
  'code_space',
  'code_large_object_space',
  'trusted_space',
  'trusted_large_object_space',
])

/** The heap of objects after gc(): heapUsed less what V8 holds for compiled code. */
async function collect(): Promise<number> {
  if (typeof gc !== 'function') throw new Error('run with node --expose-gc')
  for (let i = 0; i < 3; i++) {
    gc()
    await delay(10)
  }
  let code = 0
  for (const space of getHeapSpaceStatistics()) {
    if (CODE_SPACES.has(space.space_name)) code += space.space_used_size
  }
  return process.memoryUsage().heapUsed - code
}

/** Resources (by type) active now, as a multiset, so a new Timeout among old ones shows. */
function resources(): string[] {
  return process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap')
}

function added(before: string[], after: string[]): string[] {
  const left = [...before]
  const extra: string[] = []
  for (const r of after) {
    const i = left.indexOf(r)
    if (i === -1) extra.push(r)
    else left.splice(i, 1)
  }
  return extra
}

/** Waits (up to 2 s) for resources to settle back; handles close a few turns after their callback. */
async function settledResources(before: string[]): Promise<string[]> {
  let extra = added(before, resources())
  for (let i = 0; i < 200 && extra.length > 0; i++) {
    await delay(10)
    extra = added(before, resources())
  }
  return extra
}

function outcomeOf(result: PromiseSettledResult<number>): string {
  if (result.status === 'fulfilled') return String(result.value)
  const error = result.reason as { code?: unknown; name?: string }
  return typeof error?.code === 'string' ? error.code : String(error?.name)
}

function isTyped(error: unknown): boolean {
  if (error instanceof NetiquetteError) return true
  const e = error as { code?: unknown; name?: string; attempts?: unknown }
  return error instanceof Error && (typeof e.code === 'string' || e.name !== 'Error')
}

async function mixedCall(
  client: Client,
  index: number,
  random: () => number,
  shared: AbortSignal,
): Promise<number> {
  const kind = index % 8
  const path = ['/ok', '/flaky', '/reset', '/mid', '/stall', '/ok', '/abort', '/queued'][kind]
  const own = new AbortController()
  const signal = kind >= 6 ? own.signal : shared
  // Callers who give up: in flight (after the server got it), or still queued behind the limit.
  if (kind === 6) setTimeout(() => own.abort(new Error('caller left')), 5 + random() * 10).unref()
  if (kind === 7) queueMicrotask(() => own.abort(new Error('caller left while queued')))
  const response = await client.request(path as string, {
    signal,
    attemptTimeout: kind === 4 ? 30 : undefined,
  })
  await response.body.text()
  return response.statusCode
}

async function routes(server: FaultServer): Promise<void> {
  server.route('/ok', { body: { size: 2048 } })
  server.route('/flaky', (_request, index) => (index % 2 === 0 ? 503 : { body: 'ok' }))
  server.route('/reset', { reset: 'before-headers' })
  server.route('/mid', { body: { size: 64 * 1024 }, reset: 'mid-body' })
  server.route('/stall', { stall: 'before-headers' })
  server.route('/abort', { latency: 20, body: 'late' })
  server.route('/queued', { body: 'never read' })
}

async function runMixed(client: Client, count: number, shared: AbortSignal, random: () => number) {
  const outcomes: Record<string, number> = {}
  const untyped: string[] = []
  let next = 0
  const worker = async () => {
    while (next < count) {
      const [result] = await Promise.allSettled([mixedCall(client, next++, random, shared)])
      const outcome = outcomeOf(result)
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1
      if (result.status === 'rejected' && !isTyped(result.reason)) {
        untyped.push(String((result.reason as Error)?.name))
      }
    }
  }
  await Promise.all(Array.from({ length: 64 }, worker))
  return { outcomes, untyped }
}

/**
 * Failed TLS handshakes through a client, and as many bare `tls.connect` failures: Node itself
 * keeps about 1.4 KiB of heap per failed handshake (seen on Node 22.23 and 24.21, with undici or
 * without), so what a client adds is the difference.
 */
async function runTls(
  count: number,
): Promise<{ failures: number; growth: number; nodeGrowth: number }> {
  // Answers a TLS ClientHello with plain HTTP: every handshake fails.
  const sockets = new Set<Socket>()
  const tcp = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n')
  })
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve))
  const port = (tcp.address() as AddressInfo).port
  const client = createClient({ origin: `https://127.0.0.1:${port}`, retry: false, breaker: false })
  let failures = 0
  const viaClient = () =>
    client.request('/').then(
      (r) => r.body.dump(),
      () => void failures++,
    )
  const viaNode = () =>
    new Promise<void>((resolve) => {
      const socket = tlsConnect({ port, host: '127.0.0.1' })
      socket.on('error', () => socket.destroy())
      socket.on('close', () => resolve())
    })
  const run = (one: () => Promise<void>, n: number) =>
    Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = 0; i < Math.ceil(n / 8); i++) await one()
      }),
    )
  const growthOf = async (one: () => Promise<void>) => {
    await run(one, Math.ceil(count / 10))
    const baseline = await collect()
    await run(one, count)
    return (await collect()) - baseline
  }
  const growth = await growthOf(viaClient)
  const nodeGrowth = await growthOf(viaNode)
  await client.close()
  // A client that gave up on a handshake may leave the server's half-closed side open.
  for (const socket of sockets) socket.destroy()
  await new Promise<void>((resolve) => tcp.close(() => resolve()))
  return { failures, growth, nodeGrowth }
}

/**
 * Two clients with work at every stage (two calls on the wire, ten queued behind a limit of two,
 * ten sleeping in a 5 s backoff), destroyed. Returns how the calls ended and a WeakRef to the
 * limited client; in a function of its own, so no frame of the caller keeps the client alive.
 */
async function destroyBusyClients(
  server: FaultServer,
): Promise<{ rejections: Record<string, number>; ref: WeakRef<Client> }> {
  // A fixed 5 s wait, not a jittered one: a draw near 0 would retry at once, and the call could
  // end (a third 503, or a retry the budget refuses) before destroy(), which is not under test.
  const retry = { delay: () => 5_000 }
  const client = createClient({
    origin: server.url,
    retry,
    concurrency: { limit: 2, maxQueue: 100 },
  })
  const sleepers = createClient({ origin: server.url, retry })
  server.route('/always-503', { status: 503 })
  server.route('/hold', { stall: 'before-headers' })
  // allSettled at once: a rejection must have its handler before destroy() causes it.
  const settled = Promise.allSettled([
    ...Array.from({ length: 12 }, () => client.request('/hold').then((r) => r.statusCode)),
    ...Array.from({ length: 10 }, () => sleepers.request('/always-503').then((r) => r.statusCode)),
  ])
  await delay(100)
  await Promise.all([client.destroy(), sleepers.destroy()])
  const rejections: Record<string, number> = {}
  for (const result of await settled) {
    const outcome = outcomeOf(result)
    rejections[outcome] = (rejections[outcome] ?? 0) + 1
  }
  return { rejections, ref: new WeakRef(client) }
}

/** destroy() with work pending: typed rejections, nothing left running, the client collected. */
export async function runDestroy(server: FaultServer): Promise<SoakResult['destroy']> {
  const before = resources()
  const { rejections, ref } = await destroyBusyClients(server)
  const leftAfter = await settledResources(before)
  let collected = false
  for (let i = 0; i < 20 && !collected; i++) {
    await collect()
    collected = ref.deref() === undefined
  }
  return { rejections, leftAfter, collected }
}

/** Runs the soak. */
export async function runSoak(
  options: { calls?: number; tls?: number; steps?: number } = {},
): Promise<SoakResult> {
  const calls = options.calls ?? 50_000
  const tls = options.tls ?? 2_000
  const steps = options.steps ?? 5
  const warnings: string[] = []
  const escaped: string[] = []
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`)
  const onEscape = (e: unknown) => escaped.push(String((e as Error)?.stack ?? e))
  process.on('warning', onWarning)
  process.on('unhandledRejection', onEscape)
  process.on('uncaughtException', onEscape)
  // Keeps no request records: they would grow the heap up to their cap of 10,000.
  const server = await createFaultServer({ keepAliveTimeout: 60_000, maxRecorded: 0 })
  await routes(server)
  const before = resources()
  const client = createClient({
    origin: server.url,
    retry: { baseDelay: 1, maxDelay: 5 },
    concurrency: { limit: 16, maxQueue: 10_000, maxQueueWait: 5_000 },
    breaker: false,
  })
  const random = seededRandom(1)
  const shared = new AbortController().signal
  await runMixed(client, Math.min(2_000, calls), shared, random)
  const heapBaseline = await collect()
  const outcomes: Record<string, number> = {}
  const untyped: string[] = []
  const heapSteps: number[] = []
  const heapAfterStep: number[] = []
  let heap = heapBaseline
  for (let step = 0; step < steps; step++) {
    const batch = await runMixed(client, Math.ceil(calls / steps), shared, random)
    for (const [outcome, n] of Object.entries(batch.outcomes)) {
      outcomes[outcome] = (outcomes[outcome] ?? 0) + n
    }
    untyped.push(...batch.untyped)
    await delay(50) // undici drops its signal listeners a tick after a body ends
    const now = await collect()
    heapSteps.push(now - heap)
    heapAfterStep.push(now)
    heap = now
  }
  const signalListeners = getEventListeners(shared, 'abort').length
  await client.close()
  const leftAfterClose = await settledResources(before)
  const tlsResult = tls > 0 ? await runTls(tls) : { failures: 0, growth: 0, nodeGrowth: 0 }
  const destroy = await runDestroy(server)
  await server.close()
  process.off('warning', onWarning)
  process.off('unhandledRejection', onEscape)
  process.off('uncaughtException', onEscape)
  return {
    calls,
    outcomes,
    heapBaseline,
    heapSteps,
    heapAfterStep,
    signalListeners,
    tlsFailures: tlsResult.failures,
    tlsHeapGrowth: tlsResult.growth,
    tlsNodeHeapGrowth: tlsResult.nodeGrowth,
    untyped,
    warnings,
    escaped,
    leftAfterClose,
    destroy,
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      calls: { type: 'string' },
      tls: { type: 'string' },
      steps: { type: 'string' },
      json: { type: 'boolean' },
    },
  })
  const started = performance.now()
  const result = await runSoak({
    calls: values.calls === undefined ? undefined : Number(values.calls),
    tls: values.tls === undefined ? undefined : Number(values.tls),
    steps: values.steps === undefined ? undefined : Number(values.steps),
  })
  if (values.json) {
    console.log(JSON.stringify(result))
  } else {
    const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`
    console.log(
      `soak: ${result.calls} mixed calls in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    )
    console.log(`  outcomes: ${JSON.stringify(result.outcomes)}`)
    console.log(
      `  heap after gc: ${kib(result.heapBaseline)} baseline, growth per step of ${Math.ceil(result.calls / result.heapSteps.length)} calls: ${result.heapSteps.map(kib).join(', ')}`,
    )
    // Flat means: after the first step (the warm-up's leftovers), within 1% of that step's heap.
    const [first, ...later] = result.heapAfterStep
    if (first !== undefined && later.length > 0) {
      const drift = later.map((h) => (100 * (h - first)) / first)
      console.log(
        `  heap after each later step vs after the first: ${drift.map((d) => `${d >= 0 ? '+' : ''}${d.toFixed(2)}%`).join(', ')}`,
      )
    }
    console.log(`  listeners left on the shared signal: ${result.signalListeners}`)
    console.log(
      `  TLS: ${result.tlsFailures} failed handshakes, heap growth ${kib(result.tlsHeapGrowth)} (bare tls.connect: ${kib(result.tlsNodeHeapGrowth)})`,
    )
    console.log(`  destroy with backoffs and a queue: ${JSON.stringify(result.destroy)}`)
    console.log(`  left after close: ${JSON.stringify(result.leftAfterClose)}`)
    console.log(
      `  untyped ${result.untyped.length}, warnings ${result.warnings.length}, escaped ${result.escaped.length}`,
    )
  }
}
