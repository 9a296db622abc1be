/** A function run when a {@link Cancellation} aborts, with the reason. */
export type AbortHandler = (reason: unknown) => void

/** The method a {@link CancelListener} is told through. */
export const kOnCancel = Symbol('netiquette.onCancel')

/**
 * An object told when a {@link Cancellation} aborts: what holds the work already (the
 * transport's handler of an attempt) listens itself, with no closure to add and none to remove
 * (112 B a call in flight).
 * @internal
 */
export interface CancelListener {
  [kOnCancel](reason: unknown): void
}

/**
 * The one abort mechanism of a call: the caller's signal, a deadline or `client.destroy()` abort it,
 * and whatever is in progress (an undici request, a backoff sleep, a queued wait) reacts.
 *
 * It exists because an `AbortController` per call costs more than it should on the hot path: its
 * signal is an EventTarget, and undici adds and removes a listener on it for every request (about
 * 5-8% of a tiny request's cost, measured in bench/). Handlers here are plain functions, or
 * objects that listen themselves, in an array. An `AbortSignal` is still available, created on first use, for APIs that need one.
 */
export class Cancellation {
  #aborted = false
  #reason: unknown = undefined
  // The first handler in a field, the rest in an array: a call in flight usually has one (its
  // attempt's), and an array of one costs 56 B more.
  #first: AbortHandler | CancelListener | undefined
  #handlers: (AbortHandler | CancelListener)[] | undefined
  #controller: AbortController | undefined

  /** True once aborted. */
  get aborted(): boolean {
    return this.#aborted
  }

  /** Why it was aborted; `undefined` until then. */
  get reason(): unknown {
    return this.#reason
  }

  /**
   * An `AbortSignal` that aborts with this cancellation, for APIs that take one (a sleep, a
   * queue wait). Created on first use, so calls that never ask for it never pay for it.
   */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#aborted) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  /** Aborts with `reason`, running every handler once. Later calls do nothing. */
  abort(reason: unknown): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#reason = reason
    const first = this.#first
    const handlers = this.#handlers
    this.#first = undefined
    this.#handlers = undefined
    if (first !== undefined) tell(first, reason)
    if (handlers !== undefined) for (const handler of handlers) tell(handler, reason)
    this.#controller?.abort(reason)
  }

  /**
   * Runs `handler` when this aborts (at once, synchronously, if it already has). Returns the
   * function that removes it; call it when the work it guards is over.
   */
  onAbort(handler: AbortHandler): () => void {
    if (this.#aborted) {
      handler(this.#reason)
      return noop
    }
    this.#add(handler)
    return () => this.#remove(handler)
  }

  /**
   * Tells `listener` when this aborts (at once, synchronously, if it already has), until
   * {@link Cancellation.unlisten}: {@link Cancellation.onAbort} without its two closures.
   * @internal
   */
  listen(listener: CancelListener): void {
    if (this.#aborted) {
      listener[kOnCancel](this.#reason)
      return
    }
    this.#add(listener)
  }

  /** Stops telling `listener`; nothing if it was not listening. @internal */
  unlisten(listener: CancelListener): void {
    this.#remove(listener)
  }

  // In the order added: the field only while no array has entries, so none is told before an
  // earlier one.
  #add(handler: AbortHandler | CancelListener): void {
    const handlers = this.#handlers
    if (this.#first === undefined && (handlers === undefined || handlers.length === 0)) {
      this.#first = handler
    } else if (handlers === undefined) {
      // A literal of one: an empty array grown by push reserves 17 slots (128 B more).
      this.#handlers = [handler]
    } else {
      handlers.push(handler)
    }
  }

  #remove(handler: AbortHandler | CancelListener): void {
    if (this.#first === handler) {
      this.#first = undefined
      return
    }
    const handlers = this.#handlers
    if (handlers === undefined) return
    const i = handlers.indexOf(handler)
    if (i !== -1) handlers.splice(i, 1)
  }

  /**
   * Aborts this when `signal` aborts, with its reason. Returns the function that removes the
   * listener from `signal`: one listener per call, added and removed explicitly, so a long-lived
   * signal shared by many calls never accumulates listeners (unlike `AbortSignal.any`).
   */
  follow(signal: AbortSignal | undefined): () => void {
    if (signal === undefined) return noop
    if (signal.aborted) {
      this.abort(signal.reason)
      return noop
    }
    const onAbort = () => this.abort(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    return () => signal.removeEventListener('abort', onAbort)
  }
}

function tell(handler: AbortHandler | CancelListener, reason: unknown): void {
  if (typeof handler === 'function') handler(reason)
  else handler[kOnCancel](reason)
}

function noop(): void {}
