import { InvalidOptionError } from '../errors.ts'
import { gateOf, gatesHandler, type Gate } from './gate.ts'
import type { Handler, Middleware } from './middleware.ts'

/**
 * Builds one handler from a list of middleware and a terminal handler. The first middleware is the
 * outermost: it runs first on the way in and last on the way out. The chain is built once, so a
 * call allocates nothing for it. Neighbouring gates ({@link gateLayer}) run as one step: a run of
 * them costs one promise between them all, however many there are.
 */
export function compose(middleware: readonly Middleware[], terminal: Handler): Handler {
  if (!Array.isArray(middleware) || middleware.some((m) => typeof m !== 'function')) {
    throw new InvalidOptionError('middleware', middleware, 'an array of middleware functions')
  }
  if (typeof terminal !== 'function') {
    throw new InvalidOptionError('terminal', terminal, 'a handler function')
  }
  let handler = terminal
  let i = middleware.length - 1
  while (i >= 0) {
    const layer = middleware[i] as Middleware
    const gates: Gate[] = []
    for (let gate = gateOf(layer); gate !== undefined && i >= 0;) {
      gates.unshift(gate)
      i--
      gate = i >= 0 ? gateOf(middleware[i] as Middleware) : undefined
    }
    if (gates.length > 0) {
      handler = gatesHandler(gates, handler)
      continue
    }
    const next = handler
    handler = (request) => layer(request, next)
    i--
  }
  return handler
}
