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
