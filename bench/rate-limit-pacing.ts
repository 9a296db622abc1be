// Learned pacing (issue 22): an origin that answers 429 above 50 requests/s, offered 200/s by one
// client with `rateLimit: true` (nothing configured, the rate is learned). Reports, per variant,
// the share of 429s and the goodput in seconds 10-20 of a 20 s run, and the first second after
// which 429s stay under 5%. Real loopback sockets; `node bench/rate-limit-pacing.ts [--json]`.
import { createClient } from '../src/index.ts'
import { createFaultServer, type Fault } from '../src/testing/index.ts'

const LIMIT = 50
const OFFERED = 200
const SECONDS = 20
const MEASURED_FROM = 10

type Window = 'sliding' | 'fixed'

/** The origin: at most LIMIT accepted per second (sliding or fixed window), the rest 429. */
function limitedOrigin(window: Window, headers: boolean) {
  const accepted: number[] = []
  let windowStart = 0
  let used = 0
  return (): Fault => {
    const now = performance.now()
    if (window === 'sliding') {
      while (accepted.length > 0 && (accepted[0] as number) <= now - 1000) accepted.shift()
      if (accepted.length >= LIMIT) return { status: 429, body: 'slow down' }
      accepted.push(now)
      return 200
    }
    if (now - windowStart >= 1000) {
      windowStart = now - ((now - windowStart) % 1000)
      used = 0
    }
    const reset = String(Math.max(0, (windowStart + 1000 - now) / 1000).toFixed(3))
    const quota = (remaining: number): Record<string, string> =>
      headers
        ? {
            'ratelimit-limit': String(LIMIT),
            'ratelimit-remaining': String(remaining),
            'ratelimit-reset': reset,
          }
        : {}
    if (used >= LIMIT) return { status: 429, body: 'slow down', headers: quota(0) }
    used++
    return { status: 200, headers: quota(LIMIT - used) }
  }
}

interface Result {
  variant: string
  sent: number[]
  throttled: number[]
  ok: number[]
}

async function run(window: Window, headers: boolean, learn: boolean): Promise<Result> {
  const server = await createFaultServer()
  const answer = limitedOrigin(window, headers)
  const sent: number[] = Array(SECONDS).fill(0)
  const throttled: number[] = Array(SECONDS).fill(0)
  const ok: number[] = Array(SECONDS).fill(0)
  const start = performance.now()
  server.route('/x', () => {
    const second = Math.floor((performance.now() - start) / 1000)
    const fault = answer()
    if (second < SECONDS) {
      sent[second] = (sent[second] ?? 0) + 1
      if ((typeof fault === 'number' ? fault : fault.status) === 429)
        throttled[second] = (throttled[second] ?? 0) + 1
    }
    return fault
  })
  const client = createClient({
    origin: server.url,
    deadline: 1000,
    rateLimit: learn ? true : false,
  })
  const calls: Promise<void>[] = []
  for (let i = 0; i < OFFERED * SECONDS; i++) {
    const due = start + (i * 1000) / OFFERED
    const wait = due - performance.now()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    const second = Math.floor((performance.now() - start) / 1000)
    calls.push(
      client.request('/x').then(
        async (response) => {
          await response.body.dump()
          if (response.statusCode === 200 && second < SECONDS) ok[second] = (ok[second] ?? 0) + 1
        },
        () => undefined,
      ),
    )
  }
  await Promise.all(calls)
  await client.close()
  await server.close()
  const variant = `${window} window${headers ? ', RateLimit headers' : ''}${learn ? '' : ', no rate limit'}`
  return { variant, sent, throttled, ok }
}

function summarize(r: Result) {
  const from = MEASURED_FROM
  const sum = (a: number[]) => a.slice(from).reduce((x, y) => x + y, 0)
  const share = sum(r.throttled) / Math.max(1, sum(r.sent))
  const goodput = sum(r.ok) / (SECONDS - from)
  let settled = SECONDS
  for (let s = SECONDS - 1; s >= 0; s--) {
    if ((r.throttled[s] as number) / Math.max(1, r.sent[s] as number) >= 0.05) break
    settled = s
  }
  return { variant: r.variant, share429: share, goodput, under5From: settled, perSecond: r }
}

const json = process.argv.includes('--json')
const results = []
for (const [window, headers, learn] of [
  ['sliding', false, false],
  ['sliding', false, true],
  ['fixed', false, true],
  ['fixed', true, true],
] as const) {
  const s = summarize(await run(window, headers, learn))
  results.push(s)
  if (!json) {
    console.log(
      `${s.variant.padEnd(36)} 429s ${(s.share429 * 100).toFixed(1).padStart(5)}%  goodput ${s.goodput.toFixed(1).padStart(5)}/s (${(s.goodput / LIMIT).toFixed(2)}x the limit)  429s < 5% from second ${s.under5From}`,
    )
    console.log(
      `  per second: sent ${s.perSecond.sent.join(' ')}\n              429 ${s.perSecond.throttled.join(' ')}`,
    )
  }
}
if (json) console.log(JSON.stringify(results))
