import type { IncomingMessage, ServerResponse } from 'node:http'
import { enterDeadline } from './deadline-context.ts'
import {
  readInboundDeadline,
  resolveInboundOptions,
  type IncomingHeaders,
  type InboundDeadlineOptions,
  type ResolvedInboundOptions,
} from './inbound-deadline.ts'

/** The part of an incoming request the helpers read: Node's, Express's and Fastify's all fit. */
export interface RequestWithHeaders {
  readonly headers: IncomingHeaders
}

/**
 * Wraps a plain `node:http` handler so that each request's inbound deadline (see
 * `parseInboundDeadline`) is in force while it is handled: client calls made by the handler,
 * in any `await` below it, use `min(their own deadline, what the caller has left)`. A request
 * without a deadline header runs the handler as is, with no async context.
 *
 * Listeners added to the request or socket (`req.on('data')`) run in the emitter's context, not
 * the handler's: read bodies with `await` (or `for await`) to keep the deadline.
 *
 * @example
 * ```ts
 * http.createServer(httpDeadline(async (req, res) => {
 *   const user = await users.request('/me') // inherits the caller's deadline
 *   res.end(await user.body.text())
 * }))
 * ```
 */
export function httpDeadline<
  Req extends RequestWithHeaders = IncomingMessage,
  Res = ServerResponse,
>(
  handler: (req: Req, res: Res) => unknown,
  options?: InboundDeadlineOptions,
): (req: Req, res: Res) => void {
  const resolved = resolveInboundOptions(options)
  return (req, res) => {
    runWithInbound(req, resolved, () => handler(req, res))
  }
}

/**
 * Express-style middleware `(req, res, next)` doing what {@link httpDeadline} does for the
 * middleware and route handlers after it. Works before or after body parsers (tested with
 * Express 5 and `express.json()`).
 *
 * @example
 * ```ts
 * app.use(expressDeadline())
 * ```
 */
export function expressDeadline(
  options?: InboundDeadlineOptions,
): (req: RequestWithHeaders, res: unknown, next: (error?: unknown) => void) => void {
  return scopeBeforeNext(options)
}

/**
 * A Fastify `onRequest` hook doing what {@link httpDeadline} does for the hooks and handler that
 * follow (tested with Fastify 5, including requests with a parsed body).
 *
 * @example
 * ```ts
 * app.addHook('onRequest', fastifyDeadline())
 * ```
 */
export function fastifyDeadline(
  options?: InboundDeadlineOptions,
): (request: RequestWithHeaders, reply: unknown, done: (error?: Error) => void) => void {
  return scopeBeforeNext(options)
}

/** Express middleware and Fastify hooks have one shape: the request, something, a continuation. */
function scopeBeforeNext(
  options: InboundDeadlineOptions | undefined,
): (req: RequestWithHeaders, _: unknown, next: () => void) => void {
  const resolved = resolveInboundOptions(options)
  return (req, _, next) => {
    runWithInbound(req, resolved, next)
  }
}

function runWithInbound(
  req: RequestWithHeaders,
  options: ResolvedInboundOptions,
  fn: () => unknown,
): void {
  const ms = readInboundDeadline(req.headers, options)
  if (ms === undefined) fn()
  else enterDeadline(ms, options.clock, fn)
}
