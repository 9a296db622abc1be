import diagnosticsChannel from 'node:diagnostics_channel'

/**
 * Collects what is published on the diagnostics channel `name` until `stop()` is called (call it
 * in `afterEach`: subscriptions are process-wide).
 */
export function recordChannel<T>(name: string): { events: T[]; stop: () => void } {
  const events: T[] = []
  const listener = (message: unknown) => events.push(message as T)
  diagnosticsChannel.subscribe(name, listener)
  return { events, stop: () => diagnosticsChannel.unsubscribe(name, listener) }
}
