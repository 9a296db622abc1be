import type { Dispatcher } from 'undici'
import { systemClock, type Clock } from './core/clock.ts'
import { normalizeHeaders, type HeaderRecord } from './core/headers.ts'
import { compose } from './core/compose.ts'
import type { Handler, Middleware } from './core/middleware.ts'
import { OriginMap } from './core/origin-map.ts'
import { OriginState } from './core/origin-state.ts'
import type { PolicyContext, PolicyInstance, RequestOption } from './core/policy.ts'
import { parseBase } from './core/target.ts'
import { createTransport } from './core/transport.ts'
import {
  checkKnownKeys,
  intInRange,
  isPlainObject,
  optionalFunction,
  positiveMs,
  randomOption,
} from './core/validate.ts'
import { InvalidOptionError } from './errors.ts'
import { resolveDecompress, type DecompressPolicy } from './faces/decode-body.ts'
import { resolveRedirectPolicy, type RedirectPolicy } from './faces/redirect-policy.ts'
import {
  createDefaultAgent,
  resolveAgentOptions,
  type ResolvedAgentOptions,
} from './connections/agent-defaults.ts'
import type { H2Sessions } from './connections/h2-sessions.ts'
import { resolveTimeouts, type ResolvedTimeouts } from './timeouts/timeout-options.ts'
import { CLIENT_REQUEST_OPTIONS, type ClientOptions } from './client-options.ts'
import type { ClientStats, ConnectionReport, OriginStats } from './client-stats.ts'
import { DEFAULT_POLICIES, type ClientPolicy } from './policies.ts'

/**
 * @internal Under this key, a client's options may carry the policies to assemble instead of
 * the default list: how a test puts a policy of its own on the seam. A symbol, so no caller sets
 * it by accident and the option check does not see it.
 */
export const POLICY_LIST: unique symbol = Symbol('netiquette.policies')

/** The client's own options: what shapes every call, whatever the policies. */
const CLIENT_OPTIONS = [
  'origin',
  'headers',
  'dispatcher',
  'agent',
  'middleware',
  'clock',
  'random',
  'deadline',
  'attemptTimeout',
  'minAttemptTime',
  'propagation',
  'maxOrigins',
  'originIdleTimeout',
  'redirect',
  'decompress',
  // Hooks several policies and the transport call.
  'onAttempt',
  'onShed',
]

const CLOCK_METHODS = ['now', 'wallNow', 'sleep', 'setTimer', 'clearTimer'] as const

/** A client's options, validated, and the parts built from them. */
export interface ClientSetup {
  /** The `origin` option's `scheme://host[:port]`. */
  readonly origin: string | undefined
  /** The path prefix of the `origin` option (`/v1`), or `''`. */
  readonly prefix: string
  readonly headers: HeaderRecord | undefined
  readonly dispatcher: Dispatcher
  readonly ownsDispatcher: boolean
  /** The watch over the default agent's connections (HTTP/2 session health), when it made one. */
  readonly sessions: H2Sessions | undefined
  /** What the default agent reports of its connections, for `stats()`, when it made one. */
  readonly connections: ConnectionReport | undefined
  /** Stops the default agent's watches and fails connects still waiting for a place. */
  readonly closeConnections: () => void
  /** Opens connections to an origin ahead of traffic, when the client made its own agent. */
  readonly warm: ((origin: URL, count: number) => Promise<number>) | undefined
  /** `agent.totalConnections`, when the client made its own agent. */
  readonly totalConnections: number | undefined
  readonly clock: Clock
  readonly timeouts: ResolvedTimeouts
  readonly redirect: RedirectPolicy
  readonly decompress: DecompressPolicy | false
  readonly origins: OriginMap<OriginState>
  /** Each policy that is on, by name, in stack order. */
  readonly policies: ReadonlyMap<string, PolicyInstance<OriginStats, ClientStats>>
  /** The policies' request options (`retry`, `hedge`), by name. */
  readonly requestOptions: ReadonlyMap<string, RequestOption>
  /** The same, as a list. */
  readonly requestOptionList: readonly RequestOption[]
  /** Every request option the client or a policy reads: the rest are undici's, or refused. */
  readonly handledRequestOptions: ReadonlySet<string>
  /** The stack over the transport. */
  readonly handler: Handler
}

/**
 * Validates a client's options once and builds what a client holds: its dispatcher, its
 * per-origin state and the stack of its policies, outermost first (`DEFAULT_POLICIES`). A bad option throws
 * `InvalidOptionError` naming it.
 */
export function setUpClient(options: ClientOptions): ClientSetup {
  const raw: unknown = options
  if (!isPlainObject(raw)) throw new InvalidOptionError('options', options, 'an object')
  const policyList =
    (raw as { [POLICY_LIST]?: readonly ClientPolicy[] })[POLICY_LIST] ?? DEFAULT_POLICIES
  checkKnownKeys('', raw, [...CLIENT_OPTIONS, ...policyList.flatMap((p) => p.options)])
  const { origin, prefix } = resolveOrigin(options.origin)
  const headers = resolveHeaders(options.headers)
  const redirect = resolveRedirectPolicy('redirect', options.redirect)
  const decompress = resolveDecompress(options.decompress)
  optionalFunction('onAttempt', options.onAttempt)
  optionalFunction('onShed', options.onShed)
  const clock = resolveClock(options.clock)
  const random = randomOption(options.random)
  const maxOrigins = intInRange('maxOrigins', options.maxOrigins, 1, 1_000_000, 1024)
  const idleTimeout = positiveMs('originIdleTimeout', options.originIdleTimeout, 300_000)
  const timeouts = resolveTimeouts(options)
  const agent = resolveAgent(options)
  const origins = new OriginMap({
    create: (key) => new OriginState(key),
    dispose: (state) => state.dispose(),
    maxOrigins,
    idleTimeout,
    now: () => clock.now(),
  })
  const context: PolicyContext = {
    options: raw,
    clock,
    random,
    origins,
    defaultOrigin: origin,
    maxOrigins,
  }
  // Every option is checked before anything is built: a bad one leaves no agent behind.
  const resolved = policyList.map((policy) => ({ policy, settings: policy.resolve(context) }))
  const policies = new Map<string, PolicyInstance<OriginStats, ClientStats>>()
  for (const { policy, settings } of resolved) {
    if (settings !== false) policies.set(policy.name, policy.create(settings, context))
  }
  const requestOptions = new Map<string, RequestOption>()
  let connections: number | undefined
  for (const instance of policies.values()) {
    for (const option of instance.requestOptions ?? []) requestOptions.set(option.name, option)
    connections ??= instance.connectionsPerOrigin
  }
  const made = makeDispatcher(options, agent, connections)
  const { dispatcher, ownsDispatcher, sessions } = made
  const stack = [...policies.values()].flatMap((p) => (p.layer === undefined ? [] : [p.layer]))
  const handler = compose(
    resolveMiddleware(options.middleware, Object.freeze(stack)),
    createTransport(dispatcher, options.onAttempt, sessions),
  )
  return {
    origin,
    prefix,
    headers,
    dispatcher,
    ownsDispatcher,
    sessions,
    connections: made.report,
    closeConnections: made.close,
    warm: made.warm,
    totalConnections: agent?.totalConnections,
    clock,
    timeouts,
    redirect,
    decompress,
    origins,
    policies,
    requestOptions,
    requestOptionList: [...requestOptions.values()],
    handledRequestOptions: new Set([...CLIENT_REQUEST_OPTIONS, ...requestOptions.keys()]),
    handler,
  }
}

function resolveOrigin(value: unknown): { origin: string | undefined; prefix: string } {
  if (value === undefined) return { origin: undefined, prefix: '' }
  const base = typeof value === 'string' || value instanceof URL ? parseBase(value) : undefined
  if (base === undefined) {
    throw new InvalidOptionError(
      'origin',
      value instanceof URL ? value.href : value,
      'an http: or https: origin such as "https://api.internal:8443", optionally with a path prefix ("https://api.internal/v1"), without query or credentials',
    )
  }
  return base
}

function resolveHeaders(value: ClientOptions['headers']): HeaderRecord | undefined {
  if (value === undefined) return undefined
  try {
    return normalizeHeaders(value)
  } catch (error) {
    throw new InvalidOptionError('headers', value, `valid headers (${(error as Error).message})`)
  }
}

function resolveClock(value: unknown): Clock {
  if (value === undefined) return systemClock
  const c = value as Partial<Clock>
  if (CLOCK_METHODS.some((name) => typeof c[name] !== 'function')) {
    throw new InvalidOptionError(
      'clock',
      value,
      `an object with the methods ${CLOCK_METHODS.join(', ')}`,
    )
  }
  return value as Clock
}

/** The settings of the Agent the client will create; `undefined` with a caller's dispatcher. */
function resolveAgent(options: ClientOptions): ResolvedAgentOptions | undefined {
  if (options.dispatcher !== undefined) {
    if (options.agent !== undefined) {
      throw new InvalidOptionError(
        'agent',
        options.agent,
        'nothing when `dispatcher` is given (configure that dispatcher instead)',
      )
    }
    if (typeof (options.dispatcher as Partial<Dispatcher>).request !== 'function') {
      throw new InvalidOptionError('dispatcher', options.dispatcher, 'an undici Dispatcher')
    }
    return undefined
  }
  return resolveAgentOptions(options.agent)
}

/**
 * The caller's dispatcher, or an Agent of the client's own with `connections` per origin (the
 * concurrency limit's ceiling) unless `agent.connections` says otherwise.
 */
function makeDispatcher(
  options: ClientOptions,
  agent: ResolvedAgentOptions | undefined,
  connections: number | undefined,
): {
  dispatcher: Dispatcher
  ownsDispatcher: boolean
  sessions: H2Sessions | undefined
  report: ConnectionReport | undefined
  close: () => void
  warm: ((origin: URL, count: number) => Promise<number>) | undefined
} {
  if (agent === undefined) {
    return {
      dispatcher: options.dispatcher as Dispatcher,
      ownsDispatcher: false,
      sessions: undefined,
      report: undefined,
      close: () => {},
      warm: undefined,
    }
  }
  if (connections !== undefined && options.agent?.connections === undefined) {
    agent.connections = connections
  }
  const made = createDefaultAgent(agent)
  const { stats, totals } = made
  return {
    dispatcher: made.dispatcher,
    ownsDispatcher: true,
    sessions: made.sessions,
    report: stats === undefined || totals === undefined ? undefined : { stats, totals },
    close: made.close,
    warm: made.warm,
  }
}

/** The user's `middleware` option applied to the default stack. */
function resolveMiddleware(
  option: ClientOptions['middleware'],
  defaults: readonly Middleware[],
): readonly Middleware[] {
  if (option === undefined) return defaults
  const list = typeof option === 'function' ? option(defaults) : [...defaults, ...option]
  if (!Array.isArray(list) || list.some((m) => typeof m !== 'function')) {
    throw new InvalidOptionError(
      'middleware',
      list,
      'an array of middleware functions (or a function returning one)',
    )
  }
  return list as readonly Middleware[]
}
