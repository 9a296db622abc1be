// The quick-start demo: a client against a local fault server, showing what each call did.
// Run it with `npm run demo`. The later failure lab replaces it with side-by-side scenarios.
import diagnosticsChannel from 'node:diagnostics_channel'
import { createClient, discardResponse, explain, type Middleware } from 'netiquette'
import { createFaultServer } from 'netiquette/testing'

/** Runs the demo, writing what happens through `log`. Returns the lines it logged. */
export async function main(log: (line: string) => void = console.log): Promise<string[]> {
  const lines: string[] = []
  const say = (line: string) => {
    lines.push(line)
    log(line)
  }

  const server = await createFaultServer()
  server.route('/charges/42', { body: JSON.stringify({ id: 42, amount: 1999 }) })
  server.route('/flaky', [503, { status: 200, body: 'finally' }])
  server.route('/reset', { reset: 'before-headers' })

  // A tiny hand-written policy, to show the middleware shape: one retry of a 503, with the
  // discarded body dumped so its socket goes back to the pool. The real retry policy (jitter,
  // budgets, idempotency rules) is its own module.
  const retryOnce503: Middleware = async (request, next) => {
    const first = await next(request)
    if (first.statusCode !== 503) return first
    first.attempt.decision = {
      action: 'retry',
      reason: 'demo middleware retries one 503',
      delay: 0,
    }
    discardResponse(first)
    return next(request)
  }

  const client = createClient({
    origin: server.url,
    headers: { 'user-agent': 'netiquette-demo' },
    middleware: [retryOnce503],
  })

  const onAttempt = (message: unknown) => {
    const { attempt } = message as { attempt: { number: number; path: string } }
    say(`  [diagnostics_channel] attempt #${attempt.number} to ${attempt.path}`)
  }
  diagnosticsChannel.subscribe('netiquette:attempt:start', onAttempt)

  try {
    say('1. A plain GET')
    const ok = await client.request('/charges/42')
    say(`   body: ${await ok.body.text()}`)
    say(indent(explain(ok)))

    say('2. An origin that answers 503 once (the demo middleware retries it)')
    const flaky = await client.request('/flaky')
    await flaky.body.dump()
    say(indent(explain(flaky)))

    say('3. A connection reset before the headers')
    try {
      await client.request('/reset')
    } catch (error) {
      say(indent(explain(error)))
    }

    say('4. A path that tries to leave the origin')
    try {
      await client.request('//evil.example/steal')
    } catch (error) {
      say(`   rejected with ${(error as { code: string }).code}, nothing sent`)
    }

    say(
      `The server saw ${server.stats.requests} requests on ${server.stats.connections} connection(s).`,
    )
  } finally {
    diagnosticsChannel.unsubscribe('netiquette:attempt:start', onAttempt)
    await client.close()
    await server.close()
  }
  return lines
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `   ${line}`)
    .join('\n')
}

if (import.meta.main) await main()
