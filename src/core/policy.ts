import type { CallKey } from './call-key.ts'
import type { Clock } from './clock.ts'
import type { Middleware } from './middleware.ts'
import type { OriginMap } from './origin-map.ts'
import type { OriginState } from './origin-state.ts'
import type { Random } from './random.ts'

/** What the client hands each policy it builds. */
export interface PolicyContext {
  /** The client's options as given (their keys checked, values not): a policy reads its own. */
  readonly options: Readonly<Record<string, unknown>>
  readonly clock: Clock
  /** The client's random source (`random` option): jitter, probes, sampling. */
  readonly random: Random
  /** The client's per-origin state, bounded by `maxOrigins` and `originIdleTimeout`. */
  readonly origins: OriginMap<OriginState>
  /** The `origin` option's `scheme://host[:port]`, when the client has one. */
  readonly defaultOrigin: string | undefined
  /** The `maxOrigins` option: a policy that keeps its own per-origin map bounds it the same. */
  readonly maxOrigins: number
}

/**
 * One policy, as the client assembles it from its options: the one seam through which a policy
 * reaches the client. A policy folder exports one of these; the client's ordered list of them
 * (`src/policies.ts`) is the default stack, and adding a policy is adding its folder and one line
 * there. Its option is validated once, here, never per call.
 *
 * `OriginEntry` and `ClientEntry` are the client's stats shapes (one origin's, and the whole
 * client's): a policy fills in its part of each.
 */
export interface Policy<Settings = unknown, OriginEntry = never, ClientEntry = never> {
  /** The policy's name, as `client.policy(name)` finds it. */
  readonly name: string
  /** The client options it owns (its settings and hooks): the client accepts these keys. */
  readonly options: readonly string[]
  /**
   * Validates the policy's options and fills defaults, throwing `InvalidOptionError` for a bad
   * one; `false` when they turn the policy off (it then costs nothing per call).
   */
  resolve(context: PolicyContext): Settings | false
  /** Builds the policy for one client. */
  create(settings: Settings, context: PolicyContext): PolicyInstance<OriginEntry, ClientEntry>
}

/** One policy of one client. */
export interface PolicyInstance<OriginEntry = never, ClientEntry = never> {
  /** Its layer in the default stack; none for a policy that only watches or serves stats. */
  readonly layer?: Middleware
  /** Request options of the policy's own (the request's `retry`), merged per call. */
  readonly requestOptions?: readonly RequestOption[]
  /**
   * Attempts the policy lets run at once to one origin: the client's own agent opens as many
   * connections per origin, so that attempts wait in the policy's bounded queue, not undici's.
   */
  readonly connectionsPerOrigin?: number
  /** What the policy exposes to the client's user (`client.circuits`), if anything. */
  readonly handle?: unknown
  /** Writes the policy's part of one origin's stats into `entry`. */
  originStats?(entry: OriginEntry, state: OriginState, now: number): void
  /** Writes the policy's part of the client's stats into `entry`. */
  clientStats?(entry: ClientEntry, now: number): void
  /** Stops timers and releases what the policy holds when the client closes. */
  close?(): void
}

/** A request option a policy owns: validated and merged per call, kept under its key. */
export interface RequestOption<T = unknown> {
  /** The option's name in `request()`'s options, e.g. `retry`. */
  readonly name: string
  /** Where the merged value lives on the call (see `CallKey`). */
  readonly key: CallKey<T>
  /** Validates the request's value and merges it over the client's settings. */
  resolve(value: unknown): T
}
