import { isIP } from 'node:net'
import { Agent, EnvHttpProxyAgent, ProxyAgent, buildConnector, type Dispatcher } from 'undici'
import { InvalidOptionError, describeValue } from '../errors.ts'
import {
  checkKnownKeys,
  intInRange,
  isPlainObject,
  positiveMs,
  optionsArgument,
} from '../core/validate.ts'
import {
  DEFAULT_HTTP2_OPTIONS,
  H2Sessions,
  type Http2Options,
  type ResolvedHttp2Options,
} from './h2-sessions.ts'
import { KeepAliveWatch } from './keep-alive-watch.ts'
import { ConnectionCap, type ConnectionTotals } from './connection-cap.ts'
import type { ConnectionStats } from './connection-stats.ts'
import { WarmConnections } from './warm-connections.ts'
import { timedConnector } from './connection-facts.ts'
import { followRequestSockets } from './request-sockets.ts'
import {
  DEFAULT_RACE_OPTIONS,
  racingConnector,
  type RaceOptions,
  type RacingConnectorSettings,
  type ResolvedRaceOptions,
} from './racing-connector.ts'

/**
 * Settings of the undici Agent a client creates when it is not given a dispatcher. Every timeout is
 * finite: undici's own defaults (300 s for headers and body) hold a socket and a caller far longer
 * than any service-to-service call should take.
 */
export interface AgentOptions {
  /**
   * Time to establish a TCP (and TLS) connection, in ms. Linux retransmits a lost SYN after 1 s
   * and again 2 s later; 5 s lets both retransmits land, and a connect that has not finished by
   * then is black-holed, not slow.
   * @defaultValue 5000
   */
  connectTimeout?: number
  /**
   * Time from sending the request until the response headers arrive, in ms. Bounds a server that
   * accepts the request and never answers. The call deadline, where set, cuts in sooner.
   * @defaultValue 30000
   */
  headersTimeout?: number
  /**
   * Longest gap between two chunks of the response body, in ms. An idle timeout, not a total:
   * a body that trickles in one byte per second never trips it (the call deadline bounds that).
   * @defaultValue 30000
   */
  bodyTimeout?: number
  /**
   * How long an idle keep-alive socket is kept, in ms, when the server sends no `Keep-Alive`
   * hint. Below the idle timeouts of common servers (Node's `http` server closes idle sockets after
   * 5 s, nginx 75 s, AWS ALB 60 s), so the client closes first; otherwise a request written just as
   * the server closes the socket fails with ECONNRESET (the keep-alive race).
   * @defaultValue 4000
   */
  keepAliveTimeout?: number
  /**
   * Upper bound, in ms, on a keep-alive time the server announces in its `Keep-Alive` header.
   * @defaultValue 60000
   */
  keepAliveMaxTimeout?: number
  /**
   * Most connections per origin. With the concurrency limiter on (the default), it defaults to
   * the limiter's `maxLimit` instead, one connection per attempt in flight.
   * @defaultValue the concurrency limiter's `maxLimit` (200), or 128 with `concurrency: false`
   */
  connections?: number
  /**
   * TLS and socket settings of each connection, as undici's `connect`: a private CA (`ca`),
   * a client certificate for mTLS (`cert`, `key`), `servername`, `rejectUnauthorized`... Or a
   * connector function, undici's `buildConnector` form, which then owns the whole connect
   * (`connectTimeout` cannot be combined with it). `timeout` is refused here: use
   * `connectTimeout`, so that there is one place for it and its default stays.
   * @defaultValue none: Node's TLS defaults and `connectTimeout`
   * @example
   * ```ts
   * createClient({ agent: { connect: { ca: readFileSync('internal-ca.pem') } } })
   * ```
   */
  connect?: buildConnector.BuildOptions | buildConnector.connector
  /**
   * Offer HTTP/2 in the TLS handshake. undici 8 already does (`null` and `true` mean on): an
   * https origin that picks h2 gets it, with the same policies; `false` keeps HTTP/1.1.
   * @defaultValue undici's: on, over TLS only (cleartext HTTP/2 is not negotiated)
   */
  allowH2?: boolean
  /**
   * Health of HTTP/2 sessions: a PING when a session goes quiet while calls wait on it, a
   * timeout for its answer, and a maximum age and request count after which a session drains
   * (see {@link Http2Options} and `docs/http2.md`). `false` leaves sessions to undici alone.
   * Connections made through a `proxy` are left to undici.
   * @defaultValue the defaults of {@link Http2Options}
   */
  http2?: Http2Options | false
  /**
   * Most connections open at once across all origins (`http.Agent`'s `maxTotalSockets`). A new
   * connection past it first closes the least recently used idle connection of any origin, else
   * waits in a bounded queue for one to close or go idle: until its call's deadline (undici
   * cancels a connect whose request was aborted), at most `headersTimeout`; it then fails with
   * `ConnectionLimitError` (`NQ_CONNECTION_LIMIT`), nothing sent. A client that calls
   * many origins (webhooks, a gateway) would otherwise open sockets without bound.
   * @defaultValue 512 (half the common soft limit of 1,024 file descriptors, leaving the rest to
   *   the process's inbound connections and files; raise it with `ulimit -n`)
   */
  totalConnections?: number
  /**
   * Connections to keep open or opening per connection in use, for HTTP/1.1 (Envoy's
   * `per_upstream_preconnect_ratio`): each time undici asks for a new connection to an origin,
   * more are opened ahead and kept, so that a growing burst finds connections ready rather than
   * paying a handshake on its critical path. 1.5 with 4 connections busy keeps 6 open or opening.
   * The extra connections are made as any other (raced, counted against `totalConnections`),
   * at most `connections` per origin, and closed after the origin's keep-alive timeout if unused.
   * Not for HTTP/2 origins: one session carries every request. From 1 to 3, as Envoy allows.
   * @defaultValue 1 (off): every connection opened ahead is held by the server whether a request
   *   comes or not; opt in for bursty traffic to origins whose handshakes are costly (TLS, far)
   */
  preconnect?: number
  /**
   * Race slow connects (see {@link RaceOptions} and `docs/connections.md`): a connect still
   * pending after the connection attempt delay is raced by another, to the origin's next address
   * (Happy Eyeballs, RFC 8305) or, with one address, by a new SYN to the same one, at most 3 at
   * once; the first to finish wins. This replaces Node's `autoSelectFamily`, which tries one
   * address at a time. Not with a connector function in `connect`, nor through a `proxy`.
   * @defaultValue on, with the defaults of {@link RaceOptions}: a lost SYN otherwise costs the
   *   call Linux's 1 s retransmit, 3 s if the retransmit is lost too
   */
  race?: RaceOptions | boolean
  /**
   * Largest response head, in bytes, before the response fails with `UND_ERR_HEADERS_OVERFLOW`.
   * @defaultValue Node's `--max-http-header-size` (16 KiB)
   */
  maxHeaderSize?: number
  /**
   * Largest response body, in bytes, before the response fails (`UND_ERR_RES_EXCEEDED_MAX_SIZE`);
   * -1 for none.
   * @defaultValue -1 (none: the deadline bounds a body's time, not its size)
   */
  maxResponseSize?: number
  /**
   * Local address connections are made from (a source IP of a multi-homed host).
   * @defaultValue the OS's choice
   */
  localAddress?: string
  /**
   * Requests in flight per connection. 1 is plain keep-alive; more pipelines, which a retry
   * cannot tell apart from a lost request, so raise it only for origins you know.
   * @defaultValue 1
   */
  pipelining?: number
  /** Requests a connection serves before it is closed, 0 for no limit. @defaultValue 0 */
  maxRequestsPerClient?: number
  /**
   * Node's Happy Eyeballs: try IPv6 and IPv4 addresses in turn. With `race` on (the default) the
   * racing connector tries the addresses instead, and `false` here limits it to the first address
   * the name resolves to.
   * @defaultValue Node's (`net.getDefaultAutoSelectFamily()`)
   */
  autoSelectFamily?: boolean
  /**
   * Wait for one address before trying the next, in ms (with `autoSelectFamily` and `race: false`;
   * a racing connector waits its own connection attempt delay).
   * @defaultValue Node's (250)
   */
  autoSelectFamilyAttemptTimeout?: number
  /**
   * Send through a proxy, on undici's own proxy agents with every other setting kept.
   * - `'env'` reads `HTTP_PROXY` and `HTTPS_PROXY` (or their lower-case forms) when the client
   *   is created, and `NO_PROXY` at each request, as undici's `EnvHttpProxyAgent` does.
   * - A URL sends everything through that proxy; credentials in it
   *   (`http://user:pass@proxy:3128`) become `Proxy-Authorization`.
   *
   * https origins are tunnelled with CONNECT, http ones forwarded. A `connect` object applies to
   * the origin's TLS.
   * @defaultValue none: environment variables are ignored unless asked, as undici does, so a
   *   proxy meant for other tools does not silently reroute service traffic
   */
  proxy?: 'env' | string | URL
}

/** The settings of {@link AgentOptions} that have no default of ours: undici's apply. */
type TransportSettings = Pick<
  AgentOptions,
  | 'connect'
  | 'http2'
  | 'allowH2'
  | 'maxHeaderSize'
  | 'maxResponseSize'
  | 'localAddress'
  | 'pipelining'
  | 'maxRequestsPerClient'
  | 'autoSelectFamily'
  | 'autoSelectFamilyAttemptTimeout'
  | 'proxy'
>

/** Validated {@link AgentOptions}: ours with their defaults, undici's where given. */
export type ResolvedAgentOptions = Required<Omit<AgentOptions, keyof TransportSettings | 'race'>> &
  Omit<TransportSettings, 'http2'> & {
    http2: ResolvedHttp2Options | false
    race: ResolvedRaceOptions | false
  }

/** The defaults of {@link AgentOptions}, with their reasons in its TSDoc. */
export const DEFAULT_AGENT_OPTIONS: Readonly<
  Required<
    Pick<
      AgentOptions,
      | 'connectTimeout'
      | 'headersTimeout'
      | 'bodyTimeout'
      | 'keepAliveTimeout'
      | 'keepAliveMaxTimeout'
      | 'connections'
      | 'totalConnections'
      | 'preconnect'
    >
  >
> = Object.freeze({
  connectTimeout: 5_000,
  headersTimeout: 30_000,
  bodyTimeout: 30_000,
  keepAliveTimeout: 4_000,
  keepAliveMaxTimeout: 60_000,
  totalConnections: 512,
  preconnect: 1,
  // undici's default is unbounded; a burst against a slow origin would then open one socket per
  // request. Without the concurrency limiter, 128 keeps file descriptors per origin bounded; with
  // it, the client uses the limiter's maxLimit, so that every place has its connection.
  connections: 128,
})

const TRANSPORT_KEYS = [
  'connect',
  'allowH2',
  'maxHeaderSize',
  'maxResponseSize',
  'localAddress',
  'pipelining',
  'maxRequestsPerClient',
  'autoSelectFamily',
  'autoSelectFamilyAttemptTimeout',
  'proxy',
] as const
const KNOWN = [...Object.keys(DEFAULT_AGENT_OPTIONS), ...TRANSPORT_KEYS, 'http2', 'race']
const HTTP2_KEYS = Object.keys(DEFAULT_HTTP2_OPTIONS)

function resolveHttp2Options(options: unknown): ResolvedHttp2Options | false {
  if (options === undefined) return DEFAULT_HTTP2_OPTIONS
  if (options === false) return false
  if (!isPlainObject(options)) {
    throw new InvalidOptionError('agent.http2', options, 'an object of HTTP/2 settings, or false')
  }
  checkKnownKeys('agent.http2', options, HTTP2_KEYS)
  const resolved = { ...DEFAULT_HTTP2_OPTIONS }
  for (const key of HTTP2_KEYS as (keyof ResolvedHttp2Options)[]) {
    const value = options[key]
    if (value === undefined) continue
    resolved[key] =
      key === 'pingAfter' || key === 'pingTimeout'
        ? positiveMs(`agent.http2.${key}`, value)
        : intInRange(`agent.http2.${key}`, value, 0, Number.MAX_SAFE_INTEGER)
  }
  return resolved
}

function resolveRaceOptions(options: unknown): ResolvedRaceOptions | false {
  if (options === undefined || options === true) return DEFAULT_RACE_OPTIONS
  if (options === false) return false
  if (!isPlainObject(options)) {
    throw new InvalidOptionError(
      'agent.race',
      options,
      'true, false or an object { delay, maxShare }',
    )
  }
  checkKnownKeys('agent.race', options, ['delay', 'maxShare'])
  const resolved: ResolvedRaceOptions = { ...DEFAULT_RACE_OPTIONS }
  if (options.delay !== undefined) resolved.delay = positiveMs('agent.race.delay', options.delay)
  const { maxShare } = options
  if (maxShare !== undefined) {
    if (typeof maxShare !== 'number' || !(maxShare >= 0 && maxShare <= 1)) {
      throw new InvalidOptionError('agent.race.maxShare', maxShare, 'a number from 0 to 1')
    }
    resolved.maxShare = maxShare
  }
  return resolved
}

/** Validates `agent` options and merges them over the defaults. */
// Long (about 95 lines): one check per Agent option, in the order AgentOptions documents them;
// split, the list of what is checked would be spread over helpers that each check one line.
export function resolveAgentOptions(options: unknown): ResolvedAgentOptions {
  if (options === undefined) {
    return { ...DEFAULT_AGENT_OPTIONS, http2: DEFAULT_HTTP2_OPTIONS, race: DEFAULT_RACE_OPTIONS }
  }
  optionsArgument('agent', options)
  checkKnownKeys('agent', options, KNOWN)
  const resolved: ResolvedAgentOptions = {
    ...DEFAULT_AGENT_OPTIONS,
    http2: resolveHttp2Options(options.http2),
    race: resolveRaceOptions(options.race),
  }
  for (const key of Object.keys(DEFAULT_AGENT_OPTIONS) as (keyof typeof DEFAULT_AGENT_OPTIONS)[]) {
    const value = options[key]
    if (value === undefined) continue
    if (key === 'preconnect') {
      if (typeof value !== 'number' || !(value >= 1 && value <= 3)) {
        throw new InvalidOptionError('agent.preconnect', value, 'a number from 1 (off) to 3')
      }
      resolved.preconnect = value
      continue
    }
    resolved[key] =
      key === 'connections' || key === 'totalConnections'
        ? intInRange(`agent.${key}`, value, 1, 1_000_000)
        : positiveMs(`agent.${key}`, value)
  }
  const { connect } = options
  if (typeof connect === 'function') {
    if (options.connectTimeout !== undefined) {
      throw new InvalidOptionError(
        'agent.connectTimeout',
        options.connectTimeout,
        'nothing when agent.connect is a connector function (the function owns the connect and its timeout)',
      )
    }
    resolved.connect = connect as buildConnector.connector
  } else if (connect !== undefined) {
    if (!isPlainObject(connect)) {
      throw new InvalidOptionError(
        'agent.connect',
        connect,
        'an object of TLS and socket options (ca, cert, key, servername...) or a connector function',
      )
    }
    if (connect.timeout !== undefined) {
      throw new InvalidOptionError(
        'agent.connect.timeout',
        connect.timeout,
        'nothing here: set agent.connectTimeout',
      )
    }
    resolved.connect = connect as buildConnector.BuildOptions
  }
  for (const key of ['allowH2', 'autoSelectFamily'] as const) {
    const value = options[key]
    if (value === undefined) continue
    if (typeof value !== 'boolean')
      throw new InvalidOptionError(`agent.${key}`, value, 'true or false')
    resolved[key] = value
  }
  if (options.maxHeaderSize !== undefined) {
    resolved.maxHeaderSize = intInRange(
      'agent.maxHeaderSize',
      options.maxHeaderSize,
      1,
      2 ** 31 - 1,
    )
  }
  if (options.maxResponseSize !== undefined) {
    resolved.maxResponseSize = intInRange(
      'agent.maxResponseSize',
      options.maxResponseSize,
      -1,
      Number.MAX_SAFE_INTEGER,
    )
  }
  if (options.pipelining !== undefined) {
    resolved.pipelining = intInRange('agent.pipelining', options.pipelining, 0, 100)
  }
  if (options.maxRequestsPerClient !== undefined) {
    resolved.maxRequestsPerClient = intInRange(
      'agent.maxRequestsPerClient',
      options.maxRequestsPerClient,
      0,
      Number.MAX_SAFE_INTEGER,
    )
  }
  if (options.autoSelectFamilyAttemptTimeout !== undefined) {
    resolved.autoSelectFamilyAttemptTimeout = positiveMs(
      'agent.autoSelectFamilyAttemptTimeout',
      options.autoSelectFamilyAttemptTimeout,
    )
  }
  if (options.localAddress !== undefined) {
    if (typeof options.localAddress !== 'string' || isIP(options.localAddress) === 0) {
      throw new InvalidOptionError(
        'agent.localAddress',
        options.localAddress,
        'an IPv4 or IPv6 address',
      )
    }
    resolved.localAddress = options.localAddress
  }
  if (options.proxy !== undefined) resolved.proxy = checkedProxy(options.proxy)
  return resolved
}

function checkedProxy(proxy: unknown): 'env' | string {
  if (proxy === 'env') return proxy
  const text = proxy instanceof URL ? proxy.href : proxy
  const url = typeof text === 'string' && URL.canParse(text) ? new URL(text) : undefined
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    // The value may carry a password: name its kind, not its text.
    throw new InvalidOptionError(
      'agent.proxy',
      typeof proxy === 'string' ? `a string that is not an http(s) URL` : describeValue(proxy),
      "'env' (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) or an http:// or https:// proxy URL",
    )
  }
  return url.href
}

/** The dispatcher a client made for itself, and the watch over its connections. */
export interface DefaultAgent {
  dispatcher: Dispatcher
  /** `undefined` through a proxy, or with `http2: false`. */
  sessions: H2Sessions | undefined
  /** An origin's connections, for `client.stats()`; `undefined` through a proxy. */
  stats: ((origin: string) => ConnectionStats | undefined) | undefined
  /** The connections across origins, for `client.stats()`; `undefined` through a proxy. */
  totals: (() => ConnectionTotals) | undefined
  /** Opens connections to an origin ahead of traffic; `undefined` through a proxy. */
  warm: ((origin: URL, count: number) => Promise<number>) | undefined
  /** Stops the watches' timers and fails connects waiting for a place (the client closes). */
  close: () => void
}

/**
 * Creates the dispatcher a client uses when it is not given one: an Agent, or undici's proxy
 * agent for `proxy`, with the same settings.
 */
export function createDefaultAgent(options: ResolvedAgentOptions): DefaultAgent {
  const { connect, proxy, connectTimeout, http2, race, totalConnections, preconnect, ...rest } =
    options
  const settings: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(rest)) if (value !== undefined) settings[key] = value
  const tls = typeof connect === 'function' ? undefined : connect
  if (proxy === undefined) {
    // The connector undici would build from these settings, built here so that the session
    // watch sees each connection.
    const { allowH2, autoSelectFamily, autoSelectFamilyAttemptTimeout } = options
    const connector =
      typeof connect === 'function'
        ? connect
        : buildConnector({
            ...tls,
            timeout: connectTimeout,
            ...(allowH2 === undefined ? {} : { allowH2 }),
            ...(autoSelectFamily === undefined
              ? {}
              : { autoSelectFamily, autoSelectFamilyAttemptTimeout }),
          } as buildConnector.BuildOptions)
    // A connector function owns the whole connect, its addresses included: it is not raced.
    const raced =
      race === false || typeof connect === 'function'
        ? connector
        : racingConnector(connector, {
            race,
            connectTimeout,
            allFamilies: autoSelectFamily !== false,
            lookup: (tls as { lookup?: RacingConnectorSettings['lookup'] } | undefined)?.lookup,
          })
    // A connect waiting for a place holds up a request waiting for its answer: the same bound.
    const cap = new ConnectionCap(totalConnections, options.headersTimeout)
    const keepAlive = new KeepAliveWatch(options.keepAliveTimeout)
    const warm = new WarmConnections(
      (origin) => keepAlive.timeout(origin),
      preconnect > 1
        ? { ratio: preconnect, max: options.connections, counts: (origin) => cap.counts(origin) }
        : undefined,
    )
    const watched = keepAlive.wrap(warm.wrap(cap.wrap(timedConnector(raced))))
    // Attempt records learn which of these connections each request went out on.
    const unfollow = followRequestSockets()
    const sessions = http2 === false ? undefined : new H2Sessions(http2)
    settings.connect = sessions === undefined ? watched : sessions.wrap(watched)
    return {
      dispatcher: new Agent(settings as Agent.Options),
      sessions,
      stats: (origin) => {
        const h2 = sessions?.stats(origin)
        const counts = cap.counts(origin)
        if (h2 === undefined && counts.open === 0) return undefined
        return {
          protocol: h2?.protocol ?? '1.1',
          sessions: h2?.sessions ?? 0,
          maxConcurrentStreams: h2?.maxConcurrentStreams,
          keepAliveTimeout: keepAlive.timeout(origin),
          ...counts,
        }
      },
      totals: () => cap.totals(),
      warm: (origin, count) => {
        const port = origin.port
        const connect: buildConnector.Options = {
          hostname: origin.hostname.replace(/^\[(.*)\]$/, '$1'),
          host: origin.host,
          protocol: origin.protocol,
          port,
          servername: undefined,
          localAddress: options.localAddress ?? null,
          httpSocket: undefined,
        }
        return warm.open(`${origin.protocol}//${origin.host}`, connect, count)
      },
      close: () => {
        sessions?.close()
        cap.close()
        warm.close()
        unfollow()
      },
    }
  }
  settings.connect = typeof connect === 'function' ? connect : { ...tls, timeout: connectTimeout }
  // The proxy agents connect through their own connectors: the timeout and the origin's TLS
  // settings go by their names for them (`connect` still serves EnvHttpProxyAgent's direct path).
  const proxied = { ...settings, connectTimeout, requestTls: tls }
  if (proxy === 'env') {
    return {
      dispatcher: new EnvHttpProxyAgent(proxied as EnvHttpProxyAgent.Options),
      sessions: undefined,
      stats: undefined,
      totals: undefined,
      warm: undefined,
      close: noop,
    }
  }
  return {
    dispatcher: new ProxyAgent({ ...proxied, uri: proxy } as ProxyAgent.Options),
    sessions: undefined,
    stats: undefined,
    totals: undefined,
    warm: undefined,
    close: noop,
  }
}

function noop(): void {}
