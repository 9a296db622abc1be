import { CONTENDER_NAMES, type ContenderName } from './contenders.ts'
import { FIGURE_COLUMNS, figureCells, formatMs, formatPolicyTotals } from './format.ts'
import type { LabResults, ScenarioResult } from './run-lab.ts'
import type { PolicyPoint } from './summarize.ts'
import { escapeXml, renderLineChart, type ChartBand, type ChartSeries } from './svg-chart.ts'

/** Each contender's colour, the same in every chart. */
export const COLORS: Readonly<Record<ContenderName | 'offered', string>> = Object.freeze({
  naive: '#d62728',
  'undici-retry': '#e68a00',
  netiquette: '#1f6fb4',
  offered: '#666666',
})

/**
 * Line widths, widest first in drawing order: two contenders that behave alike (the naive wrapper
 * and undici's interceptor, in the overload) show as one line with a border, not one hiding the other.
 */
const WIDTHS: Readonly<Record<ContenderName, number>> = {
  naive: 4,
  'undici-retry': 2.2,
  netiquette: 1.8,
}

const FAULT_BAND = 'rgba(0, 0, 0, 0.07)'
const QUEUE_COLOR = '#8e44ad'
const CIRCUIT_BANDS = { open: 'rgba(214, 39, 40, 0.22)', 'half-open': 'rgba(230, 138, 0, 0.3)' }

/**
 * The lab's results as one self-contained HTML page: inline CSS and SVG, no script and no
 * external reference, so it opens offline and can be attached to a ticket.
 */
export function renderReport(results: LabResults, generatedAt: Date): string {
  const { settings } = results
  const contenders = results.contenders
    .map(
      (c) =>
        `<li><span class="swatch" style="background:${COLORS[c.name]}"></span>` +
        `<b>${escapeXml(c.name)}</b>: ${escapeXml(c.setup)}</li>`,
    )
    .join('')
  const nav = results.scenarios
    .map((s) => `<a href="#${s.name}">${escapeXml(s.title)}</a>`)
    .join(' · ')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>netiquette failure lab</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>netiquette failure lab</h1>
<p class="settings">${results.scenarios.length} scenario(s), ${settings.duration / 1000} s each,
${settings.rate} calls/s offered to each contender (open loop, Poisson arrivals), seed ${settings.seed}.
Each contender has its own fault server on 127.0.0.1 with the same script.
Generated ${escapeXml(generatedAt.toISOString())}.</p>
<ul class="contenders">${contenders}</ul>
<p class="howto">How to read it: the grey band is the fault. <b>Attempts</b> above the dashed
offered line are retries: load the origin gets on top of what callers asked for.
<b>Goodput</b> counts calls answered 2xx within ${formatMs(settings.objective)} (netiquette's
deadline; its attempt timeout is ${formatMs(settings.attemptTimeout)}): a call served later was
served too late to be of use. <b>p99</b> is the latency of the slowest 1% of calls due in each
interval, failed ones too, measured from when each call was due. The last chart shows netiquette's
concurrency limit and queue length, with red where its circuit was open and amber where it was
half-open. See docs/lab.md for what each scenario shows.</p>
<nav>${nav}</nav>
${results.skipped.map((s) => `<p class="skipped">Not run: ${escapeXml(s.title)} (${escapeXml(s.reason)}).</p>`).join('\n')}
</header>
${results.scenarios.map((s) => renderScenario(s, results)).join('\n')}
</body>
</html>
`
}

function renderScenario(scenario: ScenarioResult, results: LabResults): string {
  const faultBand: ChartBand = {
    from: scenario.fault.start,
    to: scenario.fault.end,
    color: FAULT_BAND,
    label: 'fault',
  }
  const centre = (i: number) => (i + 0.5) * scenario.bucket
  const perContender = (pick: (i: number) => readonly (number | null)[]): ChartSeries[] =>
    scenario.contenders.map((c, index) => ({
      label: c.contender,
      color: COLORS[c.contender],
      width: WIDTHS[c.contender],
      points: pick(index).map((value, i) => [centre(i), value] as const),
    }))
  const offered: ChartSeries = {
    label: 'offered',
    color: COLORS.offered,
    dashed: true,
    points: scenario.offered.map((value, i) => [centre(i), value] as const),
  }
  const seriesOf = (index: number) =>
    (scenario.contenders[index] as ScenarioResult['contenders'][number]).series
  const seconds = (ms: number) => `${Number((ms / 1000).toFixed(2))} s`
  const charts = [
    renderLineChart({
      id: `${scenario.name}-attempts`,
      title: 'Requests reaching the origin',
      unit: 'per second',
      xMax: scenario.horizon,
      bands: [faultBand],
      series: [offered, ...perContender((i) => seriesOf(i).attempts)],
    }),
    renderLineChart({
      id: `${scenario.name}-goodput`,
      title: `Goodput: calls answered within ${formatMs(results.settings.objective)}`,
      unit: 'per second',
      xMax: scenario.horizon,
      bands: [faultBand],
      series: [offered, ...perContender((i) => seriesOf(i).goodput)],
    }),
    renderLineChart({
      id: `${scenario.name}-p99`,
      title: `p99 latency of the calls due in each ${seconds(scenario.bucket)}`,
      unit: 'ms',
      xMax: scenario.horizon,
      bands: [faultBand],
      series: perContender((i) => seriesOf(i).p99),
    }),
    renderLineChart({
      id: `${scenario.name}-policy`,
      title: "netiquette's concurrency limit and queue",
      unit: 'attempts',
      xMax: scenario.horizon,
      bands: [faultBand, ...circuitBands(scenario.policy)],
      series: [
        {
          label: 'limit',
          color: COLORS.netiquette,
          steps: true,
          points: scenario.policy.map((p) => [p.t, p.limit] as const),
        },
        {
          label: 'queued',
          color: QUEUE_COLOR,
          steps: true,
          points: scenario.policy.map((p) => [p.t, p.queued] as const),
        },
      ],
    }),
  ]
  const held = scenario.headline.holds
  return `<section class="scenario" id="${scenario.name}" data-scenario="${scenario.name}">
<h2>${escapeXml(scenario.title)}</h2>
<p>${escapeXml(scenario.mechanism)}</p>
<p class="fault">Fault from ${seconds(scenario.fault.start)} to ${seconds(scenario.fault.end)}.</p>
<p class="headline ${held ? 'held' : 'failed'}">${held ? '✓ held' : '✗ did not hold'}: ${escapeXml(scenario.headline.claim)}</p>
${renderTable(scenario)}
${scenario.contenders.map((c) => (c.policy === undefined ? '' : `<p class="policy">${escapeXml(formatPolicyTotals(c.policy))}</p>`)).join('')}
${LEGEND}
<div class="charts">
${charts.join('\n')}
</div>
</section>`
}

function renderTable(scenario: ScenarioResult): string {
  const head = ['contender', ...FIGURE_COLUMNS, 'how calls ended']
  const rows = scenario.contenders.map((c) => {
    const outcomes = Object.entries(c.outcomes)
      .sort((a, b) => b[1] - a[1])
      .map(([label, count]) => `${escapeXml(label)}&nbsp;${count}`)
      .join(', ')
    const cells = [
      `<span class="swatch" style="background:${COLORS[c.contender]}"></span>${escapeXml(c.contender)}`,
      ...figureCells(c),
      outcomes,
    ]
    return `<tr data-contender="${c.contender}">${cells.map((cell) => `<td>${cell}</td>`).join('')}</tr>`
  })
  return `<table><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead>
<tbody>${rows.join('')}</tbody></table>`
}

const LEGEND = `<p class="legend">${[
  ...CONTENDER_NAMES.map(
    (name) => `<span class="swatch" style="background:${COLORS[name]}"></span>${name}`,
  ),
  `<span class="swatch dashed"></span>offered`,
  `<span class="swatch" style="background:${FAULT_BAND}"></span>fault`,
  `<span class="swatch" style="background:${QUEUE_COLOR}"></span>netiquette's queue`,
  `<span class="swatch" style="background:${CIRCUIT_BANDS.open}"></span>circuit open`,
  `<span class="swatch" style="background:${CIRCUIT_BANDS['half-open']}"></span>half-open`,
].join(' ')}</p>`

/** The stretches where the circuit was open or half-open, from the samples. */
export function circuitBands(policy: readonly PolicyPoint[]): ChartBand[] {
  const bands: ChartBand[] = []
  for (let i = 0; i < policy.length; i++) {
    const point = policy[i] as PolicyPoint
    const state = point.circuit
    if (state !== 'open' && state !== 'half-open') continue
    const to = policy[i + 1]?.t ?? point.t
    const last = bands[bands.length - 1]
    if (last !== undefined && last.label === state && last.to === point.t) last.to = to
    else bands.push({ from: point.t, to, color: CIRCUIT_BANDS[state], label: state })
  }
  return bands
}

const STYLE = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1180px;padding:0 20px 40px;color:#1d1d1f}
h1{margin:24px 0 8px}h2{margin:36px 0 6px;border-top:1px solid #ddd;padding-top:20px}
.settings,.howto,.fault{color:#444}
ul.contenders{padding-left:18px}
.swatch{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:6px;vertical-align:baseline}
.headline{font-weight:600}.headline.held{color:#1b7f3b}.headline.failed{color:#b3261e}
table{border-collapse:collapse;margin:10px 0 14px;font-variant-numeric:tabular-nums;font-size:14px}
th,td{padding:4px 10px;border-bottom:1px solid #e3e3e3;text-align:right}
th:first-child,td:first-child,th:last-child,td:last-child{text-align:left}
td{white-space:nowrap}td:last-child{white-space:normal;color:#555;font-size:13px;max-width:320px}
.legend{font-size:13px;color:#444}.legend .swatch{margin-left:10px}
.swatch.dashed{background:repeating-linear-gradient(90deg,#666 0 4px,transparent 4px 7px);height:3px;vertical-align:middle}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:10px}
svg.chart{max-width:100%;height:auto;background:#fff;border:1px solid #eee;border-radius:4px}
svg .chart-title{font-size:13px;font-weight:600;fill:#222}svg .unit{font-weight:400;fill:#666}
svg .tick{font-size:11px;fill:#666}svg .grid{stroke:#eee}svg .axis{stroke:#999}
nav{margin:8px 0 0}nav a{color:#1f6fb4}
`
