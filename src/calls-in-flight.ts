import type { Cancellation } from './core/cancellation.ts'

/**
 * A client's calls not yet settled (a returned response settles once its body has been
 * received), by their cancellations: what `close()` waits for and `destroy()` aborts.
 */
export class CallsInFlight {
  readonly #calls = new Set<Cancellation>()
  // Resolves when the last call settles; created by the first wait.
  #drained: { promise: Promise<void>; resolve: () => void } | undefined

  add(cancellation: Cancellation): void {
    this.#calls.add(cancellation)
  }

  settle(cancellation: Cancellation): void {
    this.#calls.delete(cancellation)
    if (this.#drained !== undefined && this.#calls.size === 0) this.#drained.resolve()
  }

  /** Resolves once no call is in flight. */
  drained(): Promise<void> {
    if (this.#calls.size === 0) return Promise.resolve()
    this.#drained ??= Promise.withResolvers<void>()
    return this.#drained.promise
  }

  /** Aborts every call in flight, each with an error of its own from `reason()`. */
  abortAll(reason: () => Error): void {
    for (const cancellation of [...this.#calls]) cancellation.abort(reason())
  }
}
