// netiquette-lab --fleet: the study from the command line, its tables, JSON and report.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { runCli, type CliIo } from '../../tools/lab/cli.ts'
import { browserMissing, launchBrowser } from '../support/browser.ts'

/** The little of the DOM the browser check reads (the project compiles without DOM types). */
interface Element {
  getAttribute(name: string): string | null
  querySelectorAll(selector: string): Iterable<Element> & { length: number }
  getTotalLength(): number
}

function io(cwd = '/nonexistent'): CliIo & { out: string; err: string } {
  const captured = {
    out: '',
    err: '',
    stdout: { write: (text: string) => (captured.out += text) },
    stderr: { write: (text: string) => (captured.err += text) },
    cwd,
    now: () => new Date(0),
  }
  return captured
}

describe('netiquette-lab --fleet', () => {
  it.each([
    [['--fleet', '--scale', '2'], '--scale: got "2", expected a number from 0.01 to 1'],
    [['--fleet', '--clients', '0'], '--clients: got "0", expected an integer from 1 to 10000'],
    [['--fleet', '--rate', '10'], "--rate is the lab's; not with --fleet"],
    [['--fleet', '--scenario', 'outage'], "--scenario is the lab's; not with --fleet"],
    [['--scale', '0.5'], '--scale needs --fleet'],
  ])('refuses %j with exit code 2 before running anything', async (argv, message) => {
    const captured = io()
    expect(await runCli(argv, captured)).toBe(2)
    expect(captured.err).toContain(message)
    expect(captured.out).toBe('')
  })

  it('mentions the fleet in its usage', async () => {
    const captured = io()
    expect(await runCli(['--help'], captured)).toBe(0)
    expect(captured.out).toContain('--fleet')
    expect(captured.out).toContain('docs/fleet.md')
  })

  it('runs the study: tables, then a self-contained report; --json prints it all', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleet-cli-'))
    try {
      const captured = io(dir)
      // A tiny fleet: the command's shape, not the reproduction (tested at scale 0.1).
      expect(await runCli(['--fleet', '--scale', '0.01', '--out', 'fleet.html'], captured)).toBe(0)
      expect(captured.out).toContain('Reproduction of Huang et al.')
      expect(captured.out).toContain('6,200/s, 80% x 10 s')
      expect(captured.out).toContain('Phase diagram, netiquette at 6,200/s')
      expect(captured.out).toMatch(/\d+ runs, [\d.]+ s of wall time, [\d,]+ events \([\d,]+\/s\)/)
      expect(captured.out).toContain(`Report: ${join(dir, 'fleet.html')}`)
      // Not a terminal: one line per run on stderr, no progress line escapes.
      expect(captured.err).toContain('running paper, 6,200/s, 80% x 10 s (1/')
      expect(captured.err).toContain('running phase diagram: netiquette, 6200/s (')
      expect(captured.err.split('\n').filter((line) => line.startsWith('running'))).toHaveLength(
        4 + 5 + 12,
      )
      expect(captured.err).not.toContain('\x1b[K')
      const html = await readFile(join(dir, 'fleet.html'), 'utf8')
      expect(html).toContain("<h2>The paper's table</h2>")
      expect(html).toMatch(/<table class="phase" data-behaviour="paper" data-load="6200">/)
      expect(html).toContain('data-chart="paper-6-200-s-80-x-10-s-rates"')
      expect(html).not.toMatch(/<script|src="http|href="http/)
      if (!browserMissing) await checkInBrowser(join(dir, 'fleet.html'))

      const json = io(dir)
      expect(await runCli(['--fleet', '--scale', '0.01', '--json', '--seed', '2'], json)).toBe(0)
      const parsed = JSON.parse(json.out) as {
        version: number
        settings: { seed: number; clients: number }
        paper: unknown[]
        phase: unknown[]
        report: string
      }
      expect(parsed.version).toBe(1)
      expect(parsed.settings).toMatchObject({ seed: 2, clients: 10 })
      expect(parsed.paper).toHaveLength(4)
      expect(parsed.phase).toHaveLength(12)
      expect(parsed.report).toBe(join(dir, 'fleet-report.html'))
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }, 240_000)
})

/** Headless Chromium opens the report offline, without errors, with every chart's lines drawn. */
async function checkInBrowser(file: string): Promise<void> {
  const browser = await launchBrowser()
  try {
    const page = await browser.newPage()
    const requests: string[] = []
    const errors: string[] = []
    page.on('request', (request) => requests.push(request.url()))
    page.on('pageerror', (error) => errors.push(error.message))
    await page.goto(pathToFileURL(file).href)
    const drawn = await page.evaluate(() => {
      const document = (globalThis as unknown as { document: Element }).document
      return {
        phases: document.querySelectorAll('table.phase').length,
        charts: [...document.querySelectorAll('svg.chart')].map((svg) => ({
          id: svg.getAttribute('data-chart'),
          lines: [...svg.querySelectorAll('path.series')].filter((p) => p.getTotalLength() > 10)
            .length,
        })),
      }
    })
    expect(errors).toEqual([])
    expect(requests).toEqual([pathToFileURL(file).href])
    expect(drawn.phases).toBe(12)
    // Four runs of the paper's client and five other behaviours, three charts each.
    expect(drawn.charts).toHaveLength(27)
    for (const chart of drawn.charts) expect(chart.lines, chart.id ?? '').toBeGreaterThan(0)
  } finally {
    await browser.close()
  }
}
