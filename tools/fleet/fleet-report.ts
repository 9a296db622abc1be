import { escapeXml, renderLineChart, type ChartBand } from '../lab/svg-chart.ts'
import type { FleetRun } from './run-fleet.ts'
import {
  describeCase,
  PAPER_CASES,
  type FleetStudy,
  type PaperCase,
  type PhaseDiagram,
} from './fleet-study.ts'
import { describeRun } from './fleet-table.ts'

const COLORS = {
  offered: '#666666',
  attempts: '#d62728',
  goodput: '#1b7f3b',
  served: '#e68a00',
  queue: '#8e44ad',
  p99: '#1f6fb4',
}
const TRIGGER_BAND = 'rgba(0, 0, 0, 0.09)'

/**
 * The fleet study as one self-contained HTML page (inline CSS and SVG, no script), like the lab's
 * report: the reproduced table, each behaviour's run through the stuck case, the phase diagrams.
 */
export function renderFleetReport(study: FleetStudy, generatedAt: Date): string {
  const { scale, clients, server, within } = study.settings
  const behaviours = study.behaviours
    .map((b) => `<li><b>${escapeXml(b.name)}</b>: ${escapeXml(b.setup)}</li>`)
    .join('')
  const paperRows = study.paper
    .map(
      (row) =>
        `<tr><td>${escapeXml(describeCase(row.case))}</td><td>${escapeXml(row.case.paper.summary)}</td>` +
        `<td class="${row.stuck ? 'stuck' : 'ok'}">${escapeXml(describeRun(row.run, scale))}</td></tr>`,
    )
    .join('')
  const cureRows = study.cure
    .map(
      (row) =>
        `<tr><td>${escapeXml(row.behaviour)}</td>` +
        `<td class="${row.run.recoveredAfter === null ? 'stuck' : 'ok'}">${escapeXml(describeRun(row.run, scale))}</td>` +
        `<td>${row.largestCut === null ? '-' : `${Math.round(row.largestCut * 100)}%`}</td>` +
        `<td>${row.longest === null ? '-' : `${row.longest / 1000} s`}</td></tr>`,
    )
    .join('')
  const paperRuns = study.paper.map((row) =>
    renderRun(`paper, ${describeCase(row.case)}`, row.run, scale),
  )
  const cureRuns = study.cure
    .filter((row) => row.behaviour !== 'paper')
    .map((row) =>
      renderRun(`${row.behaviour}, ${describeCase(PAPER_CASES[0] as PaperCase)}`, row.run, scale),
    )
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>netiquette fleet simulator</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>netiquette fleet simulator: metastable failure</h1>
<p class="settings">${clients.toLocaleString('en-US')} clients at scale ${scale} of the paper's
load (figures scaled back up), one server of ${Math.round(server.capacity / scale).toLocaleString('en-US')}
requests/s, FIFO, abandoned work still served; virtual time, seed ${study.settings.seed}.
Generated ${escapeXml(generatedAt.toISOString())}. See docs/fleet.md.</p>
<ul>${behaviours}</ul>
<p class="howto">How to read it: the grey band is the trigger, a cut of the server's capacity.
<b>Attempts</b> above the dashed offered line are retries; <b>served</b> is what the server
finished, for clients still waiting or not; <b>goodput</b> counts calls that succeeded. A system
that stays with attempts high and goodput low after the band is <b>metastable</b>: the trigger has
gone, the retries keep it down.</p>
</header>
<h2>The paper's table</h2>
<table><tr><th>case</th><th>paper</th><th>this model</th></tr>${paperRows}</table>
<h2>Every behaviour through the stuck case</h2>
<table><tr><th>behaviour</th><th>outcome</th><th>largest cut survived, 10 s</th><th>longest 80% cut survived</th></tr>${cureRows}</table>
<h2>Phase diagrams</h2>
<p class="howto">Rows: share of capacity cut; columns: how long. Green: recovered (seconds after
the trigger ended); red: still stuck ${within / 1000} s after it.</p>
<div class="phases">${study.phase.map(renderPhase).join('\n')}</div>
<h2>Runs</h2>
${[...paperRuns, ...cureRuns].join('\n')}
<p class="settings">${study.wall.runs} runs, ${(study.wall.ms / 1000).toFixed(1)} s of wall time,
${study.wall.events.toLocaleString('en-US')} events (${study.wall.eventsPerSecond.toLocaleString('en-US')}/s).</p>
</body>
</html>
`
}

function renderRun(title: string, run: FleetRun, scale: number): string {
  const bands: ChartBand[] = run.settings.triggers.map((t) => ({
    from: t.at,
    to: t.at + t.duration,
    color: TRIGGER_BAND,
    label: `capacity cut ${Math.round(t.cut * 100)}%`,
  }))
  const xMax = run.settings.duration
  const point = (pick: (s: FleetRun['seconds'][number]) => number | null) =>
    run.seconds.map((s) => {
      const v = pick(s)
      return [s.at + 500, v === null ? null : v / scale] as const
    })
  const id = title.replace(/[^a-z0-9]+/gi, '-').toLowerCase()
  const charts = [
    renderLineChart({
      id: `${id}-rates`,
      title: 'Offered, attempts, served, goodput',
      unit: 'per second',
      xMax,
      bands,
      series: [
        { label: 'offered', color: COLORS.offered, dashed: true, points: point((s) => s.offered) },
        { label: 'attempts', color: COLORS.attempts, points: point((s) => s.attempts) },
        { label: 'served', color: COLORS.served, points: point((s) => s.served + s.wasted) },
        { label: 'goodput', color: COLORS.goodput, points: point((s) => s.goodput) },
      ],
    }),
    renderLineChart({
      id: `${id}-queue`,
      title: 'Server queue',
      unit: 'requests',
      xMax,
      bands,
      series: [{ label: 'queue', color: COLORS.queue, points: point((s) => s.queue) }],
    }),
    renderLineChart({
      id: `${id}-p99`,
      title: 'p99 latency of the calls that succeeded',
      unit: 'ms',
      xMax,
      bands,
      series: [
        {
          label: 'p99',
          color: COLORS.p99,
          points: run.seconds.map((s) => [s.at + 500, s.p99] as const),
        },
      ],
    }),
  ]
  return `<section><h3>${escapeXml(title)}: ${escapeXml(describeRun(run, scale))}</h3>
<p class="legend">${legend()}</p>
<div class="charts">${charts.join('\n')}</div></section>`
}

function legend(): string {
  return (['offered', 'attempts', 'served', 'goodput'] as const)
    .map((name) => `<span class="swatch" style="background:${COLORS[name]}"></span>${name}`)
    .join(' ')
}

function renderPhase(diagram: PhaseDiagram): string {
  const head = diagram.lengths.map((l) => `<th>${l / 1000} s</th>`).join('')
  const rows = diagram.cuts
    .map((cut, i) => {
      const cells = diagram.lengths
        .map((_, j) => {
          const after = diagram.cells[i]?.[j]
          return after === null || after === undefined
            ? '<td class="stuck">stuck</td>'
            : `<td class="ok">${after / 1000} s</td>`
        })
        .join('')
      return `<tr><th>${Math.round(cut * 100)}%</th>${cells}</tr>`
    })
    .join('')
  return `<table class="phase" data-behaviour="${escapeXml(diagram.behaviour)}" data-load="${diagram.load}">
<caption>${escapeXml(diagram.behaviour)}, ${diagram.load.toLocaleString('en-US')} calls/s</caption>
<tr><th>cut</th>${head}</tr>${rows}</table>`
}

const STYLE = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1180px;padding:0 20px 40px;color:#1d1d1f}
h1{margin:24px 0 8px}h2{margin:36px 0 6px;border-top:1px solid #ddd;padding-top:20px}h3{font-size:15px}
.settings,.howto{color:#444}
table{border-collapse:collapse;margin:10px 0 14px;font-variant-numeric:tabular-nums;font-size:14px}
th,td{padding:4px 10px;border-bottom:1px solid #e3e3e3;text-align:left}
td.ok{color:#1b7f3b}td.stuck{color:#b3261e;font-weight:600}
table.phase td{text-align:center}table.phase td.ok{background:#e6f4ea}table.phase td.stuck{background:#fce8e6}
.phases{display:flex;flex-wrap:wrap;gap:18px}caption{font-weight:600;text-align:left}
.legend{font-size:13px;color:#444}
.swatch{display:inline-block;width:11px;height:11px;border-radius:2px;margin:0 4px 0 10px;vertical-align:baseline}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:10px}
svg.chart{max-width:100%;height:auto;background:#fff;border:1px solid #eee;border-radius:4px}
svg .chart-title{font-size:13px;font-weight:600;fill:#222}svg .unit{font-weight:400;fill:#666}
svg .tick{font-size:11px;fill:#666}svg .grid{stroke:#eee}svg .axis{stroke:#999}
`
