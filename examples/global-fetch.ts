// Existing fetch() code gets the policies without changing a call site: one client's dispatcher
// becomes the process's global dispatcher, hooks log what the policies decide, and stats() shows
// the origin afterwards. Run it with `node examples/global-fetch.ts` after `npm run build`.
import { getGlobalDispatcher, setGlobalDispatcher } from 'undici'
import { createClient } from 'netiquette'
import { createFaultServer } from 'netiquette/testing'

/** Runs the example, writing what happens through `log`. Returns the lines it logged. */
export async function main(log: (line: string) => void = console.log): Promise<string[]> {
  const lines: string[] = []
  const say = (line: string) => {
    lines.push(line)
    log(line)
  }

  const server = await createFaultServer()
  server.route('/inventory', [503, { status: 200, body: '{"widgets":3}' }])
  const client = createClient({
    deadline: 5_000,
    retry: { baseDelay: 10, maxDelay: 50 },
    onRetry: (e) => say(`retrying ${e.method} ${e.path} in ${Math.round(e.delay)} ms: ${e.reason}`),
  })
  const previous = getGlobalDispatcher()
  setGlobalDispatcher(client.dispatcher)
  try {
    // Plain global fetch, as a library deep in the dependency tree would call it.
    const response = await fetch(`${server.url}/inventory`)
    say(`fetch got ${response.status}: ${await response.text()}`)
    say(`the server saw ${server.stats.requests} requests`)

    const [stats] = client.stats().origins
    if (stats !== undefined) {
      say(
        `stats: ${stats.calls} call, ${stats.attempts} attempts, ${stats.retriesAllowed} retry allowed, circuit ${stats.circuit}, limit ${stats.limit}, p50 ${stats.latency.p50} ms`,
      )
    }
  } finally {
    setGlobalDispatcher(previous)
    await client.close()
    await server.close()
  }
  return lines
}

if (import.meta.main) await main()
