// The simulator end to end: queueing formulas, one client's retries worked out by hand, and the
// library's own client stack on the simulation's clock.
import { describe, expect, it } from 'vitest'
import { createClient, InvalidOptionError } from '../../src/index.ts'
import { VirtualClock, seededRandom } from '../../src/testing/index.ts'
import { runFleet, type FleetBehaviour, type FleetRun } from '../../tools/fleet/index.ts'
import { SimDispatcher } from '../../tools/fleet/sim-dispatcher.ts'
import { SimServer } from '../../tools/fleet/sim-server.ts'

/** No policies: one attempt per call, no deadline to speak of. */
const PLAIN: FleetBehaviour = {
  name: 'plain',
  setup: 'one attempt, no policies',
  options: {
    retry: false,
    breaker: false,
    throttle: false,
    concurrency: false,
    deadline: 3_600_000,
  },
}

/** Mean latency of the calls that succeeded, from the run's totals. */
const meanLatency = (run: FleetRun) => run.totals.latency / run.totals.ok

describe('runFleet', () => {
  it("meets the M/D/1 mean and Little's law (L = lambda W) on a stable server", async () => {
    // rho = 0.5, service 100 ms: W = 100 + rho / (2 mu (1 - rho)) = 150 ms; L = 5/s x 0.15 s.
    const run = await runFleet({
      behaviour: PLAIN,
      clients: 10,
      rate: 5,
      server: { capacity: 10 },
      duration: 2_000_000,
    })
    // Every call but those of the last moments was answered.
    expect(run.totals.calls - run.totals.ok).toBeLessThan(5)
    expect(meanLatency(run)).toBeGreaterThan(150 * 0.95)
    expect(meanLatency(run)).toBeLessThan(150 * 1.05)
    const meanQueue = run.seconds.reduce((sum, s) => sum + s.queue, 0) / run.seconds.length
    expect(meanQueue).toBeGreaterThan(0.75 * 0.9)
    expect(meanQueue).toBeLessThan(0.75 * 1.1)
  })

  it('meets the M/M/1 mean time in system, 1 / (mu - lambda)', async () => {
    const run = await runFleet({
      behaviour: PLAIN,
      clients: 10,
      rate: 5,
      server: { capacity: 10, service: 'exponential' },
      duration: 2_000_000,
      seed: 3,
    })
    expect(meanLatency(run)).toBeGreaterThan(200 * 0.93)
    expect(meanLatency(run)).toBeLessThan(200 * 1.07)
  })

  it('counts attempts, served and abandoned work by the second, and judges recovery', async () => {
    const run = await runFleet({
      behaviour: 'paper',
      clients: 20,
      rate: 620,
      server: { capacity: 1_660 },
      duration: 30_000,
      triggers: [{ at: 5_000, duration: 5_000, cut: 0.5 }],
    })
    expect(run.seconds).toHaveLength(30)
    const total = (pick: (s: FleetRun['seconds'][number]) => number) =>
      run.seconds.reduce((sum, s) => sum + pick(s), 0)
    expect(total((s) => s.attempts)).toBe(run.totals.attempts)
    expect(total((s) => s.served)).toBe(run.totals.served)
    // Half the capacity still serves 830/s > 620/s: nothing times out, nothing is retried.
    expect(run.totals.attempts).toBe(run.totals.calls)
    expect(run.recoveredAfter).toBe(0)
    expect(run.end.goodputShare).toBeGreaterThan(0.95)
    expect(run.wall.events).toBeGreaterThan(run.totals.calls)
  })

  it('rejects bad options with a typed error naming them', async () => {
    const bad: unknown[] = [
      { clients: 0 },
      { clients: 10_001 },
      { rate: 0 },
      { duration: 10 },
      { behaviour: 'mystery' },
      { server: { capacity: -1 } },
      { servers: 0 },
      { balancer: 'best' },
      { triggers: [{ at: 0, duration: 1, cut: 2 }] },
      { triggers: [{ at: 0, duration: 1, cut: 0.5, server: 3 }], servers: 2 },
      { recovery: { goodput: 2 } },
      { surprise: true },
      null,
      [],
    ]
    for (const options of bad) {
      await expect(runFleet(options as never), JSON.stringify(options)).rejects.toThrow(
        InvalidOptionError,
      )
    }
  })
})

describe("one client's retries, worked out by hand", () => {
  /** A client with the paper's immediate retries and `attemptTimeout`, on one 1/s server. */
  function setup(attemptTimeout: number) {
    const clock = new VirtualClock()
    const server = new SimServer({ capacity: 1 }, clock, seededRandom(1))
    const dispatcher = new SimDispatcher([server], 'round-robin', seededRandom(1))
    const client = createClient({
      origin: 'http://server.fleet',
      dispatcher,
      clock,
      attemptTimeout,
      deadline: 60_000,
      breaker: false,
      throttle: false,
      concurrency: false,
      retry: { maxRetries: 1, delay: () => 0, budget: false },
    })
    return { clock, server, dispatcher, client }
  }

  it('a retry queued behind its own abandoned attempt times out too', async () => {
    // Service takes 1,000 ms. The first attempt times out at 600 and is retried at once; the
    // server finishes the abandoned first at 1,000 and starts the retry, which times out at 1,200.
    const { clock, server, dispatcher, client } = setup(600)
    const outcome = client.request('/').then(
      () => ({ ok: true, at: clock.now() }),
      (error: { code: string; attempts: unknown[] }) => ({
        ok: false,
        at: clock.now(),
        code: error.code,
        attempts: error.attempts.length,
      }),
    )
    await clock.advance(5_000)
    expect(await outcome).toEqual({ ok: false, at: 1_200, code: 'NQ_ATTEMPT_TIMEOUT', attempts: 2 })
    expect(dispatcher.sent).toBe(2)
    // Both served in full, for nobody: the second finished at 2,000.
    expect(server.totals()).toMatchObject({ served: 0, wasted: 2 })
  })

  it('a retry succeeds once the server is back to full speed', async () => {
    // At half speed the first attempt needs 2,000 ms; it times out at 1,500 and is retried at
    // once. Full speed is back at 1,500: the abandoned first has 250 ms of work left (done at
    // 1,750, for nobody), then the retry is served from 1,750 to 2,750, inside its 1,500 ms.
    const { clock, server, client } = setup(1_500)
    server.setSpeed(0.5)
    clock.setTimer(() => server.setSpeed(1), 1_500)
    const outcome = client.request('/').then(async (response) => {
      await response.body.dump()
      return { status: response.statusCode, at: clock.now(), attempts: response.attempts.length }
    })
    await clock.advance(5_000)
    expect(await outcome).toEqual({ status: 200, at: 2_750, attempts: 2 })
    expect(server.totals()).toMatchObject({ served: 1, wasted: 1 })
  })

  it('a single call with no queue takes exactly the service time', async () => {
    const { clock, client } = setup(5_000)
    const outcome = client.request('/').then(async (response) => {
      await response.body.dump()
      return clock.now()
    })
    await clock.advance(5_000)
    expect(await outcome).toBe(1_000)
  })
})
