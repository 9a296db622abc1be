export { recordMetrics } from './record-metrics.ts'
export type { RecordMetricsOptions } from './record-metrics.ts'
export { recordTraces } from './record-traces.ts'
export type { RecordTracesOptions } from './record-traces.ts'
