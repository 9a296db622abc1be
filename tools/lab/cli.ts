import { constants } from 'node:fs'
import { access, mkdir, stat, writeFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { CONTENDER_NAMES } from './contenders.ts'
import { progressLine, type ProgressStream } from './progress.ts'
import { renderReport } from './report.ts'
import { OBJECTIVE, runLab, type LabProgress } from './run-lab.ts'
import { SCENARIO_NAMES, type ScenarioName } from './scenarios.ts'
import { formatScenarioTable } from './table.ts'
import { runFleetStudy } from '../fleet/fleet-study.ts'
import { formatFleetStudy } from '../fleet/fleet-table.ts'
import { renderFleetReport } from '../fleet/fleet-report.ts'

/** Where the command reads and writes; tests pass their own. */
export interface CliIo {
  stdout: { write(text: string): unknown }
  stderr: ProgressStream
  /** The directory a relative `--out` is resolved against. */
  cwd: string
  now(): Date
}

const USAGE = `Usage: netiquette-lab [options]

Runs failure scenarios against local fault servers and compares a naive fetch wrapper,
undici's retry interceptor and netiquette's defaults side by side.

Options:
  --scenario <names>  comma-separated: ${SCENARIO_NAMES.join(', ')}, or all (default: all)
  --duration <s>      seconds of arrivals per scenario, 2 to 600 (default: 10)
  --rate <n>          calls offered per second to each contender, 1 to 1000 (default: 100)
  --seed <n>          seed of arrivals, faults and jitter, an integer 0 to 4294967295 (default: 1)
  --out <file>        where the HTML report goes (default: lab-report.html)
  --json              print the results as JSON on stdout instead of tables
  -h, --help          show this help

  --fleet             instead: the fleet simulator (docs/fleet.md). Many clients against one
                      simulated server on virtual time: reproduces the metastable failure of
                      Huang et al. (OSDI 2022), runs every client behaviour through it and draws
                      phase diagrams of which capacity cuts each recovers from (about 1.5 minutes)
  --scale <f>         with --fleet: fleet size relative to the paper's (load, capacity and
                      clients), 0.01 to 1 (default: 0.1; 1 takes about ten times as long)
  --clients <n>       with --fleet: clients at scale 1, 1 to 10000 (default: 1000)
  (with --fleet, --out defaults to fleet-report.html; --seed and --json work as above)
`

/** A bad command line: the message is printed with the usage, and the exit code is 2. */
class UsageError extends Error {}

interface CliSettings {
  /** With --fleet: the fleet study's settings instead of the lab's. */
  fleet: { scale: number; clients: number } | undefined
  scenarios: ScenarioName[]
  duration: number
  rate: number
  seed: number
  out: string
  json: boolean
}

/** Runs the command with `argv` (without node and the script); resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let settings: CliSettings | undefined
  try {
    settings = parseCommandLine(argv, io.cwd)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    io.stderr.write(`netiquette-lab: ${error.message}\n\n${USAGE}`)
    return 2
  }
  if (settings === undefined) {
    io.stdout.write(USAGE)
    return 0
  }
  const { json, out } = settings
  try {
    await checkWritable(out)
  } catch (error) {
    // Found before a minute of running rather than after.
    io.stderr.write(`netiquette-lab: --out: cannot write ${out}: ${(error as Error).message}\n`)
    return 2
  }
  const progress = progressLine(io.stderr)
  if (settings.fleet !== undefined) return runFleetCommand(settings, settings.fleet, io)
  let current = -1
  const onProgress = (p: LabProgress) => {
    if (p.index !== current) {
      current = p.index
      if (io.stderr.isTTY !== true)
        io.stderr.write(`running ${p.scenario} (${p.index + 1}/${p.of})\n`)
    }
    const clock = `${(Math.min(p.elapsed, p.duration) / 1000).toFixed(1)}/${p.duration / 1000} s`
    const flight = CONTENDER_NAMES.map((name) => `${name} ${p.inFlight[name]}`).join(', ')
    const phase = p.draining ? 'waiting for the last calls' : clock
    progress.update(`[${p.index + 1}/${p.of}] ${p.scenario}: ${phase}; in flight: ${flight}`)
  }

  const results = await runLab({
    scenarios: settings.scenarios,
    duration: settings.duration * 1000,
    rate: settings.rate,
    seed: settings.seed,
    onProgress,
    // Each table as soon as its scenario has run, rather than all after a minute.
    onScenario: (scenario) => {
      progress.clear()
      const shape = {
        duration: settings.duration * 1000,
        rate: settings.rate,
        objective: OBJECTIVE,
      }
      if (!json) io.stdout.write(`${formatScenarioTable(scenario, shape)}\n\n`)
    },
  })
  progress.clear()
  await writeFile(out, renderReport(results, io.now()))
  for (const { name, reason } of results.skipped) {
    ;(json ? io.stderr : io.stdout).write(`Not run: ${name} (${reason}).\n`)
  }
  if (json) {
    io.stdout.write(`${JSON.stringify({ ...results, report: out }, null, 2)}\n`)
    io.stderr.write(`report: ${out}\n`)
  } else {
    io.stdout.write(`Report: ${out}\n`)
    io.stdout.write(
      'Next: netiquette-lab --fleet runs thousands of clients against one server and shows the\n' +
        'retry storm that keeps it down after a trigger has gone (docs/fleet.md).\n',
    )
  }
  return 0
}

/** `--fleet`: the fleet study, its tables (or JSON) and its report. */
async function runFleetCommand(
  settings: CliSettings,
  fleet: { scale: number; clients: number },
  io: CliIo,
): Promise<number> {
  const progress = progressLine(io.stderr)
  let current = -1
  let group = ''
  const study = await runFleetStudy({
    scale: fleet.scale,
    clients: fleet.clients,
    seed: settings.seed,
    onProgress: (p) => {
      if (p.index !== current) {
        current = p.index
        // In a log, one line per phase diagram rather than one per cell (200 of them).
        const diagram = /^phase: ([^,]+, [^,]+),/.exec(p.label)?.[1]
        const line = diagram === undefined ? p.label : `phase diagram: ${diagram}`
        if (io.stderr.isTTY !== true && line !== group) {
          io.stderr.write(`running ${line} (${p.index + 1}/${p.of})\n`)
        }
        group = line
      }
      progress.update(`[${p.index + 1}/${p.of}] ${p.label}: ${p.at / 1000}/${p.duration / 1000} s`)
    },
  })
  progress.clear()
  await writeFile(settings.out, renderFleetReport(study, io.now()))
  if (settings.json) {
    io.stdout.write(`${JSON.stringify({ ...study, report: settings.out })}\n`)
    io.stderr.write(`report: ${settings.out}\n`)
  } else {
    io.stdout.write(`${formatFleetStudy(study)}\nReport: ${settings.out}\n`)
  }
  return 0
}

/** The settings of a command line; `undefined` for `--help`. */
function parseCommandLine(argv: readonly string[], cwd: string): CliSettings | undefined {
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        scenario: { type: 'string' },
        duration: { type: 'string' },
        rate: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        json: { type: 'boolean' },
        fleet: { type: 'boolean' },
        scale: { type: 'string' },
        clients: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    })
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  const { values } = parsed
  if (values.help === true) return undefined
  const fleet = values.fleet === true
  for (const [flag, value] of [
    ['--scenario', values.scenario],
    ['--duration', values.duration],
    ['--rate', values.rate],
  ] as const) {
    if (fleet && value !== undefined) throw new UsageError(`${flag} is the lab's; not with --fleet`)
  }
  for (const [flag, value] of [
    ['--scale', values.scale],
    ['--clients', values.clients],
  ] as const) {
    if (!fleet && value !== undefined) throw new UsageError(`${flag} needs --fleet`)
  }
  return {
    fleet: fleet
      ? {
          scale: parseNumber('--scale', values.scale, 0.1, 0.01, 1, 'a number'),
          clients: parseNumber('--clients', values.clients, 1000, 1, 10_000, 'an integer', true),
        }
      : undefined,
    scenarios: parseScenarios(values.scenario),
    duration: parseNumber('--duration', values.duration, 10, 2, 600, 'a number of seconds'),
    rate: parseNumber('--rate', values.rate, 100, 1, 1000, 'a number of calls per second'),
    seed: parseNumber('--seed', values.seed, 1, 0, 0xffff_ffff, 'an integer', true),
    out: resolve(cwd, values.out ?? (fleet ? 'fleet-report.html' : 'lab-report.html')),
    json: values.json === true,
  }
}

function parseScenarios(value: string | undefined): ScenarioName[] {
  if (value === undefined || value === 'all') return [...SCENARIO_NAMES]
  const names = value.split(',').map((name) => name.trim())
  for (const name of names) {
    if (!(SCENARIO_NAMES as readonly string[]).includes(name)) {
      throw new UsageError(
        `--scenario: no scenario ${JSON.stringify(name)}; expected ${SCENARIO_NAMES.join(', ')} or all`,
      )
    }
  }
  return [...new Set(names as ScenarioName[])]
}

function parseNumber(
  flag: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
  kind: string,
  integer = false,
): number {
  if (value === undefined) return fallback
  const number = value.trim() === '' ? NaN : Number(value)
  if (!(number >= min && number <= max) || (integer && !Number.isInteger(number))) {
    throw new UsageError(
      `${flag}: got ${JSON.stringify(value)}, expected ${kind} from ${min} to ${max}`,
    )
  }
  return number
}

/** Creates `file`'s directory if needed, and checks that `file` can be written there. */
async function checkWritable(file: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true })
  const existing = await stat(file).catch(() => undefined)
  if (existing?.isDirectory() === true) throw new Error('it is a directory')
  await access(existing === undefined ? dirname(file) : file, constants.W_OK)
}

function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    cwd: process.cwd(),
    now: () => new Date(),
  }
}
