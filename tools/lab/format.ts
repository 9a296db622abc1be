import type { PolicyTotals } from './contenders.ts'
import type { ContenderSummary } from './summarize.ts'

/** A latency for people: `12 ms`, `621 ms`, `7.5 s`; `-` when there is none. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-'
  if (ms < 1_000) return `${Math.round(ms)} ms`
  return `${(ms / 1_000).toFixed(1)} s`
}

/** A share as a percentage with one decimal: `99.6%`. */
export function formatPercent(share: number): string {
  return Number.isFinite(share) ? `${(share * 100).toFixed(1)}%` : '-'
}

/** An amplification factor: `2.19x`. */
export function formatFactor(factor: number): string {
  return Number.isFinite(factor) ? `${factor.toFixed(2)}x` : '-'
}

/** Time to recover: `0 s`, `1.5 s`, or `not in run` when calls were not good again by its end. */
export function formatRecovery(ms: number | null): string {
  return ms === null ? 'not in run' : `${(ms / 1_000).toFixed(1)} s`
}

/** `text` broken into lines of at most `width` characters, each after `indent`. */
export function wrap(text: string, width: number, indent = ''): string {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(/\s+/)) {
    if (line !== '' && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line)
      line = word
    } else {
      line = line === '' ? word : `${line} ${word}`
    }
  }
  if (line !== '') lines.push(indent + line)
  return lines.join('\n')
}

/** What netiquette's policies did, in one sentence. */
export function formatPolicyTotals(totals: PolicyTotals): string {
  const { shed } = totals
  return (
    `netiquette's budget allowed ${totals.retriesAllowed} retries and refused ` +
    `${totals.retriesRefused}; it shed ${shed.circuitOpen} attempts on an open circuit, ` +
    `${shed.queueFull} on a full queue and ${shed.queueTimeout} after waiting too long in it.`
  )
}

/** The table's figure columns, after the contender's name. */
export const FIGURE_COLUMNS = [
  'offered',
  'attempts',
  'ampl.',
  'goodput/s',
  'success',
  'p50',
  'p99',
  'p99 in fault',
  'recovery',
] as const

/** One contender's figures as text, in {@link FIGURE_COLUMNS} order: the terminal's and the report's. */
export function figureCells(c: ContenderSummary): string[] {
  return [
    String(c.offered),
    String(c.attempts),
    formatFactor(c.amplification),
    c.goodput.toFixed(1),
    formatPercent(c.successRate),
    formatMs(c.p50),
    formatMs(c.p99),
    c.fault.offered === 0 ? '-' : formatMs(c.fault.p99),
    formatRecovery(c.recoveredAfter),
  ]
}
