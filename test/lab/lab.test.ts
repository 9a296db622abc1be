// The failure lab end to end: the command runs real scenarios against fault servers on
// 127.0.0.1, prints JSON, and writes a report that a headless Chromium renders offline.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../../tools/lab/cli.ts'
import { browserMissing, launchBrowser } from '../support/browser.ts'
import { CONTENDER_NAMES } from '../../tools/lab/contenders.ts'
import type { LabResults, ScenarioResult } from '../../tools/lab/run-lab.ts'
import { SCENARIO_NAMES } from '../../tools/lab/scenarios.ts'
import { synDropUnavailable } from '../../tools/lab/syn-drop.ts'

type Output = LabResults & { report: string }

// The SYN-loss scenario needs root and iptables; CI has both, and there a missing one fails.
const synLossRuns = synDropUnavailable() === undefined
if (process.env.CI !== undefined && process.getuid?.() === 0 && !synLossRuns) {
  throw new Error(`CI runs as root, so the SYN-loss scenario must run: ${synDropUnavailable()}`)
}

/** The little of the DOM the browser check reads (the project compiles without DOM types). */
interface Element {
  getAttribute(name: string): string | null
  querySelector(selector: string): Element | null
  querySelectorAll(selector: string): Iterable<Element> & { length: number }
  textContent: string | null
  getBoundingClientRect(): { width: number }
  getTotalLength(): number
}

let dir: string
let short: Output
let overload: Output
let longTail: Output

async function lab(...argv: string[]): Promise<Output> {
  let out = ''
  const code = await runCli([...argv, '--json'], {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: () => true },
    cwd: dir,
    now: () => new Date(),
  })
  expect(code).toBe(0)
  return JSON.parse(out) as Output
}

const scenario = (output: Output, name: string) =>
  output.scenarios.find((s) => s.name === name) as ScenarioResult
const contender = (s: ScenarioResult, name: string) =>
  s.contenders.find((c) => c.contender === name) as ScenarioResult['contenders'][number]

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'netiquette-lab-'))
  // The overload needs a longer run: the origin's queue has to grow past netiquette's 1 s
  // deadline before the naive clients' p99 can show it. The runs take turns: side by side, on a
  // machine with two busy loops, the contenders' own calls fell behind their arrivals.
  short = await lab(
    '--scenario',
    'outage,brownout,rate-limit,restart,connection-cap,keep-alive-race,syn-loss,latency-spike,slow-body,bad-endpoint,rolling-restart-h2',
    '--duration',
    '4',
    '--out',
    'short.html',
  )
  overload = await lab(
    '--scenario',
    'overload',
    '--duration',
    '8',
    '--seed',
    '2',
    '--out',
    'overload.html',
  )
  // Hedging needs a warm client: its share is a share of the calls so far, and in a 4 s run the
  // fault starts 0.8 s in, when a few early hedges can have spent it.
  longTail = await lab('--scenario', 'long-tail', '--duration', '8', '--out', 'long-tail.html')
}, 180_000)

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('the failure lab', () => {
  it('prints results of the documented shape, with the report path', () => {
    expect(short.version).toBe(1)
    expect(short.settings).toEqual({
      duration: 4_000,
      rate: 100,
      seed: 1,
      objective: 1_000,
      attemptTimeout: 500,
    })
    expect(short.contenders.map((c) => c.name)).toEqual(CONTENDER_NAMES)
    expect(short.report).toBe(join(dir, 'short.html'))
    expect(short.scenarios.map((s) => s.name)).toEqual([
      'outage',
      'brownout',
      'rate-limit',
      'restart',
      'connection-cap',
      'keep-alive-race',
      ...(synLossRuns ? ['syn-loss'] : []),
      'latency-spike',
      'slow-body',
      'bad-endpoint',
      'rolling-restart-h2',
    ])
    expect(short.skipped).toEqual(
      synLossRuns ? [] : [{ name: 'syn-loss', title: 'SYN loss', reason: synDropUnavailable() }],
    )
    for (const s of [...short.scenarios, ...overload.scenarios, ...longTail.scenarios]) {
      expect(SCENARIO_NAMES).toContain(s.name)
      expect(s).toMatchObject({
        title: expect.any(String),
        mechanism: expect.any(String),
        headline: { claim: expect.any(String), holds: expect.any(Boolean) },
      })
      expect(s.fault.end).toBeGreaterThan(s.fault.start)
      const buckets = s.horizon / s.bucket
      expect(Number.isInteger(buckets)).toBe(true)
      expect(s.offered).toHaveLength(buckets)
      expect(s.contenders.map((c) => c.contender)).toEqual(CONTENDER_NAMES)
      const offered = s.contenders[0]?.offered
      for (const c of s.contenders) {
        // Every contender got the same arrivals, about 100 per second.
        expect(c.offered).toBe(offered)
        for (const key of [
          'attempts',
          'amplification',
          'goodput',
          'successRate',
          'p50',
          'p99',
        ] as const) {
          expect(Number.isFinite(c[key]), `${s.name} ${c.contender} ${key}`).toBe(true)
        }
        expect(c.recoveredAfter === null || c.recoveredAfter >= 0).toBe(true)
        expect(c.fault.offered).toBeGreaterThan(0)
        expect(Object.values(c.outcomes).reduce((a, b) => a + b, 0)).toBe(c.offered)
        for (const series of Object.values(c.series)) expect(series).toHaveLength(buckets)
        // Only netiquette has policies to report on.
        expect(c.policy === undefined).toBe(c.contender !== 'netiquette')
      }
      expect(s.policy.length).toBeGreaterThan(10)
      expect(s.policy[0]).toEqual({
        t: expect.any(Number),
        limit: expect.anything(),
        queued: expect.any(Number),
        circuit: expect.anything(),
      })
    }
    expect(scenario(short, 'outage').contenders[0]?.offered).toBeGreaterThan(300)
  })

  it('outage: netiquette sends fewer requests per call than the naive wrapper, and its circuit opens', () => {
    const s = scenario(short, 'outage')
    expect(s.headline.holds).toBe(true)
    const naive = contender(s, 'naive')
    const ours = contender(s, 'netiquette')
    expect(ours.amplification).toBeLessThan(naive.amplification)
    // The wrapper's own figure for the calls due in the fault is left alone: on a loaded machine
    // its retries 200 ms apart fall behind, land after the fault or not at all before the run
    // ends (0.84 to 2.97 with two busy loops). The headline compares whole runs.
    expect(ours.fault.amplification).toBeLessThan(1.5)
    expect(s.policy.some((p) => p.circuit === 'open')).toBe(true)
    expect(ours.outcomes.NQ_CIRCUIT_OPEN).toBeGreaterThan(0)
  })

  it('brownout: retries lift success above the 80% the origin gives, for every contender', () => {
    const s = scenario(short, 'brownout')
    expect(s.headline.holds).toBe(true)
    for (const c of s.contenders) expect(c.fault.successRate).toBeGreaterThanOrEqual(0.95)
    // The failed retries stay well inside netiquette's budget (10% of calls).
    const policy = contender(s, 'netiquette').policy
    expect(policy?.retriesAllowed).toBeGreaterThan(10)
    expect(policy?.retriesRefused).toBeLessThanOrEqual((policy?.retriesAllowed ?? 0) * 0.1)
  })

  it('rate limit: netiquette gets what the origin serves, with fewer requests than the naive wrapper', () => {
    const s = scenario(short, 'rate-limit')
    expect(s.headline.holds).toBe(true)
    const ours = contender(s, 'netiquette')
    // A third of the calls due in the fault is what the origin serves (0.33 measured; a loaded
    // machine bunches the arrivals, and a bucket holds 20 tokens at most); the
    // breaker of old opened on the 429s and got about a sixth of it.
    expect(ours.fault.successRate).toBeGreaterThanOrEqual(0.8 / 3)
    // Whole runs: the wrapper's figure for the fault alone moves with the machine's load.
    expect(ours.amplification).toBeLessThan(contender(s, 'naive').amplification)
    expect(ours.outcomes.NQ_CIRCUIT_OPEN ?? 0).toBe(0)
    expect(s.policy.every((p) => p.circuit !== 'open')).toBe(true)
  })

  it('restart, connection cap and an h2 rolling restart: calls refused or reset are served', () => {
    for (const name of ['restart', 'connection-cap', 'rolling-restart-h2']) {
      const s = scenario(short, name)
      expect(s.headline.holds, name).toBe(true)
      const ours = contender(s, 'netiquette')
      expect(ours.fault.successRate, name).toBeGreaterThanOrEqual(0.98)
      expect(ours.outcomes.NQ_CIRCUIT_OPEN ?? 0, name).toBe(0)
    }
  })

  it('keep-alive race: netiquette sends a GET reset on an idle connection again at once', () => {
    const s = scenario(short, 'keep-alive-race')
    const ours = contender(s, 'netiquette')
    const figures = JSON.stringify({
      ours: ours.fault,
      naive: contender(s, 'naive').fault,
      retry: contender(s, 'undici-retry').fault,
    })
    expect(s.headline.holds, figures).toBe(true)
    expect(ours.fault.successRate, figures).toBeGreaterThanOrEqual(0.99)
  })

  it('SYN loss: netiquette races a lost SYN; the others wait out the kernel’s 1 s retransmit', () => {
    if (!synLossRuns) {
      console.log(`SYN loss scenario not run: ${synDropUnavailable()}`)
      return
    }
    const s = scenario(short, 'syn-loss')
    const ours = contender(s, 'netiquette')
    const figures = JSON.stringify(s.contenders.map((c) => ({ c: c.contender, fault: c.fault })))
    expect(s.headline.holds, figures).toBe(true)
    // One SYN in ten is lost, so more than 1% of the others' calls wait for the retransmit.
    expect(contender(s, 'naive').fault.p99, figures).toBeGreaterThan(1_000)
    expect(ours.fault.successRate, figures).toBeGreaterThanOrEqual(0.99)
  })

  it('overload: netiquette keeps p99 below the clients that send every call at once, and sheds', () => {
    const s = scenario(overload, 'overload')
    expect(s.headline.holds).toBe(true)
    const ours = contender(s, 'netiquette')
    for (const name of ['naive', 'undici-retry']) {
      expect(ours.p99).toBeLessThan(contender(s, name).p99)
      expect(ours.goodput).toBeGreaterThan(contender(s, name).goodput)
    }
    expect(s.policy.some((p) => p.queued > 0)).toBe(true)
  })

  it('latency spike and slow body: the deadline bounds netiquette, the naive wrapper waits', () => {
    for (const name of ['latency-spike', 'slow-body']) {
      const s = scenario(short, name)
      expect(s.headline.holds, name).toBe(true)
      // The deadline is 1 s; allow for a busy event loop.
      expect(contender(s, 'netiquette').p99, name).toBeLessThan(1_500)
      expect(contender(s, 'naive').p99, name).toBeGreaterThan(2_000)
    }
  })

  it('long tail: hedging cuts the p99 of the calls due in the fault, for a few percent more requests', () => {
    const s = scenario(longTail, 'long-tail')
    // On failure, the figures: which contender's fault p99 and amplification, and what hedging did.
    const figures = JSON.stringify(
      s.contenders.map((c) => ({ contender: c.contender, fault: c.fault, policy: c.policy })),
    )
    expect(s.headline.holds, figures).toBe(true)
    const ours = contender(s, 'netiquette')
    // The slow answers take at least 1 s; a hedge answers in tens of ms, and a slow call that
    // finds the hedge share spent is cut by the 500 ms attempt timeout and retried.
    expect(ours.fault.p99).toBeLessThan(650)
    expect(ours.fault.amplification).toBeGreaterThan(1)
    for (const name of ['naive', 'undici-retry']) {
      expect(contender(s, name).fault.p99).toBeGreaterThan(1_000)
      // No retries: about one request per call (requests and calls are counted by when they
      // fall, so a window's edges move it by a few tenths of a percent).
      expect(contender(s, name).fault.amplification).toBeLessThan(1.01)
    }
  })

  it.skipIf(browserMissing)(
    'writes a report that headless Chromium renders offline, with every chart drawn',
    async () => {
      const html = await readFile(short.report, 'utf8')
      // Nothing to fetch: the only URL in it is the SVG namespace.
      expect(
        html.match(/https?:\/\/[^"' )]+/g)?.filter((u) => u !== 'http://www.w3.org/2000/svg') ?? [],
      ).toEqual([])

      const browser = await launchBrowser()
      try {
        const page = await browser.newPage()
        const requests: string[] = []
        const errors: string[] = []
        page.on('request', (request) => requests.push(request.url()))
        page.on('pageerror', (error) => errors.push(error.message))
        page.on('console', (message) => {
          if (message.type() === 'error') errors.push(message.text())
        })
        await page.goto(pathToFileURL(short.report).href)
        const drawn = await page.evaluate(() =>
          [
            ...(globalThis as unknown as { document: Element }).document.querySelectorAll(
              'section.scenario',
            ),
          ].map((section) => ({
            name: section.getAttribute('data-scenario'),
            headline: section.querySelector('.headline')?.textContent ?? '',
            rows: section.querySelectorAll('tbody tr').length,
            charts: [...section.querySelectorAll('svg.chart')].map((svg) => ({
              id: svg.getAttribute('data-chart'),
              width: svg.getBoundingClientRect().width,
              // Lines actually laid out with a length, not just present in the markup.
              lines: [...svg.querySelectorAll('path.series')].filter(
                (path) => path.getTotalLength() > 10,
              ).length,
            })),
          })),
        )
        expect(errors).toEqual([])
        expect(requests).toEqual([pathToFileURL(short.report).href])
        expect(drawn.map((d) => d.name)).toEqual([
          'outage',
          'brownout',
          'rate-limit',
          'restart',
          'connection-cap',
          'keep-alive-race',
          ...(synLossRuns ? ['syn-loss'] : []),
          'latency-spike',
          'slow-body',
          'bad-endpoint',
          'rolling-restart-h2',
        ])
        for (const section of drawn) {
          expect(section.headline).toMatch(/^✓ held/)
          expect(section.rows).toBe(3)
          expect(section.charts.map((c) => c.id)).toEqual(
            ['attempts', 'goodput', 'p99', 'policy'].map((chart) => `${section.name}-${chart}`),
          )
          for (const chart of section.charts) {
            expect(chart.width, chart.id ?? '').toBeGreaterThan(300)
            // attempts and goodput: offered and the three contenders; p99: the three; policy:
            // limit and queue.
            const kind = chart.id?.slice(section.name!.length + 1) as string
            const expected = { attempts: 4, goodput: 4, p99: 3, policy: 2 }[kind]
            expect(chart.lines, chart.id ?? '').toBe(expected)
          }
        }
      } finally {
        await browser.close()
      }
    },
    60_000,
  )
})
