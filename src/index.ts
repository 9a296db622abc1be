export { Client, createClient, DEFAULT_MIDDLEWARE } from './client.ts'
export type { ClientOptions, RequestOptions } from './client.ts'
export {
  AbortedError,
  AttemptTimeoutError,
  BodyNotReplayableError,
  BodyUsedError,
  CircuitOpenError,
  ClientClosedError,
  CrossOriginError,
  DeadlineExceededError,
  ErrorCodes,
  InvalidOptionError,
  InvalidRequestError,
  MiddlewareError,
  NetiquetteError,
  QueueFullError,
  QueueTimeoutError,
  ThrottledError,
} from './errors.ts'
export type { ErrorCode, NetiquetteErrorOptions } from './errors.ts'
export type { AttemptDecision, AttemptRecord } from './core/attempt.ts'
export { systemClock } from './core/clock.ts'
export type { Clock } from './core/clock.ts'
export { compose } from './core/middleware.ts'
export type {
  CallRequest,
  CallResponse,
  CallUndiciOptions,
  ClientResponse,
  Handler,
  Middleware,
  RequestBody,
  RequestBodyValue,
  UndiciRequestOptions,
} from './core/middleware.ts'
export { discardResponse } from './core/discard.ts'
export { classifyError, classifyStatus, errorCode, neverLeftClient } from './core/outcome.ts'
export type { OutcomeKind } from './core/outcome.ts'
export { explain } from './core/explain.ts'
export { channels } from './core/events.ts'
export type {
  AttemptEndMessage,
  AttemptStartMessage,
  CallEndMessage,
  CallStartMessage,
} from './core/events.ts'
export { Cancellation } from './core/cancellation.ts'
export type { AbortHandler } from './core/cancellation.ts'
export { ResponseBody } from './core/response-body.ts'
export type { ResponseBodySource } from './core/response-body.ts'
export { OriginMap } from './core/origin-map.ts'
export type { OriginMapOptions } from './core/origin-map.ts'
export { OriginState } from './core/origin-state.ts'
export type { Disposable } from './core/origin-state.ts'
export type { HeadersInput, HeaderRecord } from './core/headers.ts'
export { DEFAULT_AGENT_OPTIONS } from './pool/agent-defaults.ts'
export type { AgentOptions } from './pool/agent-defaults.ts'
