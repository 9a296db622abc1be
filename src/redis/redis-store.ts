import { createHash } from 'node:crypto'
import { channels } from '../core/events.ts'
import { checkKnownKeys, intInRange, isPlainObject, positiveMs } from '../core/validate.ts'
import { InvalidOptionError } from '../errors.ts'
import type { GcraRule } from '../rate-limit/gcra.ts'
import { MemoryRateStore } from '../rate-limit/memory-rate-store.ts'
import type {
  RateLimitStore,
  RateLimitStoreEvent,
  RateLimitStoreState,
  RateReservation,
} from '../rate-limit/rate-limit-store.ts'
import { scriptRunner, type RedisClientLike, type RunScript } from './redis-eval.ts'

/** Options of {@link redisStore}. */
export interface RedisStoreOptions {
  /**
   * How many instances share the quota. While Redis cannot be reached each instance keeps to
   * `rate / instances` (and `burst / instances`) on its own, so the fleet stays within the
   * quota. Required: a wrong guess either over-sends by the factor or wastes the quota.
   */
  instances: number
  /**
   * Longest wait for Redis's answer, in ms; past it the call goes on under the local limit.
   * @defaultValue 100: Redis answers in well under a millisecond on a healthy network, and a
   *   call must not wait on a stopped Redis (a client's own defaults wait tens of seconds)
   */
  timeout?: number
  /**
   * While Redis is unreachable, how often one call tries it again, in ms (the others use the
   * local limit meanwhile, so a dead Redis costs at most one pending command per interval).
   * @defaultValue 1000
   */
  retryInterval?: number
  /**
   * Prefix of the keys in Redis. Each key is `prefix{hash}`: the hash of the rate-limit key
   * (never the key itself, which may be derived from a credential) in a Cluster hash tag, so one
   * key lives in one slot.
   * @defaultValue `'netiquette:rate:'`
   */
  prefix?: string
}

const KNOWN = ['instances', 'timeout', 'retryInterval', 'prefix']
const NO_TOLERANCE: GcraRule = Object.freeze({ interval: 0, tolerance: 0 })
// Hashed keys remembered, so a call does not hash its key again.
const MAX_HASHED = 10_000

/**
 * A rate-limit store shared by every instance through Redis: pass it as `rateLimit.store`. It
 * takes the application's own Redis client (ioredis, or node-redis once connected) and never
 * closes it. The GCRA step runs as one Lua script on Redis's clock. Redis trouble never stalls a
 * call: an answer later than `timeout` ms, an error or a closed connection switches this
 * instance to its local limit (`rate / instances`), reported in `client.stats()` and on
 * `netiquette:rate-limit`, and one call a `retryInterval` tries Redis again.
 *
 * @example
 * ```ts
 * import Redis from 'ioredis'
 * import { redisStore } from 'netiquette/redis'
 * const redis = new Redis(process.env.REDIS_URL)
 * const api = createClient({
 *   origin: 'https://api.vendor.example',
 *   rateLimit: { rate: 100, burst: 10, store: redisStore(redis, { instances: 20 }) },
 * })
 * ```
 */
export function redisStore(client: RedisClientLike, options: RedisStoreOptions): RedisRateStore {
  if (!isPlainObject(options)) {
    throw new InvalidOptionError(
      'redisStore options',
      options,
      'an object with at least `instances`',
    )
  }
  checkKnownKeys('redisStore', options, KNOWN)
  const prefix = options.prefix ?? 'netiquette:rate:'
  if (typeof prefix !== 'string' || /[{}]/.test(prefix)) {
    throw new InvalidOptionError('redisStore.prefix', prefix, 'a string without { or }')
  }
  return new RedisRateStore(scriptRunner(client), {
    instances: intInRange('redisStore.instances', options.instances, 1, 100_000),
    timeout: positiveMs('redisStore.timeout', options.timeout, 100),
    retryInterval: positiveMs('redisStore.retryInterval', options.retryInterval, 1000),
    prefix,
  })
}

/** See {@link redisStore}. */
export class RedisRateStore implements RateLimitStore {
  readonly kind = 'redis'
  readonly #run: RunScript
  readonly #settings: Required<RedisStoreOptions>
  // The local limit while Redis is unreachable; it also keeps pauses, so they hold in fallback.
  readonly #local = new MemoryRateStore(10_000)
  readonly #hashed = new Map<string, string>()
  // Per key, the latest slot this instance was granted (on the caller's clock). Handing over
  // between Redis and the local limit starts each one after the other's reservations, or the
  // fleet sends both schedules at once for a second.
  readonly #horizon = new Map<string, number>()
  #fallback = false
  #retryAt = 0
  #probing = false
  /** Commands that timed out or failed since the store was created. */
  failures = 0

  constructor(run: RunScript, settings: Required<RedisStoreOptions>) {
    this.#run = run
    this.#settings = settings
  }

  state(): RateLimitStoreState {
    return { fallback: this.#fallback }
  }

  reserve(
    key: string,
    rule: GcraRule,
    maxWait: number,
    now: number,
  ): RateReservation | Promise<RateReservation> {
    if (this.#fallback) {
      if (this.#probing || performance.now() < this.#retryAt) {
        return this.#reserveLocally(key, rule, maxWait, now)
      }
      this.#probing = true
    }
    const started = performance.now()
    const args = [String(rule.interval), String(rule.tolerance), String(maxWait), 'r']
    return this.#command(this.#redisKey(key), args)
      .then(parseReservation)
      .then(
        (reservation) => {
          const elapsed = performance.now() - started
          this.#recovered(now + elapsed)
          if (reservation.allowed) this.#extend(key, now + elapsed + reservation.wait)
          return reservation
        },
        (error: unknown) => {
          const elapsed = performance.now() - started
          this.#failed(error, now + elapsed)
          // The time spent waiting for Redis comes off what the caller may wait.
          return this.#reserveLocally(key, rule, Math.max(0, maxWait - elapsed), now + elapsed)
        },
      )
  }

  pause(key: string, rule: GcraRule, delay: number, now: number): Promise<void> | void {
    this.#local.pause(key, this.#localRule(rule), delay, now)
    if (this.#fallback) return
    const args = [String(rule.interval), String(rule.tolerance), '0', 'p', String(delay)]
    return this.#command(this.#redisKey(key), args).then(
      () => undefined,
      (error: unknown) => this.#failed(error, now),
    )
  }

  #reserveLocally(key: string, rule: GcraRule, maxWait: number, now: number): RateReservation {
    const reservation = this.#local.reserve(key, this.#localRule(rule), maxWait, now)
    if (reservation.allowed) this.#extend(key, now + reservation.wait)
    return reservation
  }

  #extend(key: string, until: number): void {
    const horizon = this.#horizon
    if ((horizon.get(key) ?? -Infinity) >= until) return
    if (horizon.size >= MAX_HASHED && !horizon.has(key)) horizon.clear()
    horizon.set(key, until)
  }

  // rate / instances and burst / instances: the interval grows by the factor, the tolerance
  // (burst × interval) stays.
  #localRule(rule: GcraRule): GcraRule {
    const { instances } = this.#settings
    return instances === 1
      ? rule
      : { interval: rule.interval * instances, tolerance: rule.tolerance }
  }

  #command(key: string, args: string[]): Promise<unknown> {
    const { timeout } = this.#settings
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no answer from Redis within ${timeout} ms`))
      }, timeout)
      // A command still pending at exit must not keep the process alive; the call has moved on.
      timer.unref()
      let pending: Promise<unknown>
      try {
        pending = this.#run(key, args)
      } catch (error) {
        clearTimeout(timer)
        reject(error as Error)
        return
      }
      pending.then(
        (reply) => {
          clearTimeout(timer)
          resolve(reply)
        },
        (error: unknown) => {
          clearTimeout(timer)
          reject(error as Error)
        },
      )
    })
  }

  #failed(error: unknown, now: number): void {
    this.failures++
    this.#probing = false
    this.#retryAt = performance.now() + this.#settings.retryInterval
    if (this.#fallback) return
    this.#fallback = true
    // The local limit starts after the slots Redis granted this instance.
    for (const [key, until] of this.#horizon) {
      if (until > now) this.#local.pause(key, NO_TOLERANCE, until - now, now)
    }
    publish({
      store: this.kind,
      event: 'fallback',
      reason: error instanceof Error ? error.message : String(error),
    })
  }

  #recovered(now: number): void {
    this.#probing = false
    if (!this.#fallback) return
    this.#fallback = false
    publish({ store: this.kind, event: 'recovered' })
    // The shared schedule starts after the slots the local limit granted meanwhile.
    for (const [key, until] of this.#horizon) {
      if (until <= now) continue
      const args = ['0', '0', '0', 'p', String(until - now)]
      this.#command(this.#redisKey(key), args).catch(() => undefined)
    }
  }

  #redisKey(key: string): string {
    let hashed = this.#hashed.get(key)
    if (hashed === undefined) {
      if (this.#hashed.size >= MAX_HASHED) this.#hashed.clear()
      hashed = `${this.#settings.prefix}{${createHash('sha256').update(key).digest('base64url').slice(0, 22)}}`
      this.#hashed.set(key, hashed)
    }
    return hashed
  }
}

function publish(event: RateLimitStoreEvent): void {
  if (channels.rateLimit.hasSubscribers) channels.rateLimit.publish(event)
}

function parseReservation(reply: unknown): RateReservation {
  if (!Array.isArray(reply) || reply.length !== 2) {
    throw new TypeError(`unexpected reply from the rate-limit script: ${typeof reply}`)
  }
  const wait = Number(reply[1])
  return { allowed: Number(reply[0]) === 1, wait: Number.isFinite(wait) ? wait : 0 }
}
