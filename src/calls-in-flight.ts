import type { Cancellation } from './core/cancellation.ts'

/**
 * A client's calls not yet settled (a returned response settles once its body has been
 * received), by their cancellations: what `close()` waits for and `destroy()` aborts. A `Set`
 * itself, so that adding a call is the built-in `add` (a method of our own around it cost about
 * 10% of a call through an empty stack in `bench/layers.ts`).
 */
export class CallsInFlight extends Set<Cancellation> {
  // Resolves when the last call settles; created by the first wait.
  #drained: { promise: Promise<void>; resolve: () => void } | undefined

  settle(cancellation: Cancellation): void {
    this.delete(cancellation)
    if (this.#drained !== undefined && this.size === 0) this.#drained.resolve()
  }

  /** Resolves once no call is in flight. */
  drained(): Promise<void> {
    if (this.size === 0) return Promise.resolve()
    this.#drained ??= Promise.withResolvers<void>()
    return this.#drained.promise
  }

  /** Aborts every call in flight, each with an error of its own from `reason()`. */
  abortAll(reason: () => Error): void {
    for (const cancellation of [...this]) cancellation.abort(reason())
  }
}
