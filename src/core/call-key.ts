import { InvalidOptionError } from '../errors.ts'
import type { CallRequest } from './middleware.ts'

/**
 * A typed slot for data one policy keeps on a call or an attempt: a hedge marker, the address an
 * attempt goes to, a request's own retry policy. The policy that owns the data creates the key
 * and exports it to whoever may read it; `CallRequest` itself names no policy. The value lives on
 * the request object under a private symbol, so passing a copy down (`key.with(request, value)`)
 * costs the one spread a layer already paid for a narrower cancellation, and a key nobody set
 * costs nothing.
 *
 * @example
 * ```ts
 * const TENANT = new CallKey<string>('tenant')
 * const tagTenant: Middleware = (request, next) => next(TENANT.with(request, 'acme'))
 * const readTenant: Middleware = (request, next) => {
 *   console.log(TENANT.get(request)) // 'acme'
 *   return next(request)
 * }
 * ```
 */
export class CallKey<T> {
  readonly #symbol: symbol

  /** @param name - for debugging: the symbol's description. */
  constructor(name: string) {
    if (typeof name !== 'string') throw new InvalidOptionError('name', name, 'a string')
    this.#symbol = Symbol(name)
  }

  /** The value under this key on `request`, or `undefined` when none was set. */
  get(request: CallRequest): T | undefined {
    return (request as unknown as Record<symbol, T | undefined>)[this.#symbol]
  }

  /** A copy of `request` with `value` under this key: what a layer passes to `next`. */
  with<R extends CallRequest>(request: R, value: T): R {
    return { ...request, [this.#symbol]: value }
  }

  /**
   * Puts `value` under this key on a request still being built, before any layer has seen it.
   * Once the request is in the stack it is shared by every attempt: use {@link CallKey.with}.
   */
  init(request: CallRequest, value: T): void {
    ;(request as unknown as Record<symbol, T>)[this.#symbol] = value
  }
}
