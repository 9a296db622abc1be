export { recordMetrics } from './record-metrics.ts'
export type { RecordMetricsOptions } from './record-metrics.ts'
