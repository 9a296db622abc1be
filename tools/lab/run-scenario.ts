import { performance } from 'node:perf_hooks'
import {
  createFaultServer,
  type FaultServer,
  type FaultServerOptions,
} from '../../src/testing/index.ts'
import { seededRandom } from '../../src/testing/index.ts'
import { poissonArrivals } from './arrivals.ts'
import {
  CONTENDER_NAMES,
  createContender,
  type Contender,
  type ContenderName,
  type CallOutcome,
  type ContenderSettings,
  type PolicySample,
  type PolicyTotals,
} from './contenders.ts'
import { faultWindow, type RunShape, type Scenario, type ScenarioName } from './scenarios.ts'

/** One call as a contender saw it; times in ms since the run started. */
export interface CallRecord {
  /** When the call was due (its arrival), not when the event loop got to it. */
  start: number
  end: number
  ok: boolean
  /** Final status or error code; `unfinished` if the run ended first. */
  label: string
}

/** A contender's state at one moment; the policy fields only for netiquette. */
export interface Sample extends Partial<PolicySample> {
  t: number
  /** Calls started and not yet ended. */
  inFlight: number
}

/** What one contender did in one run. */
export interface ContenderRun {
  name: ContenderName
  /** In order of ending. */
  calls: CallRecord[]
  /** When each request reached the origin (ms since the start), ascending. */
  attempts: number[]
  /** Every {@link SAMPLE_INTERVAL} ms. */
  samples: Sample[]
  /** What netiquette's policies did, at the end of the run. */
  totals?: PolicyTotals
}

/** The raw record of one scenario run: every call, every attempt and the samples. */
export interface ScenarioRun {
  scenario: ScenarioName
  shape: RunShape
  fault: { start: number; end: number }
  /** When each call was due, ms since the start: the same for every contender. */
  arrivals: number[]
  contenders: ContenderRun[]
}

/** How often in-flight counts and netiquette's limit, queue and circuit are sampled, in ms. */
export const SAMPLE_INTERVAL = 100

/** How long calls may take to end once aborted, in ms. */
const ABORT_WAIT = 5_000

/** Whether `promise` settled within `ms`. */
async function settledWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, ms, false)))
  try {
    return await Promise.race([promise.then(() => true), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * The fault server for address `endpoint` of an origin: the first on 127.0.0.1 at a free port,
 * the others on 127.0.0.2, ... at the port of the one before.
 */
async function createEndpointServer(
  endpoint: number,
  previous: FaultServer | undefined,
  options: FaultServerOptions,
): Promise<FaultServer> {
  if (endpoint === 0) return createFaultServer(options)
  const host = `127.0.0.${endpoint + 1}`
  try {
    return await createFaultServer({ ...options, host, port: previous?.port })
  } catch (error) {
    throw new Error(
      `this scenario needs the loopback address ${host} (every 127.x.y.z is local on Linux; on ` +
        `macOS add it with \`sudo ifconfig lo0 alias ${host}\`): ${(error as Error).message}`,
      { cause: error },
    )
  }
}

/** What {@link runScenario} reports while it runs. */
export interface ScenarioProgress {
  /** ms since the start. */
  elapsed: number
  /** Calls in flight per contender. */
  inFlight: Record<ContenderName, number>
  /** Once arrivals are over: waiting for the last calls. */
  draining: boolean
}

/** How to run one scenario. */
export interface RunScenarioOptions {
  shape: RunShape
  contender: ContenderSettings
  /** How long to wait for calls still in flight after the last arrival, in ms, before aborting. */
  grace: number
  onProgress?: (progress: ScenarioProgress) => void
}

/**
 * Runs `scenario` with each contender against its own fault server, all at once: every
 * contender gets the same arrivals at the same moments, and each origin the same script.
 */
export async function runScenario(
  scenario: Scenario,
  options: RunScenarioOptions,
): Promise<ScenarioRun> {
  const { shape, grace } = options
  const fault = faultWindow(shape.duration)
  const arrivals = poissonArrivals(shape.rate, shape.duration, seededRandom(shape.seed))
  let t0 = performance.now()
  const elapsed = () => performance.now() - t0

  const servers: FaultServer[] = []
  // One lane per contender: its client, what it recorded, and its calls in flight.
  const lanes: { contender: Contender; run: ContenderRun; inFlight: number }[] = []
  const timers: NodeJS.Timeout[] = []
  // Only the next arrival's timer is ever pending.
  let arrivalTimer: NodeJS.Timeout | undefined
  try {
    for (const name of CONTENDER_NAMES) {
      const run: ContenderRun = { name, calls: [], attempts: [], samples: [] }
      const seen = new Map<number, number>()
      // Each origin its own state (a rate limiter's bucket), the same script.
      const answer = scenario.createAnswer?.(shape) ?? scenario.answer
      const origins: string[] = []
      // One server per address of the origin, on 127.0.0.1, 127.0.0.2, ... and one port.
      for (let endpoint = 0; endpoint < (scenario.endpoints ?? 1); endpoint++) {
        const server = await createEndpointServer(endpoint, servers[servers.length - 1], {
          ...scenario.server(shape),
          seed: shape.seed,
          maxRecorded: 0,
          fallback: (request) => {
            const t = elapsed()
            run.attempts.push(t)
            const call = Number(request.path.slice('/call/'.length))
            const attempt = seen.get(call) ?? 0
            seen.set(call, attempt + 1)
            const inFault = t >= fault.start && t < fault.end
            return answer({ t, call, attempt, inFault, endpoint }, shape)
          },
        })
        servers.push(server)
        origins.push(server.url)
      }
      lanes.push({
        contender: createContender(name, origins, {
          ...options.contender,
          hedge: scenario.hedge === true,
          ca: servers[servers.length - 1]?.ca,
        }),
        run,
        inFlight: 0,
      })
    }

    const controller = new AbortController()
    let pending = 0
    const drained = Promise.withResolvers<void>()
    let ending = false
    let next = 0

    const start = (index: number) => {
      const due = arrivals[index] as number
      for (const lane of lanes) {
        lane.inFlight++
        pending++
        const settle = (outcome: CallOutcome) => {
          lane.inFlight--
          const label = ending && !outcome.ok ? 'unfinished' : outcome.label
          lane.run.calls.push({ start: due, end: elapsed(), ok: outcome.ok, label })
          if (--pending === 0 && next >= arrivals.length) drained.resolve()
        }
        // A contender reports failures as outcomes; a throw is a bug, recorded rather than lost.
        lane.contender
          .call(`/call/${index}`, controller.signal)
          .then(settle, () => settle({ ok: false, label: 'lab-error' }))
      }
    }

    const arrived = Promise.withResolvers<void>()
    const schedule = () => {
      const now = elapsed()
      // Catch up on every arrival that is due, so a late timer does not thin the load.
      while (next < arrivals.length && (arrivals[next] as number) <= now) start(next++)
      if (next < arrivals.length) {
        arrivalTimer = setTimeout(schedule, (arrivals[next] as number) - now)
      } else {
        arrived.resolve()
      }
    }

    const sample = () => {
      const t = elapsed()
      for (const lane of lanes) {
        lane.run.samples.push({ t, inFlight: lane.inFlight, ...lane.contender.sample?.() })
      }
      options.onProgress?.({
        elapsed: t,
        inFlight: Object.fromEntries(lanes.map((l) => [l.run.name, l.inFlight])) as Record<
          ContenderName,
          number
        >,
        draining: next >= arrivals.length,
      })
    }

    t0 = performance.now()
    const onFault = (phase: 'start' | 'end') => () => {
      for (const server of servers) scenario.onFault?.(server, phase, shape)
    }
    timers.push(setTimeout(onFault('start'), fault.start), setTimeout(onFault('end'), fault.end))
    const sampler = setInterval(sample, SAMPLE_INTERVAL)
    timers.push(sampler)
    schedule()
    await arrived.promise
    if (pending === 0) drained.resolve()
    if (!(await settledWithin(drained.promise, grace))) {
      ending = true
      controller.abort()
      // Every contender honours the signal at once; a call that does not is a bug to report,
      // not a reason to hang.
      if (!(await settledWithin(drained.promise, ABORT_WAIT))) {
        throw new Error(`${pending} calls did not end within ${ABORT_WAIT} ms of being aborted`)
      }
    }
    clearInterval(sampler)
    sample()
    for (const lane of lanes) lane.run.totals = lane.contender.totals?.()
  } finally {
    for (const timer of timers) clearTimeout(timer)
    clearTimeout(arrivalTimer)
    await Promise.all(lanes.map((lane) => lane.contender.close()))
    await Promise.all(servers.map((server) => server.close()))
  }
  for (const { run } of lanes) run.attempts.sort((a, b) => a - b)
  return { scenario: scenario.name, shape, fault, arrivals, contenders: lanes.map((l) => l.run) }
}
