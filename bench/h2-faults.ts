// HTTP/2 faults, netiquette's defaults against bare undici (and the naive fetch wrapper) on the
// same fault server, h2 over TLS on loopback. Prints, for each fault, how each client ended:
//
//   node bench/h2-faults.ts                 # every part
//   node bench/h2-faults.ts --only rolling  # table | rolling | dead | streams
//
// - table: a refused stream (4 in a row), a stream reset before the headers (INTERNAL_ERROR),
//   and a session gone silent, for GET, keyed POST and POST.
// - rolling: 100 calls/s for 10 s while the server sends every session GOAWAY and closes it
//   once a second (a rolling restart): the share of failed calls per client.
// - dead: after warm-up the session stops answering (PINGs too); 20 calls with a 5 s deadline.
// - streams: a peer allowing 1 concurrent stream, 20 calls at once with a 5 s deadline.
import { parseArgs } from 'node:util'
import { setTimeout as delay } from 'node:timers/promises'
import { Agent, fetch as undiciFetch, request, type Dispatcher } from 'undici'
import { createClient, type Client } from '../src/index.ts'
import { createFaultServer, type Fault, type FaultServer } from '../src/testing/index.ts'

const { values: args } = parseArgs({ options: { only: { type: 'string' } } })
const parts = ['table', 'rolling', 'dead', 'streams']
if (args.only !== undefined && !parts.includes(args.only)) {
  throw new Error(`--only is one of ${parts.join(', ')}`)
}
const run = (part: string) => args.only === undefined || args.only === part

interface Outcome {
  ok: boolean
  label: string
  ms: number
}

type Caller = (path: string, method: string, headers?: Record<string, string>) => Promise<Outcome>

function netiquette(server: FaultServer, deadline?: number): { call: Caller; client: Client } {
  const client = createClient({
    origin: server.url,
    agent: { connect: { ca: server.ca } },
    ...(deadline === undefined ? {} : { deadline }),
  })
  return {
    client,
    call: async (path, method, headers) => {
      const start = performance.now()
      try {
        const response = await client.request(path, {
          method,
          headers,
          body: method === 'POST' ? 'order' : undefined,
        })
        const attempts = response.attempts.map((a) => a.h2Error ?? a.statusCode).join(' ')
        try {
          await response.body.text()
        } catch (error) {
          // Committed: the response was handed over, and a body that fails is not retried.
          return { ok: false, label: `${label(error)} in the body`, ms: ms(start) }
        }
        return { ok: true, label: `${response.statusCode} (${attempts})`, ms: ms(start) }
      } catch (error) {
        return { ok: false, label: label(error), ms: ms(start) }
      }
    },
  }
}

function bare(server: FaultServer, timeout?: number): { call: Caller; agent: Dispatcher } {
  const agent = new Agent({ connect: { ca: server.ca } })
  return {
    agent,
    call: async (path, method, headers) => {
      const start = performance.now()
      try {
        const response = await request(server.url + path, {
          dispatcher: agent,
          method: method as Dispatcher.HttpMethod,
          headers,
          body: method === 'POST' ? 'order' : undefined,
          ...(timeout === undefined ? {} : { signal: AbortSignal.timeout(timeout) }),
        })
        await response.body.text()
        return { ok: response.statusCode < 300, label: String(response.statusCode), ms: ms(start) }
      } catch (error) {
        return { ok: false, label: label(error), ms: ms(start) }
      }
    },
  }
}

/** The lab's naive wrapper: undici fetch, 3 retries of anything 200 ms apart, no deadline. */
function naive(server: FaultServer): { call: Caller; agent: Dispatcher } {
  const agent = new Agent({ connect: { ca: server.ca } })
  return {
    agent,
    call: async (path, method) => {
      const start = performance.now()
      let last = ''
      for (let tries = 0; tries <= 3; tries++) {
        try {
          const response = await undiciFetch(server.url + path, { dispatcher: agent, method })
          await response.text()
          if (response.ok) return { ok: true, label: String(response.status), ms: ms(start) }
          last = String(response.status)
        } catch (error) {
          last = label(error)
        }
        await delay(200)
      }
      return { ok: false, label: last, ms: ms(start) }
    },
  }
}

type Contender = { call: Caller; client: Client } | { call: Caller; agent: Dispatcher }

async function closeAll(contender: Contender, server: FaultServer): Promise<void> {
  if ('client' in contender) await contender.client.destroy()
  else await contender.agent.destroy()
  await server.close()
}

/** `20 200 (UNRESPONSIVE 200), 1 fails: ...`: how many calls ended each way. */
function tally(outcomes: readonly Outcome[], prefixFailures = false): string {
  const labels = new Map<string, number>()
  for (const o of outcomes) {
    const key = o.ok || !prefixFailures ? o.label : `fails: ${o.label}`
    labels.set(key, (labels.get(key) ?? 0) + 1)
  }
  return [...labels].map(([l, n]) => `${n} ${l}`).join(', ') || '-'
}

function ms(start: number): number {
  return Math.round(performance.now() - start)
}

function label(error: unknown): string {
  const e = error as { code?: unknown; cause?: { code?: unknown }; message?: string; name?: string }
  // A DOMException's code is a number (23 for a TimeoutError): its name says more.
  const code =
    typeof e.code === 'string'
      ? e.code
      : typeof e.cause?.code === 'string'
        ? e.cause.code
        : (e.name ?? 'Error')
  const h2 = /NGHTTP2_[A-Z_]+/.exec(e.message ?? '')?.[0]
  return h2 === undefined ? code : `${code} ${h2}`
}

async function h2Server(options: Parameters<typeof createFaultServer>[0] = {}) {
  return createFaultServer({ tls: true, http2: true, maxRecorded: 0, ...options })
}

const GRACE = 25
const refused: Fault = { reset: 'before-headers', resetCode: 'REFUSED_STREAM' }

if (run('table')) {
  console.log('## What the server does, and how each client ends (h2 over TLS, loopback)\n')
  console.log('| fault | request | netiquette (defaults) | bare undici.request |')
  console.log('|---|---|---|---|')
  const faults: [string, Fault[] | 'silent'][] = [
    ['REFUSED_STREAM on 4 streams in a row', [refused, refused, refused, refused, 200]],
    ['INTERNAL_ERROR reset before the headers', [{ reset: 'before-headers' }, 200]],
    ['the session goes silent (PINGs unanswered)', 'silent'],
  ]
  const requests: [string, string, Record<string, string> | undefined][] = [
    ['GET', 'GET', undefined],
    ['POST with Idempotency-Key', 'POST', { 'idempotency-key': 'k-1' }],
    ['POST', 'POST', undefined],
  ]
  for (const [fault, script] of faults) {
    for (const [name, method, headers] of requests) {
      const cells: string[] = []
      for (const which of ['netiquette', 'bare'] as const) {
        const server = await h2Server()
        const ours = which === 'netiquette' ? netiquette(server, 5_000) : undefined
        const theirs = which === 'bare' ? bare(server, 10_000) : undefined
        const call = (ours?.call ?? theirs?.call) as Caller
        await call('/warm', 'GET')
        if (script === 'silent') server.silenceConnections()
        else server.route('/x', script)
        const outcome = await call('/x', method, headers)
        cells.push(`${outcome.ok ? 'ok' : 'fails'}: ${outcome.label}, ${outcome.ms} ms`)
        await ours?.client.destroy()
        await theirs?.agent.destroy()
        await server.close()
      }
      console.log(`| ${fault} | ${name} | ${cells.join(' | ')} |`)
    }
  }
  console.log(
    '\nbare undici: no deadline of its own; the silent row is cut by the bench at 10 s (its headers timeout is 300 s).\n',
  )
}

if (run('rolling')) {
  const rate = 100
  const seconds = 10
  console.log(
    `## Rolling restart over h2: ${rate} calls/s for ${seconds} s; each second every session is sent GOAWAY and destroyed ${GRACE} ms later (responses take 5-50 ms)\n`,
  )
  console.log('| client | calls | failed | share | outcomes of the failed |')
  console.log('|---|---|---|---|---|')
  for (const which of ['netiquette', 'bare', 'naive'] as const) {
    const server = await h2Server()
    server.route('/x', { latency: { min: 5, max: 50 } })
    const client =
      which === 'netiquette' ? netiquette(server) : which === 'bare' ? bare(server) : naive(server)
    await client.call('/warm', 'GET')
    // A pod that exits 25 ms after its GOAWAY: streams still in service then are reset.
    const roll = setInterval(() => server.goAway(GRACE), 1_000)
    const calls: Promise<Outcome>[] = []
    const start = performance.now()
    for (let i = 0; i < rate * seconds; i++) {
      const due = start + (i * 1_000) / rate
      const wait = due - performance.now()
      if (wait > 0) await delay(wait)
      calls.push(client.call('/x', 'GET'))
    }
    const outcomes = await Promise.all(calls)
    clearInterval(roll)
    const failed = outcomes.filter((o) => !o.ok)
    const share = ((100 * failed.length) / outcomes.length).toFixed(2)
    const what = tally(failed)
    const name = {
      netiquette: 'netiquette (defaults)',
      bare: 'bare undici.request',
      naive: 'naive fetch wrapper',
    }[which]
    console.log(`| ${name} | ${outcomes.length} | ${failed.length} | ${share}% | ${what} |`)
    await closeAll(client, server)
  }
  console.log()
}

if (run('dead')) {
  console.log('## Dead session: after warm-up the session stops answering; 20 GETs at once\n')
  console.log('| client | succeeded | slowest | outcomes |')
  console.log('|---|---|---|---|')
  for (const which of ['netiquette', 'bare'] as const) {
    const server = await h2Server()
    const client = which === 'netiquette' ? netiquette(server, 5_000) : bare(server, 10_000)
    for (let i = 0; i < 3; i++) await client.call('/warm', 'GET')
    server.silenceConnections()
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => client.call('/x', 'GET')))
    const name = which === 'netiquette' ? 'netiquette (deadline 5 s)' : 'bare undici (cut at 10 s)'
    console.log(
      `| ${name} | ${outcomes.filter((o) => o.ok).length}/20 | ${Math.max(...outcomes.map((o) => o.ms))} ms | ${tally(outcomes, true)} |`,
    )
    await closeAll(client, server)
  }
  console.log()
}

if (run('streams')) {
  console.log('## A peer allowing 1 concurrent stream, 20 GETs at once (each served in 10 ms)\n')
  console.log('| client | succeeded | slowest |')
  console.log('|---|---|---|')
  for (const which of ['netiquette', 'bare'] as const) {
    const server = await h2Server({ maxConcurrentStreams: 1 })
    server.route('/x', { latency: 10 })
    const client = which === 'netiquette' ? netiquette(server, 5_000) : bare(server, 10_000)
    await client.call('/warm', 'GET')
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => client.call('/x', 'GET')))
    const name = which === 'netiquette' ? 'netiquette (deadline 5 s)' : 'bare undici'
    console.log(
      `| ${name} | ${outcomes.filter((o) => o.ok).length}/20 | ${Math.max(...outcomes.map((o) => o.ms))} ms |`,
    )
    await closeAll(client, server)
  }
  console.log()
}
