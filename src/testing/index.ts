export { createFaultServer } from './fault-server.ts'
export type {
  Fault,
  FaultServer,
  FaultServerOptions,
  FaultServerStats,
  FaultSpec,
  H2ResetCode,
  ReceivedRequest,
  Script,
} from './fault-server.ts'
export { VirtualClock } from '../core/virtual-clock.ts'
export { seededRandom } from '../core/random.ts'
export type { Random } from '../core/random.ts'
