import { FIGURE_COLUMNS, figureCells, formatMs, formatPolicyTotals, wrap } from './format.ts'
import type { LabResults, ScenarioResult } from './run-lab.ts'

/** Where text is wrapped: the width of the table's widest line, about. */
const WIDTH = 96

const COLUMNS = ['contender', ...FIGURE_COLUMNS] as const

/** One scenario as plain text: its title and mechanism, a table of the contenders, its headline. */
export function formatScenarioTable(
  scenario: ScenarioResult,
  settings: Pick<LabResults['settings'], 'duration' | 'rate' | 'objective'>,
): string {
  const { duration, rate, objective } = settings
  const rows = scenario.contenders.map((c) => [c.contender, ...figureCells(c)])
  const widths = COLUMNS.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] as string).length)),
  )
  const line = (cells: readonly string[]) =>
    '  ' +
    cells
      .map((cell, i) =>
        i === 0 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number),
      )
      .join('  ')
  const seconds = (ms: number) => `${Number((ms / 1000).toFixed(2))} s`
  return [
    wrap(`${scenario.title}: ${scenario.mechanism}`, WIDTH),
    wrap(
      `Fault from ${seconds(scenario.fault.start)} to ${seconds(scenario.fault.end)} of ` +
        `${seconds(duration)}, ${rate} calls/s offered; goodput counts calls answered 2xx ` +
        `within ${formatMs(objective)}.`,
      WIDTH,
      '  ',
    ),
    '',
    line(COLUMNS),
    ...rows.map(line),
    '',
    ...scenario.contenders.flatMap((c) =>
      c.policy === undefined ? [] : [wrap(formatPolicyTotals(c.policy), WIDTH, '  ')],
    ),
    wrap(
      `${scenario.headline.holds ? 'held' : 'DID NOT HOLD'}: ${scenario.headline.claim}`,
      WIDTH,
      '  ',
    ),
  ].join('\n')
}
