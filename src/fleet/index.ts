// netiquette/fleet: the fleet simulator (docs/fleet.md). Many netiquette clients against
// simulated servers on virtual time, to see retry storms and metastable failure before
// production does.
export { runFleet, PAPER_SERVER, ratesOver, recoveredAfter } from './run-fleet.ts'
export type {
  FleetOptions,
  FleetProgress,
  FleetRates,
  FleetRun,
  FleetSecond,
  FleetTrigger,
  RecoveryRule,
  ResolvedFleetOptions,
} from './run-fleet.ts'
export {
  runFleetStudy,
  PAPER_CASES,
  describeCase,
  largestCutSurvived,
  longestSurvived,
} from './fleet-study.ts'
export type {
  CureRow,
  FleetStudy,
  FleetStudyOptions,
  PaperCase,
  PaperRow,
  PhaseDiagram,
  PhaseGrid,
  StudyProgress,
} from './fleet-study.ts'
export { BEHAVIOURS, BEHAVIOUR_NAMES } from './fleet-behaviours.ts'
export type { BehaviourName, FleetBehaviour } from './fleet-behaviours.ts'
export { SimServer } from './sim-server.ts'
export type { ServerJob, ServiceTime, SimServerOptions, SimServerTotals } from './sim-server.ts'
export { SimDispatcher } from './sim-dispatcher.ts'
export type { Balancer } from './sim-dispatcher.ts'
export { formatFleetStudy } from './fleet-table.ts'
export { renderFleetReport } from './fleet-report.ts'
