export { Client, createClient } from './client.ts'
export type { CallOptions, ClientOptions, RequestOptions } from './client-options.ts'
export type { ClientStats, OriginStats } from './client-stats.ts'
export type { FetchInit, FetchResponse } from './faces/fetch.ts'
export type { RedirectOptions } from './faces/redirect-policy.ts'
export { DEFAULT_DECOMPRESS } from './faces/decode-body.ts'
export type { DecompressOptions } from './faces/decode-body.ts'
export type { StackDispatcher } from './faces/stack-dispatcher.ts'
export {
  AbortedError,
  AttemptTimeoutError,
  BodyNotReplayableError,
  BodyUsedError,
  CircuitOpenError,
  ClientClosedError,
  CrossOriginError,
  DeadlineExceededError,
  DecompressionError,
  ErrorCodes,
  InvalidOptionError,
  InvalidRequestError,
  InvalidResponseError,
  MiddlewareError,
  NetiquetteError,
  QueueFullError,
  ConnectionLimitError,
  QueueTimeoutError,
  RedirectError,
  ThrottledError,
  SupersededError,
  HedgeDeclinedError,
  EndpointResolutionError,
  RateLimitedError,
} from './errors.ts'
export type {
  CircuitRejectingState,
  DecompressionFailure,
  ErrorCode,
  NetiquetteErrorOptions,
} from './errors.ts'
export type {
  AttemptConnect,
  AttemptDecision,
  AttemptRecord,
  RetryDecisionCode,
} from './core/attempt-record.ts'
export type { Clock, TimerHandle } from './core/clock.ts'
export { compose } from './core/compose.ts'
export { answer, gateLayer, type Answer, type Gate } from './core/gate.ts'
export { CallKey } from './core/call-key.ts'
export type { AttemptEndpoint } from './core/attempt-keys.ts'
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
export { classifyError, classifyStatus } from './core/outcome.ts'
export type { OutcomeKind } from './core/outcome.ts'
export { explain } from './core/explain.ts'
export { channels } from './core/events.ts'
export type {
  AttemptEndMessage,
  AttemptHook,
  AttemptStartMessage,
  BudgetRefusedEvent,
  HedgeEvent,
  CallEndMessage,
  CallStartMessage,
  RetryEvent,
  RetryHook,
  ShedCause,
  ShedEvent,
  ShedHook,
} from './core/events.ts'
// Types the middleware contract names: a layer uses them, the library makes them.
export type { AbortHandler, Cancellation } from './core/cancellation.ts'
export type { ResponseBody } from './core/response-body.ts'
export type { OriginCounters, OriginState } from './core/origin-state.ts'
export type { HeadersInput, HeaderRecord } from './core/headers.ts'
export { DEFAULT_AGENT_OPTIONS } from './connections/agent-defaults.ts'
export type { AgentOptions } from './connections/agent-defaults.ts'
export { DEFAULT_HTTP2_OPTIONS } from './connections/h2-sessions.ts'
export type { Http2Options } from './connections/h2-sessions.ts'
export type { ConnectionStats } from './connections/connection-stats.ts'
export type { ConnectCappedEvent, ConnectionTotals } from './connections/connection-cap.ts'
export type { ConnectWarmEvent } from './connections/warm-connections.ts'
export { DEFAULT_RACE_OPTIONS } from './connections/racing-connector.ts'
export type { ConnectEvent, RaceOptions } from './connections/racing-connector.ts'
export { deadlineLayer } from './timeouts/deadline-layer.ts'
export { attemptTimeoutLayer } from './timeouts/attempt-timeout-layer.ts'
export type { AttemptTimeoutLayerOptions } from './timeouts/attempt-timeout-layer.ts'
export { DEFAULT_TIMEOUTS } from './timeouts/timeout-options.ts'
export type { PropagationOptions, ResolvedTimeouts } from './timeouts/timeout-options.ts'
export {
  DEFAULT_DEADLINE_HEADER,
  ENVOY_TIMEOUT_HEADER,
  GRPC_TIMEOUT_HEADER,
} from './timeouts/timeout-header.ts'
export { currentDeadline, withDeadline } from './timeouts/deadline-context.ts'
export type { DeadlineScope, WithDeadlineOptions } from './timeouts/deadline-context.ts'
export { DEFAULT_INBOUND_HEADERS } from './timeouts/inbound-deadline.ts'
export type { IncomingHeaders, InboundDeadlineOptions } from './timeouts/inbound-deadline.ts'
export { expressDeadline, fastifyDeadline, httpDeadline } from './timeouts/server-deadline.ts'
export type { RequestWithHeaders } from './timeouts/server-deadline.ts'
export { retryLayer } from './retry/retry-layer.ts'
export type { RetryLayerOptions } from './retry/retry-layer.ts'
export { DEFAULT_RETRY, DEFAULT_RETRY_ERROR_CODES, MAX_RETRIES } from './retry/retry-options.ts'
export type {
  ResolvedRetryPolicy,
  RetryDelayArgs,
  ResolvedBudget,
  RetryOptions,
  ShouldRetryArgs,
} from './retry/retry-options.ts'
export { backoffDelay, decorrelatedJitter, equalJitter, fullJitter } from './retry/backoff.ts'
export type { BackoffInput, BackoffStrategy } from './retry/backoff.ts'
export { IDEMPOTENCY_KEY_HEADER } from './retry/idempotency.ts'
export type { RetryHint } from './core/retry-after.ts'
export { DEFAULT_HEDGE, MAX_HEDGES } from './retry/hedge-options.ts'
export type { HedgeOptions, HedgePercentile, ResolvedHedgePolicy } from './retry/hedge-options.ts'
export type { HedgeStats } from './retry/hedge-state.ts'
export { DEFAULT_EJECTION, DEFAULT_ENDPOINTS } from './endpoints/endpoints-options.ts'
export type {
  EjectionOptions,
  EndpointsOptions,
  ResolveAddresses,
  ResolvedEjection,
  ResolvedEndpoints,
} from './endpoints/endpoints-options.ts'
export type { EndpointStats } from './endpoints/endpoint.ts'
export { memoryStore } from './rate-limit/memory-rate-store.ts'
export type { MemoryRateStore } from './rate-limit/memory-rate-store.ts'
export type { MemoryStoreOptions } from './rate-limit/memory-rate-store.ts'
export type { RateLimitOptions } from './rate-limit/rate-limit-options.ts'
export type {
  RateLimitStore,
  RateLimitStoreEvent,
  RateLimitStoreState,
  RateReservation,
} from './rate-limit/rate-limit-store.ts'
export type { RateLimitStats } from './rate-limit/rate-key.ts'
export type { GcraRule } from './rate-limit/gcra.ts'
export type { EndpointEvent } from './endpoints/endpoint-set.ts'
export type { Random } from './core/random.ts'
export { RetryBudget, DEFAULT_RETRY_BUDGET } from './retry/retry-budget.ts'
export type { RetryBudgetOptions, RetryBudgetStats } from './retry/retry-budget.ts'
export { DEFAULT_THROTTLE } from './throttle/adaptive-throttle.ts'
export type { ThrottleOptions } from './throttle/adaptive-throttle.ts'
export { throttleLayer } from './throttle/throttle-layer.ts'
export type { ThrottleLayerOptions } from './throttle/throttle-layer.ts'
export { breakerLayer } from './breaker/breaker-layer.ts'
export type {
  BreakerLayerOptions,
  CircuitStateChange,
  CircuitStateChangeHook,
} from './breaker/breaker-layer.ts'
export { DEFAULT_BREAKER } from './breaker/breaker-options.ts'
export type { BreakerOptions, ResolvedBreakerOptions } from './breaker/breaker-options.ts'
export type { CircuitState } from './breaker/circuit.ts'
export type { Circuits } from './breaker/circuits.ts'
export type { CircuitSnapshot } from './breaker/circuits.ts'
export { concurrencyLayer } from './concurrency/concurrency-layer.ts'
export type {
  ConcurrencyLayerOptions,
  LimitChangeEvent,
  LimitChangeHook,
} from './concurrency/concurrency-layer.ts'
export type { ConcurrencyOptions } from './concurrency/concurrency-options.ts'
export { DEFAULT_AIMD } from './concurrency/aimd-limit.ts'
export type { AimdOptions } from './concurrency/aimd-limit.ts'
export type { Limiters } from './concurrency/limiters.ts'
export type { LimiterSnapshot } from './concurrency/limiters.ts'
export { DEFAULT_DELAY } from './concurrency/delay-limit.ts'
export type { DelayOptions } from './concurrency/delay-limit.ts'
