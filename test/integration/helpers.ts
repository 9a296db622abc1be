import { setTimeout as delay } from 'node:timers/promises'

/**
 * Polls `check` until it holds or `timeoutMs` passes. Some teardown completes a turn or two after
 * the promise that started it resolves (a closed server frees its handle on a later tick; undici
 * drops its signal listener a tick after the body ends), so tests wait for the state, not a fixed
 * time.
 */
export async function eventually(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = performance.now() + timeoutMs
  while (!check()) {
    if (performance.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`)
    await delay(5)
  }
}

/**
 * The two protocols a face's tests run on, for `describe.each`: undici offers h2 to every https
 * origin, so a behaviour tested on HTTP/1.1 alone is half tested. `version` is what the fault
 * server records as each request's `httpVersion`.
 */
export const BOTH_PROTOCOLS = [
  { name: 'HTTP/1.1', h2: false, version: '1.1' },
  { name: 'HTTP/2 (TLS)', h2: true, version: '2.0' },
] as const

/** The agent options a client of `server` needs: its CA, when it serves TLS. */
export function agentTrusting(server: { ca?: string }): { connect?: { ca: string } } {
  return server.ca === undefined ? {} : { connect: { ca: server.ca } }
}
