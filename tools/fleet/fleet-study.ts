import {
  checkKnownKeys,
  intInRange,
  isPlainObject,
  numberInRange,
  optionalFunction,
} from '../tool-options.ts'
import { InvalidOptionError } from '../../src/index.ts'
import { BEHAVIOUR_NAMES, BEHAVIOURS, type BehaviourName } from './fleet-behaviours.ts'
import { PAPER_SERVER, runFleet, type FleetRun } from './run-fleet.ts'

/** One of the paper's four runs: the load and the capacity cut. */
export interface PaperCase {
  /** Calls offered per second, at the paper's scale. */
  rate: number
  /** Share of capacity taken away. */
  cut: number
  /** How long, in ms. */
  length: number
  /** What the paper observed. */
  paper: { stuck: boolean; summary: string }
}

/**
 * Huang et al., "Metastable Failures in the Wild" (OSDI 2022, §5.2): MongoDB at 6,200 requests/s,
 * 3 s client timeout, up to 4 retries, the server's CPU cut for a while.
 */
export const PAPER_CASES: readonly PaperCase[] = Object.freeze([
  {
    rate: 6_200,
    cut: 0.8,
    length: 10_000,
    paper: { stuck: true, summary: 'stuck: ~20,000 attempts/s (3x), goodput ~600/s (-90%)' },
  },
  { rate: 6_200, cut: 0.78, length: 10_000, paper: { stuck: false, summary: 'recovered' } },
  { rate: 6_200, cut: 0.8, length: 9_000, paper: { stuck: false, summary: 'recovered' } },
  { rate: 4_200, cut: 0.8, length: 10_000, paper: { stuck: false, summary: 'recovered' } },
])

/** The grid a phase diagram covers. */
export interface PhaseGrid {
  /** Capacity cuts, 0 to 1. @defaultValue [0.5, 0.7, 0.8, 0.9, 1] */
  cuts?: readonly number[]
  /** Trigger lengths in ms. @defaultValue [2000, 5000, 10000, 20000] */
  lengths?: readonly number[]
  /** Offered loads, calls/s at the paper's scale. @defaultValue [4200, 6200] */
  loads?: readonly number[]
  /**
   * Ms after the trigger's end within which a run must recover to count as recovered.
   * @defaultValue 30000
   */
  within?: number
}

/** Options of {@link runFleetStudy}. */
export interface FleetStudyOptions {
  /**
   * Size of the fleet relative to the paper's: load, server capacity and number of clients are
   * all multiplied by it, so each client sees the same traffic and a queue drains in the same
   * time; only the noise grows as it shrinks. 0.1 runs ten times faster than 1.
   * @defaultValue 0.1
   */
  scale?: number
  /** Clients at scale 1. @defaultValue 1000 */
  clients?: number
  /** @defaultValue every built-in behaviour */
  behaviours?: readonly BehaviourName[]
  /** @defaultValue 1 */
  seed?: number
  /** The phase diagram's grid; `false` for none. @defaultValue see {@link PhaseGrid} */
  phase?: PhaseGrid | false
  /** Called after each second of virtual time of each run. @defaultValue none */
  onProgress?: (progress: StudyProgress) => void
}

/** What {@link runFleetStudy} reports while it runs. */
export interface StudyProgress {
  /** Which run, 0-based, of how many, and what it is. */
  index: number
  of: number
  label: string
  /** Virtual ms done in this run, of how many at most. */
  at: number
  duration: number
}

/** One row of the reproduced table. */
export interface PaperRow {
  case: PaperCase
  /** Our run of the paper's client in that case (every second of it). */
  run: FleetRun
  stuck: boolean
}

/** How one behaviour fared: the stuck case, and the largest triggers it survived in the grid. */
export interface CureRow {
  behaviour: BehaviourName
  setup: string
  /** The run at the paper's stuck case (6,200/s, 80% x 10 s). */
  run: FleetRun
  /** From the phase diagram at 6,200/s: the largest cut survived at 10 s, null if none was. */
  largestCut: number | null
  /** From the phase diagram at 6,200/s: the longest 80% cut survived, in ms, null if none was. */
  longest: number | null
}

/** One behaviour's phase diagram at one load. */
export interface PhaseDiagram {
  behaviour: BehaviourName
  /** Calls/s at the paper's scale. */
  load: number
  cuts: number[]
  lengths: number[]
  /** `cells[i][j]`: for cut i and length j, ms from the trigger's end to recovery; null if stuck. */
  cells: (number | null)[][]
}

/** Everything {@link runFleetStudy} produced: what `--fleet --json` prints. */
export interface FleetStudy {
  /** Changes when the shape of this object does. */
  version: 1
  settings: {
    scale: number
    clients: number
    seed: number
    server: typeof PAPER_SERVER
    within: number
  }
  behaviours: { name: BehaviourName; setup: string }[]
  paper: PaperRow[]
  cure: CureRow[]
  phase: PhaseDiagram[]
  /** Every run's wall time and events, summed. */
  wall: { ms: number; events: number; runs: number; eventsPerSecond: number }
}

/** When the paper's runs cut capacity, and how long they last after the cut. */
const TRIGGER_AT = 10_000
const OBSERVE = 40_000
/** Phase-diagram runs: trigger early, then `within` to recover. */
const PHASE_TRIGGER_AT = 5_000
const DEFAULT_GRID = {
  cuts: [0.5, 0.7, 0.8, 0.9, 1],
  lengths: [2_000, 5_000, 10_000, 20_000],
  loads: [4_200, 6_200],
  within: 30_000,
}
const KNOWN = ['scale', 'clients', 'behaviours', 'seed', 'phase', 'onProgress']

/**
 * Reproduces the paper's table with its client, runs every behaviour through the stuck case, and
 * draws the phase diagram: for each behaviour and load, which triggers the fleet recovers from.
 */
export async function runFleetStudy(options: FleetStudyOptions = {}): Promise<FleetStudy> {
  const raw: unknown = options
  if (!isPlainObject(raw)) throw new InvalidOptionError('options', options, 'an object')
  checkKnownKeys('', raw, KNOWN)
  const scale = numberInRange('scale', options.scale, 0.01, 1, 0.1)
  const clients = intInRange('clients', options.clients, 1, 10_000, 1_000)
  const seed = intInRange('seed', options.seed, 0, 0xffff_ffff, 1)
  const behaviours = resolveBehaviours(options.behaviours)
  const grid = resolveGrid(options.phase)
  const onProgress = optionalFunction('onProgress', options.onProgress) ?? (() => {})
  const fleetClients = Math.max(1, Math.round(clients * scale))
  const server = { ...PAPER_SERVER, capacity: PAPER_SERVER.capacity * scale }

  const phaseRuns =
    grid === false
      ? 0
      : behaviours.length * grid.loads.length * grid.cuts.length * grid.lengths.length
  const of = PAPER_CASES.length + behaviours.filter((b) => b !== 'paper').length + phaseRuns
  let index = 0
  let wallMs = 0
  let events = 0
  const run = async (
    label: string,
    behaviour: BehaviourName,
    rate: number,
    cut: number,
    length: number,
    at: number,
    duration: number,
    stopWhenRecovered: boolean,
  ): Promise<FleetRun> => {
    const current = index++
    const result = await runFleet({
      behaviour,
      clients: fleetClients,
      rate: rate * scale,
      server,
      duration,
      seed,
      triggers: [{ at, duration: length, cut }],
      stopWhenRecovered,
      onProgress: (p) => onProgress({ index: current, of, label, at: p.at, duration }),
    })
    wallMs += result.wall.ms
    events += result.wall.events
    return result
  }

  const paper: PaperRow[] = []
  for (const c of PAPER_CASES) {
    const label = `paper, ${describeCase(c)}`
    const result = await run(
      label,
      'paper',
      c.rate,
      c.cut,
      c.length,
      TRIGGER_AT,
      TRIGGER_AT + c.length + OBSERVE,
      false,
    )
    paper.push({ case: c, run: result, stuck: result.recoveredAfter === null })
  }
  const stuckCase = PAPER_CASES[0] as PaperCase
  const stuckRuns = new Map<BehaviourName, FleetRun>()
  const paperStuck = paper[0]?.run
  if (paperStuck !== undefined && behaviours.includes('paper')) stuckRuns.set('paper', paperStuck)
  for (const behaviour of behaviours) {
    if (behaviour === 'paper') continue
    const result = await run(
      `${behaviour}, ${describeCase(stuckCase)}`,
      behaviour,
      stuckCase.rate,
      stuckCase.cut,
      stuckCase.length,
      TRIGGER_AT,
      TRIGGER_AT + stuckCase.length + OBSERVE,
      false,
    )
    stuckRuns.set(behaviour, result)
  }

  const phase: PhaseDiagram[] = []
  if (grid !== false) {
    for (const behaviour of behaviours) {
      for (const load of grid.loads) {
        const cells: (number | null)[][] = []
        for (const cut of grid.cuts) {
          const row: (number | null)[] = []
          for (const length of grid.lengths) {
            const result = await run(
              `phase: ${behaviour}, ${load}/s, ${Math.round(cut * 100)}% x ${length / 1000} s`,
              behaviour,
              load,
              cut,
              length,
              PHASE_TRIGGER_AT,
              PHASE_TRIGGER_AT + length + grid.within + 5_000,
              true,
            )
            const after = result.recoveredAfter
            row.push(after !== null && after <= grid.within ? after : null)
          }
          cells.push(row)
        }
        phase.push({ behaviour, load, cuts: [...grid.cuts], lengths: [...grid.lengths], cells })
      }
    }
  }

  const cure: CureRow[] = behaviours.map((behaviour) => {
    const diagram = phase.find((d) => d.behaviour === behaviour && d.load === stuckCase.rate)
    return {
      behaviour,
      setup: BEHAVIOURS[behaviour].setup,
      run: stuckRuns.get(behaviour) as FleetRun,
      largestCut: diagram === undefined ? null : largestCutSurvived(diagram, stuckCase.length),
      longest: diagram === undefined ? null : longestSurvived(diagram, stuckCase.cut),
    }
  })

  return {
    version: 1,
    settings: {
      scale,
      clients: fleetClients,
      seed,
      server,
      within: grid === false ? DEFAULT_GRID.within : grid.within,
    },
    behaviours: behaviours.map((name) => ({ name, setup: BEHAVIOURS[name].setup })),
    paper,
    cure,
    phase,
    wall: {
      ms: Math.round(wallMs),
      events,
      runs: index,
      eventsPerSecond: Math.round(events / (wallMs / 1000)),
    },
  }
}

/** "6,200/s, 80% x 10 s". */
export function describeCase(c: { rate: number; cut: number; length: number }): string {
  return `${c.rate.toLocaleString('en-US')}/s, ${Math.round(c.cut * 100)}% x ${c.length / 1000} s`
}

/** The largest cut at `length` that the fleet recovered from, with every smaller cut too. */
export function largestCutSurvived(diagram: PhaseDiagram, length: number): number | null {
  const j = diagram.lengths.indexOf(length)
  if (j < 0) return null
  let largest: number | null = null
  for (const [i, cut] of diagram.cuts.entries()) {
    if (diagram.cells[i]?.[j] === null) break
    largest = cut
  }
  return largest
}

/** The longest trigger of `cut` that the fleet recovered from, with every shorter one too. */
export function longestSurvived(diagram: PhaseDiagram, cut: number): number | null {
  const i = diagram.cuts.indexOf(cut)
  if (i < 0) return null
  let longest: number | null = null
  for (const [j, length] of diagram.lengths.entries()) {
    if (diagram.cells[i]?.[j] === null) break
    longest = length
  }
  return longest
}

function resolveBehaviours(value: unknown): BehaviourName[] {
  if (value === undefined) return [...BEHAVIOUR_NAMES]
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    !value.every((name) => (BEHAVIOUR_NAMES as readonly unknown[]).includes(name))
  ) {
    throw new InvalidOptionError(
      'behaviours',
      value,
      `a non-empty list of ${BEHAVIOUR_NAMES.join(', ')}`,
    )
  }
  return [...new Set(value as BehaviourName[])]
}

function resolveGrid(value: unknown): Required<PhaseGrid> | false {
  if (value === false) return false
  if (value === undefined) return DEFAULT_GRID
  if (!isPlainObject(value)) throw new InvalidOptionError('phase', value, 'false, or an object')
  checkKnownKeys('phase', value, ['cuts', 'lengths', 'loads', 'within'])
  const list = (name: string, items: unknown, min: number, max: number, fallback: number[]) => {
    if (items === undefined) return fallback
    if (!Array.isArray(items) || items.length === 0) {
      throw new InvalidOptionError(`phase.${name}`, items, `a non-empty array of numbers`)
    }
    const checked = items.map((v, i) => numberInRange(`phase.${name}[${i}]`, v, min, max))
    return [...new Set(checked)].sort((a, b) => a - b)
  }
  return {
    cuts: list('cuts', value.cuts, 0, 1, DEFAULT_GRID.cuts),
    lengths: list('lengths', value.lengths, 0, 600_000, DEFAULT_GRID.lengths),
    loads: list('loads', value.loads, 1, 100_000, DEFAULT_GRID.loads),
    within: numberInRange('phase.within', value.within, 1_000, 600_000, DEFAULT_GRID.within),
  }
}
