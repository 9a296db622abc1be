import { InvalidOptionError } from '../../src/index.ts'
import {
  checkKnownKeys,
  intInRange,
  isPlainObject,
  numberInRange,
  optionalFunction,
} from '../tool-options.ts'
import { CONTENDER_NAMES, CONTENDER_SETUP, type ContenderName } from './contenders.ts'
import { HEADLINES } from './headlines.ts'
import { runScenario, type ScenarioProgress } from './run-scenario.ts'
import { SCENARIO_NAMES, SCENARIOS, type ScenarioName } from './scenarios.ts'
import { summarize, type ContenderSummary, type ScenarioSummary } from './summarize.ts'

/** Options of {@link runLab}. */
export interface LabOptions {
  /** @defaultValue every scenario, in {@link SCENARIO_NAMES} order */
  scenarios?: readonly ScenarioName[]
  /**
   * Length of each scenario's arrivals, in ms; the fault takes 20% to 60% of it. Each scenario
   * then waits up to {@link graceFor} for its last calls.
   * @defaultValue 10000
   */
  duration?: number
  /**
   * Calls offered per second, to each contender.
   * @defaultValue 100
   */
  rate?: number
  /**
   * Seed of the arrivals, the origin's dice and netiquette's jitter.
   * @defaultValue 1
   */
  seed?: number
  /** Called every 100 ms while a scenario runs. @defaultValue none */
  onProgress?: (progress: LabProgress) => void
  /** Called with each scenario's results as soon as it has run. @defaultValue none */
  onScenario?: (result: ScenarioResult) => void
}

/** What {@link runLab} reports while it runs. */
export interface LabProgress extends ScenarioProgress {
  scenario: ScenarioName
  /** 0-based position of the scenario in the run, and how many there are. */
  index: number
  of: number
  duration: number
}

/** One scenario's results. */
export interface ScenarioResult extends ScenarioSummary {
  name: ScenarioName
  title: string
  mechanism: string
  /** When the fault started and ended, in ms since the start. */
  fault: { start: number; end: number }
  headline: { claim: string; holds: boolean }
}

/** Everything a lab run produced: what `--json` prints and the report draws. */
export interface LabResults {
  /** Changes when the shape of this object does. */
  version: 1
  settings: {
    duration: number
    rate: number
    seed: number
    /** The caller's latency objective (netiquette's deadline): a good call ends within it. */
    objective: number
    /** netiquette's attempt timeout. */
    attemptTimeout: number
  }
  contenders: { name: ContenderName; setup: string }[]
  scenarios: ScenarioResult[]
  /** Scenarios asked for that this machine cannot run (SYN loss needs root), and why. */
  skipped: { name: ScenarioName; title: string; reason: string }[]
}

/** The caller's latency objective, in ms, and the deadline netiquette is given. */
export const OBJECTIVE = 1_000
/** netiquette's attempt timeout in the lab, in ms: half the deadline, leaving room for a retry. */
export const ATTEMPT_TIMEOUT = 500

/** How long a scenario waits for its last calls after its last arrival: 20% of it, 1 to 3 s. */
export function graceFor(duration: number): number {
  return Math.min(3_000, Math.max(1_000, duration * 0.2))
}

const KNOWN = ['scenarios', 'duration', 'rate', 'seed', 'onProgress', 'onScenario']

/** Validated options, every default filled in. */
export function resolveLabOptions(options: LabOptions = {}): Required<LabOptions> {
  const raw: unknown = options
  if (!isPlainObject(raw)) throw new InvalidOptionError('options', options, 'an object')
  checkKnownKeys('', raw, KNOWN)
  const scenarios = options.scenarios ?? SCENARIO_NAMES
  if (
    !Array.isArray(scenarios) ||
    scenarios.length === 0 ||
    !scenarios.every((name) => (SCENARIO_NAMES as readonly unknown[]).includes(name))
  ) {
    throw new InvalidOptionError(
      'scenarios',
      scenarios,
      `a non-empty list of ${SCENARIO_NAMES.join(', ')}`,
    )
  }
  return {
    scenarios: [...new Set(scenarios)],
    duration: numberInRange('duration', options.duration, 2_000, 600_000, 10_000),
    rate: numberInRange('rate', options.rate, 1, 1_000, 100),
    seed: intInRange('seed', options.seed, 0, 0xffff_ffff, 1),
    onProgress: optionalFunction('onProgress', options.onProgress) ?? (() => {}),
    onScenario: optionalFunction('onScenario', options.onScenario) ?? (() => {}),
  }
}

/**
 * Runs the failure lab: each scenario in turn, with the three contenders side by side against
 * their own fault servers on 127.0.0.1.
 */
export async function runLab(options: LabOptions = {}): Promise<LabResults> {
  const { scenarios, duration, rate, seed, onProgress, onScenario } = resolveLabOptions(options)
  const results: ScenarioResult[] = []
  const skipped: LabResults['skipped'] = []
  for (const [index, name] of scenarios.entries()) {
    const scenario = SCENARIOS[name]
    const reason = scenario.unavailable?.()
    if (reason !== undefined) {
      skipped.push({ name, title: scenario.title, reason })
      continue
    }
    const run = await runScenario(scenario, {
      shape: { rate, duration, seed },
      contender: { deadline: OBJECTIVE, attemptTimeout: ATTEMPT_TIMEOUT, seed },
      grace: graceFor(duration),
      onProgress: (progress) =>
        onProgress({ ...progress, scenario: name, index, of: scenarios.length, duration }),
    })
    const summary = summarize(run, OBJECTIVE)
    const by = Object.fromEntries(summary.contenders.map((c) => [c.contender, c])) as Record<
      ContenderName,
      ContenderSummary
    >
    const headline = HEADLINES[name]
    const result: ScenarioResult = {
      name,
      title: scenario.title,
      mechanism: scenario.mechanism,
      fault: run.fault,
      headline: { claim: headline.claim, holds: headline.holds(by) },
      ...summary,
    }
    results.push(result)
    onScenario(result)
  }
  return {
    version: 1,
    settings: { duration, rate, seed, objective: OBJECTIVE, attemptTimeout: ATTEMPT_TIMEOUT },
    contenders: CONTENDER_NAMES.map((name) => ({ name, setup: CONTENDER_SETUP[name] })),
    scenarios: results,
    skipped,
  }
}
