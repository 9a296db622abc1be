// Resilience on virtual time: an open-loop client offers a fixed rate of GETs to an origin that
// fails a share of attempts with 503, through the client's real default stack (deadline,
// [throttle], retry, [breaker], attempt timeout) ending in a simulated origin.
//
// 1. Retry amplification: attempts per offered call and the success rate, during a total outage
//    and at 20% failures, with the default retry budget, without one, and without retries.
// 2. Adaptive throttling: what share of calls reach the origin during a 30 s outage, and how soon
//    after it ends local rejections stop.
// 3. The circuit breaker: attempts per call during a 30 s outage, and how soon after it ends
//    calls succeed again.
//
//   node bench/resilience.ts          # also the second part of `npm run bench`
//   node bench/resilience.ts --json
//
// Virtual time makes it exact and fast: the same seed gives the same figures on any machine.
import { parseArgs } from 'node:util'
import { startAttempt } from '../src/core/attempt.ts'
import { simulatedResponse } from './simulated-response.ts'
import {
  createClient,
  type BreakerOptions,
  type Middleware,
  type RetryOptions,
} from '../src/index.ts'
import { VirtualClock, seededRandom, type Random } from '../src/testing/index.ts'

/** One run of the scenario. */
export interface AmplificationScenario {
  /** Share of attempts the origin answers 503 (1 = total outage). */
  failureRate: number
  /** Offered calls per second. @defaultValue 200 */
  rate?: number
  /** Length of the run, in ms. @defaultValue 10000 */
  duration?: number
  /** The origin's answer time, in ms. @defaultValue 10 */
  latency?: number
  /** The client's retry options (the budget among them). @defaultValue the defaults */
  retry?: RetryOptions | false
  /** The client's adaptive throttling. @defaultValue off, so that the retry figures stand alone */
  throttle?: boolean
  /** The client's circuit breaker. @defaultValue off, so that the retry figures stand alone */
  breaker?: BreakerOptions | boolean
  /** From this time (ms) on the origin is healthy again. @defaultValue never */
  recoverAt?: number
  seed?: number
}

/** What a run produced. */
export interface AmplificationResult {
  offered: number
  attempts: number
  /** Attempts divided by offered calls. */
  amplification: number
  /** Share of offered calls that ended with a 200. */
  successRate: number
  retriesRefused: number
  /** Calls adaptive throttling rejected locally, per second of the run. */
  throttledPerSecond: number[]
  /** Calls offered per second of the run. */
  offeredPerSecond: number[]
  /** Calls that ended with a 200, per second of their start. */
  succeededPerSecond: number[]
  /** Attempts sent to the origin, per second of their call's start. */
  attemptsPerSecond: number[]
  /** Calls the circuit breaker rejected without sending anything. */
  rejectedByCircuit: number
}

/** Runs one scenario on virtual time. */
export async function runAmplification(
  scenario: AmplificationScenario,
): Promise<AmplificationResult> {
  const { failureRate, rate = 200, duration = 10_000, latency = 10, seed = 1 } = scenario
  const recoverAt = scenario.recoverAt ?? Infinity
  const clock = new VirtualClock()
  const originRandom = seededRandom(seed)
  let attempts = 0
  let refused = 0
  const client = createClient({
    origin: 'http://origin.test',
    clock,
    random: seededRandom(seed + 1),
    retry: scenario.retry,
    throttle: scenario.throttle ?? false,
    breaker: scenario.breaker === true ? {} : (scenario.breaker ?? false),
    middleware: (defaults) => [
      ...defaults,
      simulatedOrigin(originRandom, (now) => (now < recoverAt ? failureRate : 0), latency),
    ],
  })
  const offered = Math.round((rate * duration) / 1000)
  let succeeded = 0
  const seconds = Math.ceil(duration / 1000)
  const throttledPerSecond = new Array<number>(seconds).fill(0)
  const offeredPerSecond = new Array<number>(seconds).fill(0)
  const succeededPerSecond = new Array<number>(seconds).fill(0)
  const attemptsPerSecond = new Array<number>(seconds).fill(0)
  let rejectedByCircuit = 0
  const calls: Promise<void>[] = []
  for (let i = 0; i < offered; i++) {
    clock.setTimer(
      () => {
        const second = Math.floor(clock.now() / 1000)
        offeredPerSecond[second] = (offeredPerSecond[second] ?? 0) + 1
        calls.push(
          client.request('/').then(
            async (response) => {
              attempts += response.attempts.length
              attemptsPerSecond[second] =
                (attemptsPerSecond[second] ?? 0) + response.attempts.length
              refused += response.attempts.filter((a) => a.decision?.code === 'budget').length
              if (response.statusCode === 200) {
                succeeded++
                succeededPerSecond[second] = (succeededPerSecond[second] ?? 0) + 1
              }
              await response.body.dump()
            },
            (error: { code?: string; attempts?: readonly unknown[] }) => {
              const sent = error.attempts?.length ?? 0
              attempts += sent
              attemptsPerSecond[second] = (attemptsPerSecond[second] ?? 0) + sent
              if (error.code === 'NQ_THROTTLED') {
                throttledPerSecond[second] = (throttledPerSecond[second] ?? 0) + 1
              }
              if (error.code === 'NQ_CIRCUIT_OPEN') rejectedByCircuit++
            },
          ),
        )
      },
      (i * 1000) / rate,
    )
  }
  // Long enough for the last call's retries to finish.
  await clock.advance(duration + 30_000)
  await Promise.all(calls)
  await client.close()
  return {
    offered,
    attempts,
    amplification: attempts / offered,
    successRate: succeeded / offered,
    retriesRefused: refused,
    throttledPerSecond,
    offeredPerSecond,
    succeededPerSecond,
    attemptsPerSecond,
    rejectedByCircuit,
  }
}

/** A stand-in origin at the bottom of the stack: answers after `latency` ms, 503 at `failureRate`. */
function simulatedOrigin(
  random: Random,
  failureRate: (now: number) => number,
  latency: number,
): Middleware {
  return async (request) => {
    const { clock, cancellation } = request
    if (cancellation.aborted) throw cancellation.reason
    const record = startAttempt(request)
    const status = random() < failureRate(clock.now()) ? 503 : 200
    await clock.sleep(latency, cancellation.signal)
    record.statusCode = status
    record.timeToHeaders = latency
    record.duration = latency
    record.outcome = status === 200 ? 'success' : 'overload'
    return simulatedResponse(request, record, status)
  }
}

/** Adaptive throttling through a 30 s outage: share of calls sent, and recovery afterwards. */
export async function runThrottleRecovery(seed = 1) {
  const result = await runAmplification({
    failureRate: 1,
    recoverAt: 30_000,
    duration: 60_000,
    throttle: true,
    seed,
  })
  const { throttledPerSecond: throttled, offeredPerSecond: offered } = result
  const share = (from: number, to: number) =>
    sum(throttled.slice(from, to)) / Math.max(1, sum(offered.slice(from, to)))
  // The first whole second after the outage in which under 1% of calls were rejected locally.
  let recoveredAfter: number | undefined
  for (let s = 30; s < throttled.length; s++) {
    if ((throttled[s] ?? 0) <= 0.01 * (offered[s] ?? 0)) {
      recoveredAfter = s - 30 + 1
      break
    }
  }
  return {
    sentDuringOutage: 1 - share(10, 30),
    recoveredAfter,
    attemptsPerCall: result.amplification,
  }
}

/**
 * The circuit breaker through a 30 s outage (every attempt 503) at 200 calls/s, then a healthy
 * origin: attempts per offered call in seconds 10-30 of the outage, and how many seconds after
 * the origin recovered 99% of calls succeed again. With the retry budget in both runs, with and
 * without the breaker.
 */
export async function runBreakerRecovery(breaker: BreakerOptions | false, seed = 1) {
  const result = await runAmplification({
    failureRate: 1,
    recoverAt: 30_000,
    duration: 90_000,
    breaker,
    seed,
  })
  const { attemptsPerSecond, offeredPerSecond: offered, succeededPerSecond: ok } = result
  let recoveredAfter: number | undefined
  for (let s = 30; s < ok.length; s++) {
    if ((ok[s] ?? 0) >= 0.99 * (offered[s] ?? 0)) {
      recoveredAfter = s - 30 + 1
      break
    }
  }
  return {
    attemptsDuringOutage: sum(attemptsPerSecond.slice(10, 30)),
    attemptsPerCallDuringOutage:
      sum(attemptsPerSecond.slice(10, 30)) / Math.max(1, sum(offered.slice(10, 30))),
    recoveredAfter,
    rejectedByCircuit: result.rejectedByCircuit,
  }
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0)
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { json: { type: 'boolean', default: false } } })
  const rows: { scenario: string; policy: string; result: AmplificationResult }[] = []
  for (const [scenario, failureRate] of [
    ['total outage (every attempt 503)', 1],
    ['20% of attempts 503', 0.2],
  ] as const) {
    for (const [policy, retry, breaker] of [
      ['client defaults (+ throttle, breaker)', {}, true],
      ['retries, default budget', {}, false],
      ['retries, no budget', { budget: false }, false],
      ['no retries', false, false],
    ] as const) {
      const throttle = breaker
      const result = await runAmplification({ failureRate, retry, breaker, throttle })
      rows.push({ scenario, policy, result })
    }
  }
  const throttle = await runThrottleRecovery()
  const breaker = {
    off: await runBreakerRecovery(false),
    defaults: await runBreakerRecovery({}),
  }
  if (values.json) {
    console.log(JSON.stringify({ amplification: rows, throttle, breaker }, null, 2))
    return
  }
  console.log('\nretry amplification: 200 calls/s for 10 s, 10 ms answers, virtual time')
  console.log(
    'scenario                            policy                                  attempts/call  success',
  )
  for (const { scenario, policy, result } of rows) {
    console.log(
      `${scenario.padEnd(36)}${policy.padEnd(40)}${result.amplification.toFixed(3).padStart(13)}  ${(result.successRate * 100).toFixed(1).padStart(6)}%`,
    )
  }
  console.log(
    '\nadaptive throttling (throttle: true): 200 calls/s, every attempt 503 for 30 s, then healthy',
  )
  console.log(
    `calls sent to the origin in seconds 10-30 of the outage: ${(throttle.sentDuringOutage * 100).toFixed(1)}%`,
  )
  console.log(
    `local rejections under 1% of calls: ${throttle.recoveredAfter === undefined ? 'not within 30 s' : `${throttle.recoveredAfter} s`} after the origin recovered`,
  )
  console.log(
    '\ncircuit breaker, with the retry budget: 200 calls/s, every attempt 503 for 30 s, then healthy',
  )
  console.log('breaker     attempts in seconds 10-30 (4000 calls)   99% succeed again after')
  for (const [name, r] of [
    ['off', breaker.off],
    ['defaults', breaker.defaults],
  ] as const) {
    const after = r.recoveredAfter === undefined ? 'not within 60 s' : `${r.recoveredAfter} s`
    const sent = `${r.attemptsDuringOutage} (${r.attemptsPerCallDuringOutage.toFixed(4)}/call)`
    console.log(`${name.padEnd(12)}${sent.padStart(38)}   ${after}`)
  }
}

if (import.meta.main) await main()
