/**
 * What a connector returns while its connect is under way, so that undici can cancel it: undici 8
 * cancels a connect that no request waits for any more (its request was aborted, at its
 * deadline for instance) by destroying the stream the connector returned, and can cancel nothing
 * when the connector returns none. Not a stream: just the `pipe`, `on` and `destroy` by which
 * undici recognises and ends one.
 */
export class PendingConnect {
  destroyed = false
  readonly #cancel: (reason: Error) => void

  /** @param cancel - stops the connect; called once, at the first `destroy`. */
  constructor(cancel: (reason: Error) => void) {
    this.#cancel = cancel
  }

  destroy(reason?: Error): this {
    if (this.destroyed) return this
    this.destroyed = true
    this.#cancel(reason ?? new Error('the connect was cancelled'))
    return this
  }

  // undici attaches an error listener before destroying; there is nothing to listen to.
  on(): this {
    return this
  }

  pipe(): this {
    return this
  }
}

/** Whether `value` is something undici can cancel a connect through (a socket, or the above). */
export function cancellable(value: unknown): value is { destroy(reason?: Error): unknown } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { destroy?: unknown }).destroy === 'function' &&
    typeof (value as { pipe?: unknown }).pipe === 'function'
  )
}
