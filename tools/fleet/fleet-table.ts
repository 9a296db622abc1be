import type { FleetRun } from './run-fleet.ts'
import {
  describeCase,
  PAPER_CASES,
  type FleetStudy,
  type PaperCase,
  type PhaseDiagram,
} from './fleet-study.ts'

/** The study as plain-text tables, for the terminal. */
export function formatFleetStudy(study: FleetStudy): string {
  const { scale, clients, server } = study.settings
  const lines: string[] = []
  lines.push(
    `Fleet: ${clients.toLocaleString('en-US')} clients, scale ${scale} of the paper's load ` +
      `(rates below are scaled back up), one server of ${fmt(server.capacity / scale)} requests/s, ` +
      `FIFO, abandoned work still served.`,
    '',
    'Reproduction of Huang et al., "Metastable Failures in the Wild" (OSDI 2022, §5.2),',
    "with the paper's client (3 s timeout, 4 immediate retries):",
    '',
  )
  lines.push(
    ...columns([
      ['case', 'paper', 'this model'],
      ...study.paper.map((row) => [
        describeCase(row.case),
        row.case.paper.summary,
        describeRun(row.run, scale),
      ]),
    ]),
  )
  lines.push('', `Every behaviour at ${describeCase(PAPER_CASES[0] as PaperCase)}:`, '')
  lines.push(
    ...columns([
      ['behaviour', 'outcome', 'largest cut, 10 s', 'longest 80% cut'],
      ...study.cure.map((row) => [
        row.behaviour,
        describeRun(row.run, scale),
        row.largestCut === null ? '-' : `${Math.round(row.largestCut * 100)}%`,
        row.longest === null ? '-' : `${row.longest / 1000} s`,
      ]),
    ]),
  )
  for (const diagram of study.phase) {
    lines.push('', ...formatPhaseDiagram(diagram, study.settings.within))
  }
  const { wall } = study
  lines.push(
    '',
    `${wall.runs} runs, ${(wall.ms / 1000).toFixed(1)} s of wall time, ` +
      `${fmt(wall.events)} events (${fmt(wall.eventsPerSecond)}/s).`,
  )
  return lines.join('\n')
}

/** One behaviour's phase diagram as a grid: cuts down, lengths across. */
export function formatPhaseDiagram(diagram: PhaseDiagram, within: number): string[] {
  const header = ['cut \\ length', ...diagram.lengths.map((l) => `${l / 1000} s`)]
  const rows = diagram.cuts.map((cut, i) => [
    `${Math.round(cut * 100)}%`,
    ...diagram.lengths.map((_, j) => {
      const after = diagram.cells[i]?.[j]
      return after === null || after === undefined ? 'STUCK' : `ok ${after / 1000} s`
    }),
  ])
  return [
    `Phase diagram, ${diagram.behaviour} at ${fmt(diagram.load)}/s ` +
      `(ok N s: recovered N s after the trigger ended; STUCK: not within ${within / 1000} s):`,
    ...columns([header, ...rows]),
  ]
}

/** "stuck: attempts 4.9x offered, ..." or "recovered after 2 s". */
export function describeRun(run: FleetRun, scale = 1): string {
  if (run.recoveredAfter !== null) {
    return `recovered ${run.recoveredAfter / 1000} s after the trigger`
  }
  const end = run.end
  return (
    `stuck: ${fmt(end.attempts / scale)} attempts/s (${end.amplification.toFixed(1)}x), ` +
    `goodput ${fmt(end.goodput / scale)}/s (${signedPercent(end.goodputShare - 1)}), ` +
    `server busy ${fmt(end.throughput / scale)}/s, ${Math.round(end.wastedShare * 100)}% of it abandoned`
  )
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

function signedPercent(share: number): string {
  const p = Math.round(share * 100)
  return `${p > 0 ? '+' : ''}${p}%`
}

function columns(rows: string[][]): string[] {
  const widths: number[] = []
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length)
    })
  }
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  )
}
