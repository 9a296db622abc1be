/**
 * Makes `controller` abort when `parent` aborts, with the parent's reason. Returns the function
 * that undoes the link; call it exactly when the work ends.
 *
 * This replaces `AbortSignal.any()` on the hot path: on Node 22 `any()` costs tens of
 * microseconds and its composites accumulate on a long-lived parent (nodejs/node#55351); one
 * listener added and removed explicitly costs about 0.3 µs and leaves nothing behind.
 */
export function linkSignal(
  parent: AbortSignal | undefined,
  controller: AbortController,
): () => void {
  if (parent === undefined) return noop
  if (parent.aborted) {
    controller.abort(parent.reason)
    return noop
  }
  const onAbort = () => controller.abort(parent.reason)
  parent.addEventListener('abort', onAbort, { once: true })
  return () => parent.removeEventListener('abort', onAbort)
}

function noop(): void {}
