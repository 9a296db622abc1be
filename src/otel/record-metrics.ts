import diagnosticsChannel from 'node:diagnostics_channel'
import { metrics, type Attributes, type MeterProvider } from '@opentelemetry/api'
import type { CircuitStateChange } from '../breaker/breaker-layer.ts'
import type {
  AttemptEndMessage,
  BudgetRefusedEvent,
  HedgeEvent,
  RetryEvent,
  ShedEvent,
} from '../core/events.ts'
import type { LimitChangeEvent } from '../concurrency/concurrency-layer.ts'
import { semanticAttributes } from './semantic-attributes.ts'

/** Options of {@link recordMetrics}. */
export interface RecordMetricsOptions {
  /**
   * Where the meter comes from.
   * @defaultValue the global meter provider (`metrics.getMeterProvider()`)
   */
  meterProvider?: MeterProvider
}

// OpenTelemetry's advice for http.client.request.duration, in seconds.
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]

/**
 * Records what every netiquette client in the process does as OpenTelemetry metrics, by
 * subscribing to its `diagnostics_channel` channels; returns a function that unsubscribes.
 * `@opentelemetry/api` is an optional peer dependency: install it to use `netiquette/otel`.
 *
 * | metric | kind | attributes |
 * | --- | --- | --- |
 * | `http.client.request.duration` (s) | histogram, OpenTelemetry's HTTP semantic conventions: each attempt (each request sent), to its response headers or its error | `http.request.method`, `server.address`, `server.port`, `url.scheme`, `network.protocol.version` (with the default agent), `http.response.status_code` or `error.type` |
 * | `netiquette.attempt.duration` (s) | histogram: time to response headers, or to the error | `netiquette.origin`, `http.request.method`, `netiquette.attempt.number`, `netiquette.attempt.outcome`, `http.response.status_code` or `error.type` |
 * | `netiquette.retries` | counter | `netiquette.origin`, `netiquette.retry.reason` (the status or error code retried), `netiquette.retry.delay_source` |
 * | `netiquette.retries.refused` | counter: retries the budget refused | `netiquette.origin` |
 * | `netiquette.hedges` | counter: hedges sent, refused (due and not sent) and won | `netiquette.origin`, `netiquette.hedge.action` (`sent`, `refused`, `won`) |
 * | `netiquette.shed` | counter: attempts rejected locally | `netiquette.origin`, `netiquette.shed.cause` |
 * | `netiquette.circuit.state` | gauge: 1 for the current state, 0 for the one left | `netiquette.origin`, `netiquette.circuit.state` |
 * | `netiquette.concurrency.limit` | gauge | `netiquette.origin` |
 *
 * Attributes are low-cardinality by design: origins, methods, codes; never paths.
 *
 * @example
 * ```ts
 * import { recordMetrics } from 'netiquette/otel'
 * const stop = recordMetrics() // the global MeterProvider set up by the OpenTelemetry SDK
 * // ... on shutdown
 * stop()
 * ```
 */
// Long (about 110 lines): the instruments and the channel subscribers that feed them share the
// closure, and `stop` unsubscribes them all.
export function recordMetrics(options: RecordMetricsOptions = {}): () => void {
  const provider = options.meterProvider ?? metrics.getMeterProvider()
  const meter = provider.getMeter('netiquette')
  const requestDuration = meter.createHistogram('http.client.request.duration', {
    description: 'Duration of HTTP client requests.',
    unit: 's',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  })
  const attemptDuration = meter.createHistogram('netiquette.attempt.duration', {
    description: 'Duration of each attempt until its response headers arrived or it failed',
    unit: 's',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  })
  const retries = meter.createCounter('netiquette.retries', {
    description: 'Attempts the retry policy sent again',
    unit: '{retry}',
  })
  const refused = meter.createCounter('netiquette.retries.refused', {
    description: 'Retries the retry policy wanted and the retry budget refused',
    unit: '{retry}',
  })
  const hedges = meter.createCounter('netiquette.hedges', {
    description: 'Hedged requests: sent, refused (due and not sent) and won (answered first)',
    unit: '{hedge}',
  })
  const shed = meter.createCounter('netiquette.shed', {
    description: 'Attempts rejected locally (queue full or timed out, circuit open, throttled)',
    unit: '{attempt}',
  })
  const circuitState = meter.createGauge('netiquette.circuit.state', {
    description: "1 for the origin's current circuit state, 0 for the others",
  })
  const limit = meter.createGauge('netiquette.concurrency.limit', {
    description: 'Attempts allowed in flight to the origin',
    unit: '{attempt}',
  })

  const subscriptions: [string, (message: unknown) => void][] = [
    [
      'netiquette:attempt:end',
      (message) => {
        const { attempt, error } = message as AttemptEndMessage
        const seconds = (attempt.timeToHeaders ?? attempt.duration ?? 0) / 1000
        const attributes: Attributes = {
          'netiquette.origin': attempt.origin,
          'http.request.method': attempt.method,
          'netiquette.attempt.number': attempt.number,
          'netiquette.attempt.outcome': attempt.outcome ?? 'failure',
        }
        if (attempt.statusCode !== undefined) {
          attributes['http.response.status_code'] = attempt.statusCode
        } else {
          attributes['error.type'] = attempt.error ?? (error as Error | undefined)?.name ?? 'Error'
        }
        attemptDuration.record(seconds, attributes)
        requestDuration.record(seconds, semanticAttributes(attempt))
      },
    ],
    [
      'netiquette:retry',
      (message) => {
        const { origin, attempt, delaySource } = message as RetryEvent
        retries.add(1, {
          'netiquette.origin': origin,
          'netiquette.retry.reason': String(attempt.statusCode ?? attempt.error ?? 'unknown'),
          'netiquette.retry.delay_source': delaySource,
        })
      },
    ],
    [
      'netiquette:budget:refused',
      (message) => {
        refused.add(1, { 'netiquette.origin': (message as BudgetRefusedEvent).origin })
      },
    ],
    [
      'netiquette:hedge',
      (message) => {
        const { origin, action } = message as HedgeEvent
        hedges.add(1, { 'netiquette.origin': origin, 'netiquette.hedge.action': action })
      },
    ],
    [
      'netiquette:shed',
      (message) => {
        const { origin, cause } = message as ShedEvent
        shed.add(1, { 'netiquette.origin': origin, 'netiquette.shed.cause': cause })
      },
    ],
    [
      'netiquette:circuit:state',
      (message) => {
        const { origin, from, to } = message as CircuitStateChange
        circuitState.record(0, { 'netiquette.origin': origin, 'netiquette.circuit.state': from })
        circuitState.record(1, { 'netiquette.origin': origin, 'netiquette.circuit.state': to })
      },
    ],
    [
      'netiquette:limit:change',
      (message) => {
        const { origin, to } = message as LimitChangeEvent
        limit.record(to, { 'netiquette.origin': origin })
      },
    ],
  ]
  for (const [name, listener] of subscriptions) diagnosticsChannel.subscribe(name, listener)
  return () => {
    for (const [name, listener] of subscriptions) diagnosticsChannel.unsubscribe(name, listener)
  }
}
