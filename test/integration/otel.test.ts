import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type MetricData,
} from '@opentelemetry/sdk-metrics'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createClient, type Client } from '../../src/index.ts'
import { recordMetrics } from '../../src/otel/index.ts'
import { createFaultServer, type FaultServer } from '../../src/testing/index.ts'
import { scriptedRun } from '../support/scripted-run.ts'

let server: FaultServer
let client: Client | undefined
let exporter: InMemoryMetricExporter
let reader: PeriodicExportingMetricReader
let provider: MeterProvider

beforeEach(async () => {
  server = await createFaultServer()
  exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  // Exported only when the test flushes.
  reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
  provider = new MeterProvider({ readers: [reader] })
})

afterEach(async () => {
  await client?.destroy()
  client = undefined
  await provider.shutdown()
  await server.close()
})

async function collected(): Promise<Map<string, MetricData>> {
  await reader.forceFlush()
  const byName = new Map<string, MetricData>()
  for (const resource of exporter.getMetrics()) {
    for (const scope of resource.scopeMetrics) {
      for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric)
    }
  }
  return byName
}

/** Each data point of `metric` as its attributes plus its value. */
function points(metric: MetricData | undefined): Record<string, unknown>[] {
  if (metric === undefined) return []
  return metric.dataPoints.map((point) => ({ ...point.attributes, value: point.value }))
}

describe('netiquette/otel', () => {
  it('records the scripted run (one retry, one shed, one circuit opening) as metrics', async () => {
    const stop = recordMetrics({ meterProvider: provider })
    try {
      client = await scriptedRun(server)
    } finally {
      stop()
    }
    const metrics = await collected()
    const origin = server.url

    const duration = metrics.get('netiquette.attempt.duration')
    expect(duration?.dataPointType).toBe(DataPointType.HISTOGRAM)
    expect(duration?.descriptor.unit).toBe('s')
    const attempts = (duration?.dataPoints ?? []).map((p) => ({
      ...p.attributes,
      count: (p.value as { count: number }).count,
    }))
    expect(attempts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          'netiquette.attempt.number': 1,
          'http.response.status_code': 503,
          'netiquette.attempt.outcome': 'overload',
          count: 1,
        }),
        expect.objectContaining({
          'netiquette.attempt.number': 2,
          'http.response.status_code': 200,
          'netiquette.attempt.outcome': 'success',
          count: 1,
        }),
        expect.objectContaining({ 'error.type': 'AbortError', count: 1 }),
        expect.objectContaining({ 'http.response.status_code': 500, count: 2 }),
      ]),
    )
    expect(attempts.reduce((sum, p) => sum + p.count, 0)).toBe(5)

    expect(points(metrics.get('netiquette.retries'))).toEqual([
      {
        'netiquette.origin': origin,
        'netiquette.retry.reason': '503',
        'netiquette.retry.delay_source': 'backoff',
        value: 1,
      },
    ])
    expect(points(metrics.get('netiquette.shed'))).toEqual([
      { 'netiquette.origin': origin, 'netiquette.shed.cause': 'queue-full', value: 1 },
    ])
    expect(points(metrics.get('netiquette.circuit.state'))).toEqual(
      expect.arrayContaining([
        { 'netiquette.origin': origin, 'netiquette.circuit.state': 'closed', value: 0 },
        { 'netiquette.origin': origin, 'netiquette.circuit.state': 'open', value: 1 },
      ]),
    )
    expect(metrics.has('netiquette.retries.refused')).toBe(false)
  })

  it('records limit changes, and nothing once stopped', async () => {
    const stop = recordMetrics({ meterProvider: provider })
    server.route('/busy', 503)
    server.route('/ok', 200)
    // AIMD from 40: one 503 (a drop) cuts the limit to 36.
    client = createClient({
      origin: server.url,
      retry: false,
      breaker: false,
      concurrency: { algorithm: 'aimd', initialLimit: 40, minLimit: 1 },
    })
    await (await client.request('/busy')).body.dump()
    expect(points((await collected()).get('netiquette.concurrency.limit'))).toEqual([
      { 'netiquette.origin': server.url, value: 36 },
    ])
    stop()
    for (let i = 0; i < 5; i++) await (await client.request('/ok')).body.text()
    const after = (await collected()).get('netiquette.attempt.duration')?.dataPoints ?? []
    expect(after.reduce((sum, p) => sum + (p.value as { count: number }).count, 0)).toBe(1)
  })
})
