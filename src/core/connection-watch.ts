/**
 * What the transport tells whoever owns the client's connections (the default agent's session
 * watch, `connections/h2-sessions.ts`), and asks it. Declared here so that `core` depends on no policy
 * folder; absent when the caller brought a dispatcher of their own.
 */
export interface ConnectionWatch {
  /** The HTTP version the origin's latest connection negotiated, if one was made. */
  protocol(origin: string): '1.1' | '2' | undefined
  /**
   * Called as an attempt is dispatched to `origin` (scheme, host and port). `undefined` when the
   * watch has nothing to follow there (no HTTP/2 session): the common case.
   */
  dispatching(origin: string, method: string): WatchedAttempt | undefined
}

/** An attempt a {@link ConnectionWatch} follows. */
export interface WatchedAttempt {
  /**
   * When set, the attempt is dispatched once it settles (an idle HTTP/2 session is being checked
   * with a PING first). Never rejects.
   */
  readonly wait: Promise<void> | undefined
  /** Called once, when the attempt has its response headers or failed. */
  settled(): void
}
