/** One line of a chart: points `[x in ms, y]`; a `null` y breaks the line. */
export interface ChartSeries {
  label: string
  color: string
  points: readonly (readonly [number, number | null])[]
  /** Dashed, for a reference line such as the offered load. */
  dashed?: boolean
  /** Drawn as steps (a value holds until the next point), for sampled state such as a limit. */
  steps?: boolean
  /** Stroke width; wider lines drawn first stay visible where a later one overlaps them. @defaultValue 1.8 */
  width?: number
}

/** A shaded stretch of the x axis: the fault window, or a time the circuit was open. */
export interface ChartBand {
  from: number
  to: number
  color: string
  label: string
}

/** A line chart over time, rendered to standalone SVG markup. */
export interface LineChart {
  /** Names the chart in `data-chart`, for tests and styling. */
  id: string
  title: string
  /** Unit of the y axis, shown after the title. */
  unit: string
  /** Right end of the x axis, in ms. */
  xMax: number
  series: readonly ChartSeries[]
  bands?: readonly ChartBand[]
  /** Formats a y tick; plain numbers by default. */
  formatY?: (value: number) => string
}

const WIDTH = 560
const HEIGHT = 210
const LEFT = 52
const RIGHT = 12
const TOP = 28
const BOTTOM = 26

/**
 * Renders `chart` as an `<svg>` element: no script, no external reference, so the report that
 * holds it opens anywhere, offline.
 */
export function renderLineChart(chart: LineChart): string {
  const plotW = WIDTH - LEFT - RIGHT
  const plotH = HEIGHT - TOP - BOTTOM
  let yTop = 0
  for (const series of chart.series) {
    for (const [, y] of series.points)
      if (y !== null && Number.isFinite(y)) yTop = Math.max(yTop, y)
  }
  const yTicks = niceTicks(yTop)
  const yMax = yTicks[yTicks.length - 1] as number
  const x = (ms: number) => LEFT + (Math.min(ms, chart.xMax) / chart.xMax) * plotW
  const y = (value: number) => TOP + plotH - (Math.min(value, yMax) / yMax) * plotH
  const formatY = chart.formatY ?? formatNumber

  const parts: string[] = []
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="${escapeXml(chart.id)}" ` +
      `viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" ` +
      `aria-label="${escapeXml(chart.title)}">`,
    `<title>${escapeXml(chart.title)}</title>`,
    `<text class="chart-title" x="${LEFT}" y="16">${escapeXml(chart.title)}` +
      ` <tspan class="unit">(${escapeXml(chart.unit)})</tspan></text>`,
  )
  for (const band of chart.bands ?? []) {
    const from = x(band.from)
    parts.push(
      `<rect class="band" x="${fixed(from)}" y="${TOP}" width="${fixed(x(band.to) - from)}" ` +
        `height="${plotH}" fill="${band.color}"><title>${escapeXml(band.label)}</title></rect>`,
    )
  }
  for (const tick of yTicks) {
    const ty = fixed(y(tick))
    parts.push(
      `<line class="grid" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${ty}" y2="${ty}"/>`,
      `<text class="tick" x="${LEFT - 6}" y="${ty}" text-anchor="end" dominant-baseline="middle">` +
        `${escapeXml(formatY(tick))}</text>`,
    )
  }
  const xStep = niceStep(chart.xMax / 1000 / 8) * 1000
  for (let ms = 0; ms <= chart.xMax + 1e-9; ms += xStep) {
    parts.push(
      `<text class="tick" x="${fixed(x(ms))}" y="${HEIGHT - 8}" text-anchor="middle">` +
        `${formatNumber(ms / 1000)} s</text>`,
    )
  }
  parts.push(
    `<line class="axis" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${TOP + plotH}" y2="${TOP + plotH}"/>`,
  )
  for (const series of chart.series) {
    const d = pathData(series, x, y)
    if (d === '') continue
    parts.push(
      `<path class="series" data-series="${escapeXml(series.label)}" d="${d}" fill="none" ` +
        `stroke="${series.color}" stroke-width="${series.width ?? 1.8}"${series.dashed === true ? ' stroke-dasharray="5 4"' : ''}>` +
        `<title>${escapeXml(series.label)}</title></path>`,
    )
  }
  parts.push('</svg>')
  return parts.join('')
}

function pathData(
  series: ChartSeries,
  x: (ms: number) => number,
  y: (value: number) => number,
): string {
  const out: string[] = []
  let pen = false
  let lastY = 0
  for (const [px, py] of series.points) {
    if (py === null || !Number.isFinite(py)) {
      pen = false
      continue
    }
    if (pen && series.steps === true) out.push(`L${fixed(x(px))} ${fixed(lastY)}`)
    lastY = y(py)
    out.push(`${pen ? 'L' : 'M'}${fixed(x(px))} ${fixed(lastY)}`)
    pen = true
  }
  return out.join('')
}

/** About five round ticks from 0 up to at least `max`. */
export function niceTicks(max: number): number[] {
  const step = niceStep(max > 0 ? max / 5 : 0.2)
  const ticks: number[] = []
  for (let i = 0; ticks.length === 0 || (ticks[ticks.length - 1] as number) < max; i++) {
    ticks.push(Number((i * step).toPrecision(12)))
  }
  if (ticks.length === 1) ticks.push(step)
  return ticks
}

/** The smallest of 1, 2 or 5 times a power of ten that is at least `raw`. */
function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(raw))
  for (const factor of [1, 2, 5, 10]) if (factor * power >= raw) return factor * power
  return 10 * power
}

function formatNumber(value: number): string {
  return Number(value.toPrecision(6)).toLocaleString('en-US', { maximumFractionDigits: 2 })
}

function fixed(value: number): string {
  return value.toFixed(1)
}

/** Escapes text for XML and HTML content and attribute values. */
export function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;')
}
