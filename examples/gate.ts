// A layer of your own as a gate: it counts calls in flight per path and tags slow answers, with
// no promise of its own, so it costs a call two function calls where a middleware costs a promise
// step. Beside it, a middleware that does the same still works: gates and middleware mix in one
// stack. Run it with `node examples/gate.ts` after `npm run build`.
import { createClient, gateLayer, type Middleware } from 'netiquette'
import { createFaultServer } from 'netiquette/testing'

/** Runs the example, writing what happens through `log`. Returns the lines it logged. */
export async function main(log: (line: string) => void = console.log): Promise<string[]> {
  const lines: string[] = []
  const say = (line: string) => {
    lines.push(line)
    log(line)
  }
  const server = await createFaultServer()
  server.route('/fast', { body: 'fast' })
  server.route('/slow', { latency: 50, body: 'slow' })

  const inFlight = new Map<string, number>()
  let most = 0
  const slow: string[] = []
  // The state of one pass is the path it counted: what `response` and `error` need back.
  const counting = gateLayer<string>({
    name: 'counting',
    enter(request) {
      const now = (inFlight.get(request.path) ?? 0) + 1
      inFlight.set(request.path, now)
      most = Math.max(most, now)
      return request.path
    },
    response(path, _request, response) {
      inFlight.set(path, (inFlight.get(path) ?? 1) - 1)
      const ttfb = response.attempt.timeToHeaders ?? 0
      if (ttfb >= 45) slow.push(`${path} answered in ${Math.round(ttfb)} ms`)
    },
    error(path) {
      inFlight.set(path, (inFlight.get(path) ?? 1) - 1)
    },
  })
  // An ordinary middleware in the same stack, below the gate.
  const tagging: Middleware = (request, next) =>
    next({ ...request, headers: { ...request.headers, 'x-example': 'gate' } })

  const client = createClient({
    origin: server.url,
    middleware: (defaults) => [...defaults, counting, tagging],
  })
  try {
    await Promise.all(
      ['/fast', '/fast', '/slow', '/slow', '/slow'].map(async (path) => {
        const response = await client.request(path)
        await response.body.text()
      }),
    )
    say(`at most ${most} calls to one path were in flight at once`)
    say(`in flight now: ${[...inFlight.values()].reduce((a, b) => a + b, 0)}`)
    for (const line of slow) say(line)
    say(
      `the server saw x-example on every request: ${server.requests.every((r) => r.headers['x-example'] === 'gate')}`,
    )
  } finally {
    await client.close()
    await server.close()
  }
  return lines
}

if (import.meta.main) await main()
