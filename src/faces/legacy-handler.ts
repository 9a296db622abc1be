import type { Dispatcher } from 'undici'
import { flattenHeaders } from '../core/headers.ts'

/** The callbacks of undici's first handler API (undici 6 and older, Node 22's `fetch`). */
interface LegacyHandler {
  onConnect?(abort: (reason?: Error) => void, context?: object): void
  onHeaders?(
    statusCode: number,
    rawHeaders: Buffer[],
    resume: () => void,
    statusText?: string,
  ): boolean | void
  onData?(chunk: Buffer): boolean | void
  onComplete?(rawTrailers: Buffer[] | null): void
  onError?(error: Error): void
  onResponseStarted?(): void
}

/**
 * A handler in undici's current API (`onRequestStart`, `onResponseStart`, ...) for either kind:
 * a current one as is, a legacy one (`onConnect`, `onHeaders`, ...) wrapped, as undici's own
 * dispatchers accept both.
 */
export function adaptHandler(
  handler: Dispatcher.DispatchHandler | Record<string, unknown>,
): Dispatcher.DispatchHandler {
  // undici's own Client calls the current callbacks of any handler; a handler that has only some
  // of them (no onRequestStart, say) is still a current one. Legacy means legacy callbacks only.
  const isLegacy =
    !CURRENT_CALLBACKS.some(
      (name) => typeof handler[name as keyof typeof handler] === 'function',
    ) &&
    LEGACY_CALLBACKS.some((name) => typeof handler[name as keyof typeof handler] === 'function')
  return isLegacy
    ? new LegacyHandlerAdapter(handler as LegacyHandler)
    : (handler as Dispatcher.DispatchHandler)
}

const CURRENT_CALLBACKS = [
  'onRequestStart',
  'onResponseStart',
  'onResponseData',
  'onResponseEnd',
  'onResponseError',
]
const LEGACY_CALLBACKS = ['onConnect', 'onHeaders', 'onData', 'onComplete', 'onError']

class LegacyHandlerAdapter implements Dispatcher.DispatchHandler {
  readonly #handler: LegacyHandler

  constructor(handler: LegacyHandler) {
    this.#handler = handler
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: object): void {
    this.#handler.onConnect?.((reason) => controller.abort(reason ?? new Error('aborted')), context)
  }

  /** Not in undici's types: its Client calls it on either kind of handler at the first byte. */
  onResponseStarted(): void {
    this.#handler.onResponseStarted?.()
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusText?: string,
  ): void {
    const resume = () => controller.resume()
    if (
      this.#handler.onHeaders?.(statusCode, toRawHeaders(headers), resume, statusText) === false
    ) {
      controller.pause()
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#handler.onData?.(chunk) === false) controller.pause()
  }

  onResponseEnd(
    _controller: Dispatcher.DispatchController,
    trailers: Record<string, string | string[] | undefined>,
  ): void {
    this.#handler.onComplete?.(toRawHeaders(trailers))
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.#handler.onError?.(error)
  }
}

/** Parsed headers back in undici's raw form: `[name, value, ...]` as latin1 Buffers. */
function toRawHeaders(headers: Record<string, string | string[] | undefined>): Buffer[] {
  return flattenHeaders(headers).map((field) => Buffer.from(field, 'latin1'))
}
