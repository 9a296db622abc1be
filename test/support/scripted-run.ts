import { expect } from 'vitest'
import { QueueFullError, createClient, type Client, type ClientOptions } from '../../src/index.ts'
import type { FaultServer } from '../../src/testing/index.ts'
import { eventually } from '../integration/helpers.ts'

/**
 * The observability tests' script against a fault server: exactly one retry, one shed and one
 * circuit opening, and nothing else of note.
 *
 * 1. `GET /flaky` is answered 503 then 200: one retry, then success.
 * 2. `GET /stall` holds the only place (limit 1, no queue) until the caller aborts it; a second
 *    call meanwhile is shed with `QueueFullError`.
 * 3. `GET /down` fails twice with 500 (retries off for it): two failures in a row open the
 *    circuit.
 *
 * Calls: 5; attempts sent: 5; calls that sent something: 4.
 */
export async function scriptedRun(
  server: FaultServer,
  options: ClientOptions = {},
): Promise<Client> {
  server.route('/flaky', [503, 200])
  server.route('/stall', { stall: 'before-headers' })
  server.route('/down', { status: 500 })
  const client = createClient({
    origin: server.url,
    retry: { baseDelay: 1, maxDelay: 5 },
    concurrency: { limit: 1, maxQueue: 0 },
    breaker: { minimumCalls: 1000, consecutiveFailures: 2, openDuration: 60_000 },
    ...options,
  })

  const ok = await client.request('/flaky')
  expect(ok.statusCode).toBe(200)
  await ok.body.text()

  const holder = new AbortController()
  const held = client.request('/stall', { signal: holder.signal }).catch((error: unknown) => error)
  await eventually(() => server.stats.requests === 3)
  await expect(client.request('/stall')).rejects.toBeInstanceOf(QueueFullError)
  holder.abort()
  await held

  for (let i = 0; i < 2; i++) {
    const down = await client.request('/down', { retry: false })
    expect(down.statusCode).toBe(500)
    await down.body.dump()
  }
  expect(client.circuits?.get().state).toBe('open')
  return client
}
