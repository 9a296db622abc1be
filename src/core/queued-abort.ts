// undici keeps the hook private; its package has no `exports` map, so the module is reachable.
import undiciSymbols from 'undici/lib/core/symbols.js'

/**
 * The dispatch option through which undici's Pool and Client let a handler take a request out of
 * their queue while it waits for a connection (undici >= 8.13; `undici.request` uses it for a
 * signal). The dispatcher calls the function under this key with a `cancel(reason)` that removes
 * the queued request and fails it through the handler's `onResponseError`. `undefined` when the
 * installed undici has no such hook: an aborted attempt then leaves the queue only once a
 * connection takes it up, as before.
 *
 * Only dispatchers of the same undici copy know the symbol: a `dispatcher` option from another
 * copy (say, the application's own undici 7) ignores it, and aborted attempts stay queued there.
 */
export const kQueuedAbort: symbol | undefined =
  typeof (undiciSymbols as Record<string, unknown>).kQueuedAbort === 'symbol'
    ? ((undiciSymbols as Record<string, unknown>).kQueuedAbort as symbol)
    : undefined
