// netiquette/fleet: the fleet simulator (docs/fleet.md). Many netiquette clients against
// simulated servers on virtual time, to see retry storms and metastable failure before
// production does. It exports what docs/fleet.md uses: a run (`runFleet`, with the paper's
// server and the recovery rule), a study (`runFleetStudy`) and the named behaviours.
export { runFleet, PAPER_SERVER, recoveredAfter } from './run-fleet.ts'
export type {
  FleetOptions,
  FleetProgress,
  FleetRates,
  FleetRun,
  FleetSecond,
  FleetTrigger,
  RecoveryRule,
} from './run-fleet.ts'
export { runFleetStudy } from './fleet-study.ts'
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
export type { ServiceTime, SimServerOptions } from './sim-server.ts'
export type { Balancer } from './sim-dispatcher.ts'
