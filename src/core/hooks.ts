/**
 * Calls an observer the user passed in an option (`onCircuitStateChange`, ...). A hook only
 * observes: if it throws, the error is reported as a process warning and the call goes on, since
 * a broken log line must never fail a request or leave a policy half-updated.
 */
export function callHook<E>(hook: ((event: E) => void) | undefined, name: string, event: E): void {
  if (hook === undefined) return
  try {
    hook(event)
  } catch (error) {
    const shown = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
    process.emitWarning(`the ${name} hook threw (${shown}); the call went on`, {
      type: 'NetiquetteHookWarning',
      code: 'NQ_HOOK_THREW',
    })
  }
}
