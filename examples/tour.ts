// A tour of one client against a local fault server, showing what each call did and why.
// Run it with `npm run tour`. (`npm run demo` runs the failure lab, which compares netiquette
// with other clients under load: see docs/lab.md.)
import diagnosticsChannel from 'node:diagnostics_channel'
import { createClient, explain } from 'netiquette'
import { createFaultServer } from 'netiquette/testing'

/** Runs the tour, writing what happens through `log`. Returns the lines it logged. */
export async function main(log: (line: string) => void = console.log): Promise<string[]> {
  const lines: string[] = []
  const say = (line: string) => {
    lines.push(line)
    log(line)
  }

  const server = await createFaultServer()
  server.route('/charges/42', { body: JSON.stringify({ id: 42, amount: 1999 }) })
  server.route('/flaky', [503, { status: 200, body: 'finally' }])
  server.route('/charges', [503, 503, { status: 201, body: 'created' }])
  server.route('/busy', [
    { status: 503, retryAfter: 1 },
    { status: 200, body: 'ready' },
  ])
  server.route('/reset', { reset: 'before-headers' })

  // The default policies: a 30 s deadline, and up to 2 retries of what is safe to repeat.
  const client = createClient({
    origin: server.url,
    headers: { 'user-agent': 'netiquette-tour' },
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

    say('2. A GET that gets a 503 once: retried after a jittered backoff')
    const flaky = await client.request('/flaky')
    await flaky.body.dump()
    say(indent(explain(flaky)))

    say('3. A POST that gets a 503: not retried, the charge may have been made')
    const post = { method: 'POST', body: JSON.stringify({ amount: 1999 }) }
    const unkeyed = await client.request('/charges', post)
    await unkeyed.body.dump()
    say(indent(explain(unkeyed)))

    say('4. The same POST with an Idempotency-Key: retried with the same key and body')
    const keyed = await client.request('/charges', { ...post, idempotencyKey: true })
    await keyed.body.dump()
    say(indent(explain(keyed)))
    const keys = server.requests.slice(-2).map((r) => r.headers['idempotency-key'])
    say(`   the server saw the key ${String(keys[0])} on both attempts: ${keys[0] === keys[1]}`)

    say('5. A 503 with Retry-After: 1: the retry waits as the server asked')
    const busy = await client.request('/busy')
    await busy.body.dump()
    say(indent(explain(busy)))

    // The first attempt goes on a connection an earlier call left idle: a reset there looks like
    // the keep-alive race (the server closing an idle connection), and is retried at once.
    say('6. A connection reset before the headers, every time')
    try {
      await client.request('/reset')
    } catch (error) {
      say(indent(explain(error)))
    }

    say('7. A path that tries to leave the origin')
    try {
      await client.request('//evil.example/steal')
    } catch (error) {
      say(`   rejected with ${(error as { code: string }).code}, nothing sent`)
    }

    say(
      `The server saw ${server.stats.requests} requests on ${server.stats.connections} connection(s).`,
    )

    say('8. An origin that is down: its circuit opens, and later calls fail at once')
    await breakerDemo(say)
  } finally {
    diagnosticsChannel.unsubscribe('netiquette:attempt:start', onAttempt)
    await client.close()
    await server.close()
  }
  return lines
}

/**
 * A second origin that answers 500 to everything, and a client whose circuit opens after 5
 * failed calls (the default is half of at least 20 in 10 s, or 1 s without a success). A 503
 * alone would not count towards the ratio: it asks for less, which throttling answers.
 */
async function breakerDemo(say: (line: string) => void): Promise<void> {
  const down = await createFaultServer({ fallback: 500 })
  const client = createClient({
    origin: down.url,
    retry: false,
    breaker: { minimumCalls: 5 },
    onCircuitStateChange: (e) => say(`   circuit ${e.from} -> ${e.to}: ${e.reason}`),
  })
  try {
    for (let i = 0; i < 5; i++) await (await client.request('/')).body.dump()
    const started = performance.now()
    let rejected = 0
    for (let i = 0; i < 100; i++) {
      await client.request('/').catch((error: unknown) => {
        if (rejected++ === 0) say(indent(explain(error)))
      })
    }
    const each = ((performance.now() - started) * 1000) / 100
    say(`   ${rejected} more calls failed in ${Math.round(each)} µs each, none sent`)
    say(`   the down origin saw ${down.stats.requests} requests in all`)
  } finally {
    await client.close()
    await down.close()
  }
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `   ${line}`)
    .join('\n')
}

if (import.meta.main) await main()
