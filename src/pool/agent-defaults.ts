import { Agent } from 'undici'
import { InvalidOptionError } from '../errors.ts'
import { checkKnownKeys, intInRange, isPlainObject, positiveMs } from '../core/validate.ts'

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
}

/** The defaults of {@link AgentOptions}, with their reasons in its TSDoc. */
export const DEFAULT_AGENT_OPTIONS: Readonly<Required<AgentOptions>> = Object.freeze({
  connectTimeout: 5_000,
  headersTimeout: 30_000,
  bodyTimeout: 30_000,
  keepAliveTimeout: 4_000,
  keepAliveMaxTimeout: 60_000,
  // undici's default is unbounded; a burst against a slow origin would then open one socket per
  // request. Without the concurrency limiter, 128 keeps file descriptors per origin bounded; with
  // it, the client uses the limiter's maxLimit, so that every place has its connection.
  connections: 128,
})

const KNOWN = Object.keys(DEFAULT_AGENT_OPTIONS)

/** Validates `agent` options and merges them over the defaults. */
export function resolveAgentOptions(options: unknown): Required<AgentOptions> {
  if (options === undefined) return { ...DEFAULT_AGENT_OPTIONS }
  if (!isPlainObject(options)) throw new InvalidOptionError('agent', options, 'an object')
  checkKnownKeys('agent', options, KNOWN)
  const resolved = { ...DEFAULT_AGENT_OPTIONS }
  for (const key of KNOWN as (keyof AgentOptions)[]) {
    const value = options[key]
    if (value === undefined) continue
    resolved[key] =
      key === 'connections'
        ? intInRange('agent.connections', value, 1, 65_535)
        : positiveMs(`agent.${key}`, value)
  }
  return resolved
}

/** Creates the Agent a client uses when it is not given a dispatcher. */
export function createDefaultAgent(options: Required<AgentOptions>): Agent {
  return new Agent({
    connect: { timeout: options.connectTimeout },
    headersTimeout: options.headersTimeout,
    bodyTimeout: options.bodyTimeout,
    keepAliveTimeout: options.keepAliveTimeout,
    keepAliveMaxTimeout: options.keepAliveMaxTimeout,
    connections: options.connections,
  })
}
