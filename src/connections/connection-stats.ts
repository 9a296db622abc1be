/** What `client.stats()` shows of an origin's connections (its `connections` field). */
export interface ConnectionStats {
  /** The HTTP version the origin's latest connection negotiated. */
  protocol: '1.1' | '2'
  /** HTTP/2 sessions open to the origin (0 over HTTP/1.1). */
  sessions: number
  /**
   * The streams the peer lets one session carry at once (its
   * `SETTINGS_MAX_CONCURRENT_STREAMS`), the least over the open sessions; `undefined` over
   * HTTP/1.1 or before the peer's settings arrived. Beyond it undici opens another session, up
   * to `agent.connections`.
   */
  maxConcurrentStreams: number | undefined
  /**
   * How long an idle HTTP/1.1 connection to the origin is kept, in ms: `agent.keepAliveTimeout`,
   * or less once the client saw the server close idle connections sooner (the keep-alive race,
   * `docs/connections.md`). A `Keep-Alive: timeout=` hint from the server goes before it.
   */
  keepAliveTimeout: number
  /** Connections open to the origin. */
  open: number
  /** Of them, with no request on them or queued to them. */
  idle: number
  /** Of them, serving or about to serve a request. */
  busy: number
}
