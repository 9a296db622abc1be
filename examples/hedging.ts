// Hedged requests: a key-value server where one request in ten pauses for 2 s. Without hedging,
// every tenth read waits the pause out; with `hedge`, a read still waiting after the delay is
// sent again, the first answer wins, and the paused request is cancelled. Run it with
// `node examples/hedging.ts` after `npm run build`.
import { createClient, explain } from 'netiquette'
import { createFaultServer } from 'netiquette/testing'

/** Runs the example, writing what happens through `log`. Returns the lines it logged. */
export async function main(log: (line: string) => void = console.log): Promise<string[]> {
  const lines: string[] = []
  const say = (line: string) => {
    lines.push(line)
    log(line)
  }

  const server = await createFaultServer()
  // Every tenth request pauses (a GC, a compaction); the rest answer in 5 ms.
  server.route('/keys/42', (_request, index) => ({ latency: index % 10 === 5 ? 2_000 : 5 }))
  // A fixed 50 ms delay; maxExtraLoad 0.2 lets one read in five send a hedge (so not the first).
  const store = createClient({ origin: server.url, hedge: { delay: 50, maxExtraLoad: 0.2 } })
  const plain = createClient({ origin: server.url })
  try {
    for (const [name, client] of [
      ['without hedging', plain],
      ['with hedging', store],
    ] as const) {
      server.resetStats()
      const started = performance.now()
      const slowest = { ms: 0, response: undefined as unknown }
      for (let i = 0; i < 10; i++) {
        const t = performance.now()
        const response = await client.request('/keys/42')
        await response.body.text()
        if (performance.now() - t > slowest.ms) {
          slowest.ms = performance.now() - t
          slowest.response = response
        }
      }
      say(
        `${name}: 10 reads in ${Math.round(performance.now() - started)} ms, the slowest ${Math.round(slowest.ms)} ms, ${server.stats.requests} requests sent`,
      )
      say(explain(slowest.response))
    }
    const hedges = store.stats().origins[0]?.hedges
    say(`hedges sent ${hedges?.sent}, won ${hedges?.won}, refused ${hedges?.refused}`)
  } finally {
    await Promise.all([store.close(), plain.close()])
    await server.close()
  }
  return lines
}

if (import.meta.main) await main()
