/**
 * The keep-alive race: a server closes a connection that sat idle just as the client writes a
 * request on it, and the request fails with `ECONNRESET` or "other side closed" before a byte
 * of its response. The connection layer (`connections/keep-alive-watch.ts`) recognises it on the
 * socket and marks the error; the transport records `reused: true`, and the retry policy sends a
 * request that may be sent again once more at once, outside the budget (Go's
 * `shouldRetryRequest`). Declared here so that `core` and the policies read the mark without
 * depending on the connection layer.
 */
const kIdleClose = Symbol('netiquette.idleClose')

/** Marks `error` as a keep-alive race: the socket had sat idle for `idleFor` ms. */
export function markIdleClose(error: Error, idleFor: number): void {
  ;(error as unknown as Record<symbol, number>)[kIdleClose] = idleFor
}

/**
 * How long the socket had sat idle, in ms, when `error` ended a request on it because the server
 * closed the idle connection; `undefined` for any other error.
 */
export function idleCloseOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  return (error as Record<symbol, number | undefined>)[kIdleClose]
}
