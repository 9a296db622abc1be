import { describe, expect, it } from 'vitest'
import { escapeXml, niceTicks, renderLineChart } from '../../tools/lab/svg-chart.ts'

describe('renderLineChart', () => {
  const base = { id: 'c', title: 'Attempts', unit: 'per second', xMax: 1_000 }

  it('draws each series as one path, broken where a value is missing', () => {
    const svg = renderLineChart({
      ...base,
      series: [
        {
          label: 'naive',
          color: '#f00',
          points: [
            [0, 1],
            [250, 2],
            [500, null],
            [750, 3],
            [1_000, 4],
          ],
        },
      ],
    })
    const d = /data-series="naive" d="([^"]+)"/.exec(svg)?.[1] ?? ''
    expect(d.match(/M/g)).toHaveLength(2)
    expect(d.match(/L/g)).toHaveLength(2)
  })

  it('draws steps for sampled state: each value holds until the next sample', () => {
    const svg = renderLineChart({
      ...base,
      series: [
        {
          label: 'limit',
          color: '#00f',
          steps: true,
          points: [
            [0, 20],
            [500, 10],
          ],
        },
      ],
    })
    const d = /data-series="limit" d="([^"]+)"/.exec(svg)?.[1] ?? ''
    // Across at the old height, then down: two segments after the first point.
    expect(d.match(/L/g)).toHaveLength(2)
  })

  it('shades bands and leaves out a series with nothing to draw', () => {
    const svg = renderLineChart({
      ...base,
      bands: [{ from: 200, to: 600, color: '#eee', label: 'fault' }],
      series: [{ label: 'empty', color: '#000', points: [[0, null]] }],
    })
    expect(svg).toContain('class="band"')
    expect(svg).not.toContain('data-series="empty"')
  })

  it('escapes text, so a label cannot break the markup', () => {
    const svg = renderLineChart({
      ...base,
      title: 'a <b> & "c"',
      series: [{ label: '<x>', color: '#000', points: [[0, 1]] }],
    })
    expect(svg).not.toContain('<b>')
    expect(svg).toContain('a &lt;b&gt; &amp; &quot;c&quot;')
    expect(escapeXml(`'`)).toBe('&#39;')
  })
})

describe('niceTicks', () => {
  it('gives round steps from 0 up to at least the maximum', () => {
    expect(niceTicks(7.3)).toEqual([0, 2, 4, 6, 8])
    expect(niceTicks(480)).toEqual([0, 100, 200, 300, 400, 500])
    expect(niceTicks(0)).toEqual([0, 0.2])
  })
})
