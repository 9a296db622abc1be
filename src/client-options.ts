import type { Dispatcher } from 'undici'
import type { Clock } from './core/clock.ts'
import type { AttemptHook, RetryHook, ShedHook } from './core/events.ts'
import type { HeadersInput } from './core/headers.ts'
import type { Middleware, RequestBody, UndiciRequestOptions } from './core/middleware.ts'
import type { ThrottleOptions } from './throttle/adaptive-throttle.ts'
import type { CircuitStateChangeHook } from './breaker/breaker-layer.ts'
import type { BreakerOptions } from './breaker/breaker-options.ts'
import type { Random } from './core/random.ts'
import type { AgentOptions } from './connections/agent-defaults.ts'
import type { LimitChangeHook } from './concurrency/concurrency-layer.ts'
import type { ConcurrencyOptions } from './concurrency/concurrency-options.ts'
import type { DecompressOptions } from './faces/decode-body.ts'
import type { RedirectOptions } from './faces/redirect-policy.ts'
import type { RetryOptions } from './retry/retry-options.ts'
import type { HedgeOptions } from './retry/hedge-options.ts'
import type { EndpointsOptions } from './endpoints/endpoints-options.ts'
import type { RateLimitOptions } from './rate-limit/rate-limit-options.ts'
import type { PropagationOptions } from './timeouts/timeout-options.ts'

/** Options of {@link createClient}. Validated once, when the client is created. */
export interface ClientOptions {
  /**
   * The origin (`https://host[:port]`) that paths are resolved against, optionally with a path
   * prefix (`https://api.example.com/v1`, as axios's `baseURL`): `request('/charges')` then goes
   * to `/v1/charges`. With it set, requests may only go to this origin, under its prefix: a URL
   * naming another scheme, host or port, an absolute URL outside the prefix, or a path with a
   * `.` or `..` segment under a prefix is rejected with `CrossOriginError`. Without it, every
   * request needs an absolute URL.
   * @defaultValue none
   */
  origin?: string | URL
  /**
   * Headers sent with every request; a request's own header of the same name wins.
   * @defaultValue none
   */
  headers?: HeadersInput
  /**
   * The undici dispatcher attempts go through. When given it is used as is (its timeouts, its
   * pool) and the client never closes it. When not, the client creates an Agent from `agent` and
   * closes it in `close()`.
   * @defaultValue an undici `Agent` built from {@link AgentOptions}
   */
  dispatcher?: Dispatcher
  /**
   * Settings of the Agent the client creates; not allowed together with `dispatcher`.
   * @defaultValue {@link DEFAULT_AGENT_OPTIONS}, each with its reason in {@link AgentOptions}
   */
  agent?: AgentOptions
  /**
   * Total time for a call, in ms: every attempt, queue wait and backoff sleep, and the response
   * body until it has been received. When it passes, the call (or the body being read) fails with
   * `DeadlineExceededError`. Calls made inside `withDeadline` (or a request handled through a
   * server helper) use the sooner of this and the inherited deadline. A request's own `deadline`
   * replaces it. 30 s is the total timeout of .NET's standard resilience handler, and matches
   * the Agent's headers timeout; set it to what the caller can actually wait. A long download
   * needs a longer one.
   * @defaultValue 30000
   */
  deadline?: number
  /**
   * Time an attempt may wait for its response headers, in ms, so that a retry policy can try
   * again within the deadline. An attempt gets `min(attemptTimeout, time left)`; an attempt
   * timeout at or above the time left is ignored (the deadline, which is final, ends the attempt
   * first). Does not apply to the body once headers have arrived.
   * @defaultValue none: each attempt may use what is left of the deadline
   */
  attemptTimeout?: number
  /**
   * No attempt starts with less than this many ms of the deadline left: the call fails with
   * `DeadlineExceededError` and sends nothing. A request with a few ms left cannot get an
   * answer back in time and only adds load where it is least welcome.
   * @defaultValue 10
   */
  minAttemptTime?: number
  /**
   * Sending each attempt's time left to the next hop, and taking over the deadline of the
   * request being handled; `false` turns both off, `true` keeps the defaults. See
   * {@link PropagationOptions}.
   * @defaultValue header `x-deadline-remaining-ms`, margin 5 ms, inherit on
   */
  propagation?: PropagationOptions | boolean
  /**
   * The retry policy: which statuses and errors are retried, how often, after what wait; `true`
   * for the defaults, `false` turns retries off (a request's own `retry` can still turn them on). Only what is safe to send
   * again is ever retried: see {@link RetryOptions} and `docs/retry.md`.
   * @defaultValue up to 2 retries of 408, 429, 500, 502, 503, 504 and connection errors, full
   *   jitter backoff from 100 ms, server hints honoured up to 30 s, within a per-origin retry
   *   budget
   */
  retry?: RetryOptions | boolean
  /**
   * Hedged requests ("The Tail at Scale"): when an attempt is slower than the origin's recent
   * p97.5, send the same request again and take whichever answers first, cancelling the other.
   * Only calls that are safe to send twice (idempotent or keyed, with a body that can be sent
   * again) and whose retries are on are hedged; hedges add at most `maxExtraLoad` of calls and
   * at most half the retry budget, and stop when the origin's limit is reached or its circuit
   * is not closed. `true` for the defaults, or {@link HedgeOptions}. See `docs/hedging.md`.
   * @defaultValue `false`: a hedge is extra load on the origin, which the caller should choose
   *   (gRPC, Envoy and Finagle also hedge only where configured)
   */
  hedge?: HedgeOptions | boolean
  /**
   * Balance each origin's attempts over all the addresses its hostname resolves to (a headless
   * Kubernetes service, DNS round robin, several load balancers): the power of two choices over
   * peak-EWMA latency weighted by attempts in flight, so that a slow address gets little traffic
   * within a few requests, and ejection of failing addresses for a while. Retries and hedges go
   * to another address than the call's earlier attempts when there is one. `true` for the
   * defaults, or {@link EndpointsOptions} (a `resolve` function, the lookup's TTL, ejection
   * rules). Each address gets its own connection pool in the client's Agent; TLS is still
   * verified against the hostname. Not with `agent.proxy` (the proxy resolves names). See
   * `docs/endpoints.md`.
   * @defaultValue `false`: undici connects to the first address the OS returns, as without
   *   netiquette; balancing changes which servers see the traffic, which the user should choose
   */
  endpoints?: EndpointsOptions | boolean
  /**
   * Rate limits: a quota of requests per time for each origin (or each key `rateLimit.key`
   * derives from the request, such as the API key's tenant), kept in this process or shared by
   * every instance through Redis (`store: redisStore(redis)` from `netiquette/redis`). An attempt
   * over the quota waits for its slot when that fits in the call's deadline, or fails at once
   * with `RateLimitedError`. A 429 lowers the key's rate, which recovers gradually; its
   * `Retry-After` pauses the key for everyone sharing the store. `true` learns the rate from 429s
   * alone, per origin. See {@link RateLimitOptions} and `docs/rate-limits.md`.
   * @defaultValue `false`: a quota is the API's, and only the user knows it
   */
  rateLimit?: RateLimitOptions | boolean
  /**
   * Client-side adaptive throttling per origin (Google SRE book): when an origin keeps asking
   * for less (429, 503) or timing out, reject a share of calls locally with `ThrottledError`
   * instead of sending them, in proportion to how much it turns away: it keeps sending about
   * twice what the origin accepts, so goodput follows what a rate-limited origin can serve while
   * the load on it stays below what was offered. `false` turns it off. See
   * {@link ThrottleOptions} and `docs/budget.md`.
   * @defaultValue on, with {@link DEFAULT_THROTTLE}
   */
  throttle?: ThrottleOptions | boolean
  /**
   * The circuit breaker, one circuit per origin: while an origin is down, calls to it fail at
   * once with `CircuitOpenError` and send nothing, and a probe a second finds out when it is
   * back; `true` for the defaults, `false` turns it off. It opens when nothing has succeeded for a second (failures, 429s,
   * 503s and refused connects alike), or when half of the attempts that reached the origin
   * failed (5xx other than 503, 408, timeouts, resets). A 429 or 503 alone never opens it while
   * some calls get through: that is partial availability, which adaptive throttling answers. A
   * caller's abort and a local rejection do not count at all. See {@link BreakerOptions} and
   * `docs/breaker.md`.
   * @defaultValue opens after 1 s without a success, or when half of at least 20 calls in 10 s
   *   failed; open 0.5 to 1 s; one probe when half-open
   */
  breaker?: BreakerOptions | boolean
  /**
   * Called on every change of a circuit's state (`closed`, `open`, `half-open`, `isolated`),
   * synchronously, with the origin, both states and the reason. A hook that throws is reported
   * as a process warning; the call goes on.
   * @defaultValue none
   * @example
   * ```ts
   * createClient({
   *   onCircuitStateChange: (e) => log.warn(`${e.origin}: ${e.from} -> ${e.to} (${e.reason})`),
   * })
   * ```
   */
  onCircuitStateChange?: CircuitStateChangeHook
  /**
   * A concurrency limit per origin: at most `limit` attempts in flight, the rest waiting in a
   * bounded queue (`maxQueue`, 10,000) within the deadline while the origin serves, and for at
   * most `maxQueueWait` (1 s) once it sheds or stops freeing places. A full queue sheds at once with `QueueFullError`, a wait that runs out fails with
   * `QueueTimeoutError`, and an aborted call leaves the queue at once. The limit adapts (AIMD,
   * from 20 between 20 and 200; `algorithm: 'delay'` for an origin that queues rather than
   * sheds) unless it is fixed with `limit`. The Agent the client creates gets one connection per
   * place (`maxLimit`) unless `agent.connections` is set. `false` turns it off. See
   * {@link ConcurrencyOptions} and `docs/concurrency.md`.
   * @defaultValue AIMD from 20 attempts in flight, between 20 and 200; a queue of 10,000, waits
   *   cut to 1 s while the origin struggles
   */
  concurrency?: ConcurrencyOptions | boolean
  /**
   * Called whenever an origin's adaptive concurrency limit changes, synchronously, with the
   * origin and both limits. A hook that throws is reported as a process warning; the call goes
   * on.
   * @defaultValue none
   */
  onLimitChange?: LimitChangeHook
  /**
   * Called as each attempt ends: when its response headers arrive, or when it fails, with the
   * attempt's record (and the error). Synchronous: keep it cheap, it runs on every attempt. A hook
   * that throws is reported as a process warning; the call goes on.
   * @defaultValue none
   */
  onAttempt?: AttemptHook
  /**
   * Called each time the retry policy is about to send another attempt, with the attempt being
   * retried, the reason and the wait. A hook that throws is reported as a process warning; the
   * call goes on.
   * @defaultValue none
   * @example
   * ```ts
   * createClient({
   *   onRetry: (e) => log.info(`${e.method} ${e.origin}${e.path}: ${e.reason}, again in ${e.delay} ms`),
   * })
   * ```
   */
  onRetry?: RetryHook
  /**
   * Called whenever an attempt is rejected locally and nothing is sent: the concurrency queue
   * was full or the wait ran out, the circuit was not closed, or adaptive throttling rejected the
   * call (`cause` says which). A hook that throws is reported as a process warning; the call goes
   * on.
   * @defaultValue none
   */
  onShed?: ShedHook
  /**
   * Uniform random numbers in [0, 1) for the policies' jitter; tests and simulations pass
   * `seededRandom(seed)` from `netiquette/testing` so that a run replays exactly.
   * @defaultValue `Math.random`
   */
  random?: Random
  /**
   * Middleware to add to the default stack, or a function that receives the default stack and
   * returns the stack to use. An array is placed below the default policies, just above the
   * transport, so it sees every attempt.
   * @defaultValue no extra middleware
   * @example
   * ```ts
   * createClient({ middleware: (defaults) => [myAuth, ...defaults] }) // outermost first
   * ```
   */
  middleware?: readonly Middleware[] | ((defaults: readonly Middleware[]) => readonly Middleware[])
  /**
   * The clock policies read. Tests pass a `VirtualClock` from `netiquette/testing`.
   * @defaultValue the system clock
   */
  clock?: Clock
  /**
   * Most origins whose state (circuit, limiter, budget) is kept at once; the least recently used
   * is evicted beyond it, so a client that talks to 100k hosts does not grow without bound.
   * @defaultValue 1024
   */
  maxOrigins?: number
  /**
   * An origin unused for this long (ms) has its state dropped: a circuit opened an hour ago says
   * nothing about the origin now.
   * @defaultValue 300000 (5 minutes)
   */
  originIdleTimeout?: number
  /**
   * How `client.fetch` treats redirects: header names that carry credentials and must not follow
   * a redirect to another origin (`secretHeaders`), and address ranges a redirect may not lead to
   * (`deny`). Link-local and cloud-metadata addresses are refused whatever this says.
   * @defaultValue `{}`: strip `Authorization`, `Proxy-Authorization`, `Cookie` and `X-API-Key`;
   *   refuse `169.254.0.0/16`, `fe80::/10` and `fd00:ec2::254`
   * @example
   * ```ts
   * createClient({ redirect: { secretHeaders: ['x-auth-token'], deny: ['10.0.0.0/8'] } })
   * ```
   */
  redirect?: RedirectOptions
  /**
   * How `client.fetch` decodes compressed responses. As the global fetch, it sends
   * `Accept-Encoding: gzip, deflate, br, zstd` unless the request or the client's `headers` set
   * one, and decodes what comes back; unlike it, within limits (`maxSize`, `maxRatio`): a few KiB
   * of gzip can inflate to gigabytes. `true` keeps the defaults; `false` sends no
   * `Accept-Encoding` and decodes nothing.
   * `client.request` and `client.dispatcher` never decode (the global fetch above the dispatcher
   * decodes by itself).
   * @defaultValue `{}`: at most 32 MiB decoded, and 200 times what was received (see
   *   {@link DecompressOptions})
   */
  decompress?: DecompressOptions | boolean
}

/**
 * The netiquette options of one call, the same on every face: `request()`'s options and
 * `client.fetch`'s `init` both take them (one list, `CALL_OPTION_NAMES`).
 */
export interface CallOptions {
  /**
   * This call's deadline, replacing the client's: ms from now, or an absolute `Date` (a date that
   * has passed fails the call at once, sending nothing). An inherited deadline still applies when
   * it is sooner.
   * @defaultValue the client's `deadline`
   */
  deadline?: number | Date
  /**
   * This call's attempt timeout, replacing the client's.
   * @defaultValue the client's `attemptTimeout`
   */
  attemptTimeout?: number
  /**
   * This call's retry policy: `false` for no retries, `true` for the client's policy (the
   * defaults when the client's is `false`), or options merged over it.
   * @defaultValue the client's `retry`
   */
  retry?: RetryOptions | boolean
  /**
   * This call's hedging: `false` for none, `true` for the client's policy (or the defaults when
   * the client has none), or options merged over it. On a client without hedging, the origin's
   * hedge share starts from its calls of the last 10 s when a call first asks, and counts every
   * call from then on. A hedge that was due and not sent is named in the attempt's
   * `hedgeRefused` and in `explain()`.
   * @defaultValue the client's `hedge`
   */
  hedge?: HedgeOptions | boolean
  /**
   * Sends an `Idempotency-Key` header, the same on every attempt, which lets the retry policy
   * retry a non-idempotent method such as POST (the server must honour the key). `true` makes a
   * random UUID per call; a string is the key. An `idempotency-key` already in `headers` is
   * kept.
   * @defaultValue none
   * @example
   * ```ts
   * await api.request('/charges', { method: 'POST', body, idempotencyKey: true })
   * ```
   */
  idempotencyKey?: boolean | string
}

/**
 * Options of {@link Client.request}: the call's options ({@link CallOptions}), plus the undici
 * request options listed in {@link UndiciRequestOptions}, documented with what they mean here.
 * Any other key is refused with `InvalidOptionError` (`NQ_INVALID_OPTION`). `signal` must be an
 * `AbortSignal`; `body` may also be a function that returns a fresh body per attempt.
 */
export interface RequestOptions extends UndiciRequestOptions, CallOptions {
  /** @defaultValue `'GET'` */
  method?: string
  headers?: HeadersInput | null
  body?: RequestBody
  /**
   * Aborting it aborts the call: before the response, the call rejects with `AbortedError`; while
   * the body is still arriving, the body errors. Once the body has been received in full, an
   * abort no longer affects it.
   */
  signal?: AbortSignal
}

// Every key of CallOptions, checked by the compiler both ways: a new call option is a new key here.
const CALL_OPTIONS: Record<keyof CallOptions, true> = {
  deadline: true,
  attemptTimeout: true,
  retry: true,
  hedge: true,
  idempotencyKey: true,
}

/** @internal The names of {@link CallOptions}: what every face passes on to a call. */
export const CALL_OPTION_NAMES = Object.freeze(
  Object.keys(CALL_OPTIONS),
) as readonly (keyof CallOptions)[]

/**
 * @internal The request options the client reads itself (the policies' own, `retry` and `hedge`,
 * come from their descriptors); every other key is undici's, or refused.
 */
export const CLIENT_REQUEST_OPTIONS: readonly string[] = Object.freeze([
  'method',
  'headers',
  'body',
  'signal',
  ...CALL_OPTION_NAMES.filter((name) => name !== 'retry' && name !== 'hedge'),
])
