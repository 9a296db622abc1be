import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { context, SpanKind, SpanStatusCode } from '@opentelemetry/api'
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace'
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createClient, type Client } from '../../src/index.ts'
import { recordMetrics, recordTraces } from '../../src/otel/index.ts'
import { createFaultServer, type FaultServer } from '../../src/testing/index.ts'

// The real OpenTelemetry SDK with its in-memory exporters, and its AsyncLocalStorage context
// manager, so that "the active context" means what it means in an instrumented service.

let server: FaultServer
let client: Client | undefined
let exporter: InMemorySpanExporter
let provider: TracerProvider
let stop: () => void
const contextManager = new AsyncLocalStorageContextManager()

beforeEach(async () => {
  server = await createFaultServer()
  exporter = new InMemorySpanExporter()
  provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] })
  context.setGlobalContextManager(contextManager.enable())
  stop = recordTraces({ tracerProvider: provider })
})

afterEach(async () => {
  stop()
  context.disable()
  await client?.destroy()
  client = undefined
  await provider.shutdown()
  await server.close()
})

/** The spans exported so far (the processor exports asynchronously). */
async function finished(): Promise<ReadableSpan[]> {
  await provider.forceFlush()
  return exporter.getFinishedSpans()
}

function byName(spans: ReadableSpan[], name: string): ReadableSpan[] {
  return spans.filter((span) => span.name === name)
}

function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId
}

/** Runs `body` with recordMetrics on an in-memory exporter; returns the metrics it recorded. */
async function withMetrics(body: () => Promise<void>) {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
  const meterProvider = new MeterProvider({ readers: [reader] })
  const stopMetrics = recordMetrics({ meterProvider })
  try {
    await body()
    await reader.forceFlush()
    return exporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics))
  } finally {
    stopMetrics()
    await meterProvider.shutdown()
  }
}

describe('recordTraces', () => {
  it('a span per call under the active span, a child per attempt, the retry wait and each decision', async () => {
    server.route('/flaky', [503, { status: 200, body: 'ok' }])
    client = createClient({ origin: server.url, retry: { baseDelay: 20, maxDelay: 20 } })
    const tracer = provider.getTracer('app')
    await tracer.startActiveSpan('handle order', async (caller) => {
      await (await client!.request('/flaky?token=secret')).body.text()
      caller.end()
    })
    const spans = await finished()
    const [callerSpan] = byName(spans, 'handle order')
    const gets = byName(spans, 'GET')
    expect(gets).toHaveLength(3) // the call and its two attempts
    const call = gets.find((span) => parentOf(span) === callerSpan?.spanContext().spanId)
    expect(call).toBeDefined()
    expect(call?.kind).toBe(SpanKind.CLIENT)
    expect(call?.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.response.status_code': 200,
      'netiquette.attempts': 2,
    })
    const attempts = gets
      .filter((span) => parentOf(span) === call?.spanContext().spanId)
      .sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1])
    expect(attempts).toHaveLength(2)
    const port = Number(new URL(server.url).port)
    expect(attempts[0]?.attributes).toEqual({
      'http.request.method': 'GET',
      'url.full': `${server.url}/flaky`, // no query: it may carry tokens
      'server.address': '127.0.0.1',
      'server.port': port,
      'url.scheme': 'http',
      'network.protocol.version': '1.1',
      'http.response.status_code': 503,
      'error.type': '503',
      // The first attempt opened the client's connection.
      'network.type': 'ipv4',
      'netiquette.connection.reused': false,
      'netiquette.connect.duration': expect.any(Number),
      'netiquette.connect.raced': false,
    })
    expect(attempts[0]?.status.code).toBe(SpanStatusCode.ERROR)
    expect(attempts[1]?.attributes).toMatchObject({
      'http.request.resend_count': 1,
      'http.response.status_code': 200,
    })
    expect(attempts[1]?.attributes['netiquette.connection.reused']).toBeTypeOf('boolean')
    expect(attempts[0]?.events.map((e) => [e.name, e.attributes])).toEqual([
      [
        'netiquette.decision',
        {
          'netiquette.decision.action': 'retry',
          'netiquette.decision.code': 'retryable',
          'netiquette.decision.reason': expect.stringContaining('503'),
          'netiquette.decision.delay': expect.any(Number),
        },
      ],
    ])
    expect(attempts[1]?.events[0]?.attributes?.['netiquette.decision.action']).toBe('return')
    const [wait] = byName(spans, 'netiquette.retry.wait')
    expect(parentOf(wait as ReadableSpan)).toBe(call?.spanContext().spanId)
    expect(wait?.attributes['netiquette.retry.delay_source']).toBe('backoff')
  })

  it('a failed call: error.type on the call span, and the wait for a queue place as a span', async () => {
    server.route('/slow', { latency: 150, status: 200 })
    server.route('/down', { reset: 'before-headers' })
    client = createClient({
      origin: server.url,
      retry: false,
      concurrency: { limit: 1, maxQueueWait: 5_000 },
    })
    const slow = client.request('/slow').then((r) => r.body.text())
    const queued = client.request('/down').catch((error: unknown) => error)
    await slow
    expect(await queued).toMatchObject({ code: 'ECONNRESET' })
    const spans = await finished()
    const [queue] = byName(spans, 'netiquette.queue')
    expect(queue).toBeDefined()
    const call = spans.find((span) => span.spanContext().spanId === parentOf(queue!))
    expect(call?.attributes).toMatchObject({ 'error.type': 'ECONNRESET', 'netiquette.attempts': 1 })
    expect(call?.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'ECONNRESET' })
    const waited = (queue!.duration[0] * 1e9 + queue!.duration[1]) / 1e6
    expect(waited).toBeGreaterThan(50) // it waited for /slow to finish
  })

  it('a hedge: an overlapping attempt span marked as one, the loser not an error, and counted', async () => {
    const metrics = await withMetrics(async () => {
      server.route('/tail', (_request, index) => (index === 0 ? { stall: 'before-headers' } : 200))
      client = createClient({ origin: server.url, hedge: { delay: 50, maxExtraLoad: 1 } })
      await (await client.request('/tail')).body.text()
    })
    const attempts = (await finished()).filter((s) => s.name === 'GET' && parentOf(s) !== undefined)
    expect(attempts).toHaveLength(2)
    const hedge = attempts.find((s) => s.attributes['netiquette.attempt.hedge'] === true)
    const loser = attempts.find((s) => s !== hedge)
    expect(hedge?.attributes['http.request.resend_count']).toBe(1)
    expect(loser?.attributes['netiquette.attempt.hedge']).toBeUndefined()
    expect(loser?.status.code).not.toBe(SpanStatusCode.ERROR)
    const counter = metrics.find((m) => m.descriptor.name === 'netiquette.hedges')
    expect(counter?.dataPoints.map((p) => ({ ...p.attributes, value: p.value }))).toEqual(
      expect.arrayContaining([
        { 'netiquette.origin': server.url, 'netiquette.hedge.action': 'sent', value: 1 },
        { 'netiquette.origin': server.url, 'netiquette.hedge.action': 'won', value: 1 },
      ]),
    )
  })

  it('with endpoints, names the address an attempt connected to as network.peer.address', async () => {
    client = createClient({
      origin: `http://svc.test:${server.port}`,
      endpoints: { resolve: () => ['127.0.0.1'] },
    })
    await (await client.request('/')).body.text()
    const attempts = (await finished()).filter((s) => s.name === 'GET' && parentOf(s) !== undefined)
    expect(attempts).toHaveLength(1)
    expect(attempts[0]?.attributes).toMatchObject({
      'network.peer.address': '127.0.0.1',
      'server.address': 'svc.test',
    })
  })

  it('records nothing once stopped', async () => {
    stop()
    client = createClient({ origin: server.url })
    await (await client.request('/')).body.text()
    expect(await finished()).toHaveLength(0)
    stop = () => {}
  })
})

describe('recordMetrics: the semantic conventions', () => {
  it('records http.client.request.duration per attempt with its attributes', async () => {
    const metrics = await withMetrics(async () => {
      server.route('/flaky', [503, 200])
      client = createClient({ origin: server.url, retry: { baseDelay: 1, maxDelay: 5 } })
      await (await client.request('/flaky')).body.text()
    })
    {
      const metric = metrics.find((m) => m.descriptor.name === 'http.client.request.duration')
      expect(metric?.descriptor.unit).toBe('s')
      const port = Number(new URL(server.url).port)
      expect(metric?.dataPoints.map((p) => p.attributes)).toEqual(
        expect.arrayContaining([
          {
            'http.request.method': 'GET',
            'server.address': '127.0.0.1',
            'server.port': port,
            'url.scheme': 'http',
            'network.protocol.version': '1.1',
            'http.response.status_code': 503,
            'error.type': '503',
          },
          {
            'http.request.method': 'GET',
            'server.address': '127.0.0.1',
            'server.port': port,
            'url.scheme': 'http',
            'network.protocol.version': '1.1',
            'http.response.status_code': 200,
          },
        ]),
      )
    }
  })
})
