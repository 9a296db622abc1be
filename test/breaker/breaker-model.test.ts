import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  CircuitOpenError,
  QueueFullError,
  createClient,
  type BreakerOptions,
  type Client,
} from '../../src/index.ts'
import { VirtualClock } from '../../src/testing/index.ts'
import { controlledOrigin, type HeldAttempt } from '../support/controlled-origin.ts'

// Model-based test of the circuit breaker: random sequences of calls (single ones and bursts),
// answers in any order (success, 4xx, 5xx, 503 with Retry-After, reset, caller abort, local
// rejection below the breaker), clock advances, isolation and reset, run through a real client
// on virtual time and compared after every step with the model below.

interface Config {
  failureRatio: number
  outagePeriod: number
  minimumCalls: number
  window: number
  consecutiveFailures: number | undefined
  openDuration: number
  maxOpenDuration: number
  healthyPeriod: number
  halfOpenProbes: number
  serverDirected: boolean
}

type State = 'closed' | 'open' | 'half-open' | 'isolated'
type Verdict = 'success' | 'failure' | 'nack' | 'cancelled' | 'local'

/**
 * The breaker's rules, written out plainly: outcomes kept as a list tagged with their bucket
 * (the window is 10 buckets, the first starting at the first outcome after the circuit closed),
 * and every count recomputed from the list.
 */
class Model {
  state: State = 'closed'
  epoch = 0
  outcomes: { bucket: number; failed: boolean }[] = []
  windowStart: number | undefined
  streak = 0
  // Attempts since the last success, and when the first of them ended.
  runStart: number | undefined
  runLast = 0
  runLength = 0
  trips = 0
  lastClosed = -Infinity
  openUntil = 0
  closesAfterOpen = false
  probes = 0
  probeWins = 0
  readonly transitions: string[] = []

  readonly config: Config
  readonly r: number

  constructor(config: Config, r: number) {
    this.config = config
    this.r = r
  }

  inWindow(now: number) {
    if (this.windowStart === undefined) return []
    const current = this.bucketOf(now)
    return this.outcomes.filter((o) => o.bucket > current - 10)
  }

  bucketOf(t: number): number {
    return Math.floor((t - (this.windowStart as number)) / (this.config.window / 10))
  }

  settle(now: number): void {
    if (this.state === 'open' && now >= this.openUntil) {
      if (this.closesAfterOpen) this.close(now)
      else this.enter('half-open')
    }
  }

  admit(now: number): number | undefined {
    this.settle(now)
    if (this.state === 'closed') return this.epoch
    if (this.state === 'half-open' && this.probes < this.config.halfOpenProbes) {
      this.probes++
      return this.epoch
    }
    return undefined
  }

  report(now: number, permit: number, verdict: Verdict, serverWait?: number): void {
    if (permit !== this.epoch) return
    const c = this.config
    if (this.state === 'closed') {
      if (verdict === 'cancelled' || verdict === 'local') return
      if (c.serverDirected && serverWait !== undefined) {
        // Less a slack of 5% (at most 50 ms) for timers that fire early.
        const wait = Math.min(serverWait, c.maxOpenDuration)
        this.openUntil = now + wait - Math.min(50, wait / 20)
        this.closesAfterOpen = true
        this.enter('open')
        return
      }
      if (verdict === 'success') {
        this.runStart = undefined
        this.runLength = 0
      } else {
        if (this.runStart === undefined || now - this.runLast > c.outagePeriod) {
          this.runStart = now
          this.runLength = 0
        }
        this.runLast = now
        this.runLength++
        if (this.runLength >= 5 && now - this.runStart >= c.outagePeriod) {
          this.trip(now)
          return
        }
        if (verdict === 'nack') return
      }
      this.windowStart ??= now
      this.outcomes.push({ bucket: this.bucketOf(now), failed: verdict === 'failure' })
      if (verdict === 'success') {
        this.streak = 0
        return
      }
      this.streak++
      if (c.consecutiveFailures !== undefined && this.streak >= c.consecutiveFailures) {
        this.trip(now)
        return
      }
      const counted = this.inWindow(now)
      const failed = counted.filter((o) => o.failed).length
      if (counted.length >= c.minimumCalls && failed >= c.failureRatio * counted.length) {
        this.trip(now)
      }
    } else if (this.state === 'half-open') {
      this.probes--
      if (verdict === 'local') return
      if (verdict === 'success') {
        this.probeWins++
        if (this.probeWins >= c.halfOpenProbes) this.close(now)
      } else {
        this.trip(now, c.serverDirected ? serverWait : undefined)
      }
    }
  }

  trip(now: number, serverWait?: number): void {
    const c = this.config
    if (this.state === 'closed' && now - this.lastClosed >= c.healthyPeriod) this.trips = 0
    this.trips++
    // Equal jitter over a ceiling that doubles per opening in a row: [ceiling / 2, ceiling).
    const ceiling = Math.min(c.maxOpenDuration, c.openDuration * 2 ** (this.trips - 1))
    let duration = Math.min(ceiling, ceiling / 2 + (this.r * ceiling) / 2)
    if (serverWait !== undefined) {
      duration = Math.min(c.maxOpenDuration, Math.max(duration, serverWait))
    }
    this.openUntil = now + duration
    this.closesAfterOpen = false
    this.enter('open')
  }

  close(now: number): void {
    this.lastClosed = now
    this.enter('closed')
  }

  reset(): void {
    this.trips = 0
    this.enter('closed')
    this.lastClosed = -Infinity
  }

  enter(to: State): void {
    if (to !== this.state) this.transitions.push(`${this.state}->${to}`)
    this.state = to
    this.epoch++
    this.outcomes = []
    this.windowStart = undefined
    this.streak = 0
    this.runStart = undefined
    this.runLength = 0
    this.probes = 0
    this.probeWins = 0
  }
}

interface Real {
  client: Client
  clock: VirtualClock
  held: HeldAttempt[]
  /** The model's permit for each attempt the origin holds. */
  permits: Map<HeldAttempt, number>
  controllers: Map<AbortSignal, AbortController>
  transitions: string[]
}

const ORIGIN = 'http://breaker.test'

/** The real circuit and the model agree on everything a user can read. */
function compare(model: Model, real: Real): void {
  const now = real.clock.now()
  model.settle(now)
  const snapshot = real.client.circuits?.get()
  const counted = model.inWindow(now)
  expect(snapshot).toMatchObject({
    state: model.state,
    calls: model.state === 'closed' ? counted.length : 0,
    failures: model.state === 'closed' ? counted.filter((o) => o.failed).length : 0,
    consecutiveFailures: model.streak,
    probesInFlight: model.probes,
    trips: model.trips,
    retryAt:
      model.state === 'open' ? Math.round(real.clock.wallNow() + model.openUntil - now) : undefined,
  })
  expect(real.transitions).toEqual(model.transitions)
  expect(real.held.length).toBe(real.permits.size)
}

class StartCalls implements fc.AsyncCommand<Model, Real> {
  readonly count: number
  constructor(count: number) {
    this.count = count
  }
  check() {
    return true
  }
  async run(model: Model, real: Real) {
    const before = new Set(real.held)
    const errors: unknown[] = []
    const expected: (number | undefined)[] = []
    for (let i = 0; i < this.count; i++) {
      expected.push(model.admit(real.clock.now()))
      const controller = new AbortController()
      real.controllers.set(controller.signal, controller)
      real.client
        .request('/', { signal: controller.signal })
        .then((response) => response.body.dump())
        .catch((error: unknown) => errors.push(error))
    }
    await real.clock.advance(0)
    const admitted = real.held.filter((a) => !before.has(a))
    const permits = expected.filter((p) => p !== undefined)
    expect(admitted).toHaveLength(permits.length)
    admitted.forEach((attempt, i) => real.permits.set(attempt, permits[i] as number))
    // Every call the model rejects failed at once, without an attempt, with the state it met.
    const rejected = errors.filter((e) => e instanceof CircuitOpenError)
    expect(rejected).toHaveLength(this.count - permits.length)
    for (const error of rejected) {
      expect(error.attempts).toHaveLength(0)
      expect(error.state).toBe(model.state)
    }
    compare(model, real)
  }
  toString() {
    return `start(${this.count})`
  }
}

type Answer = 200 | 404 | 429 | 500 | 503 | 'retry-after' | 'reset' | 'abort' | 'local'

class Finish implements fc.AsyncCommand<Model, Real> {
  readonly pick: number | undefined
  readonly answer: Answer
  readonly seconds: number
  constructor(pick: number | undefined, answer: Answer, seconds: number) {
    this.pick = pick
    this.answer = answer
    this.seconds = seconds
  }
  check() {
    return true
  }
  async run(model: Model, real: Real) {
    const { held } = real
    const attempt = held[this.pick === undefined ? held.length - 1 : this.pick % held.length]
    if (attempt === undefined) return
    const permit = real.permits.get(attempt) as number
    real.permits.delete(attempt)
    const now = real.clock.now()
    const answer = this.answer
    if (answer === 'abort') {
      real.controllers.get(attempt.request.callerSignal as AbortSignal)?.abort()
      model.report(now, permit, 'cancelled')
    } else if (answer === 'reset') {
      attempt.fail(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))
      model.report(now, permit, 'failure')
    } else if (answer === 'local') {
      attempt.fail(new QueueFullError('the queue is full'))
      model.report(now, permit, 'local')
    } else if (answer === 'retry-after') {
      attempt.respond(503, { 'retry-after': String(this.seconds) })
      model.report(now, permit, 'nack', this.seconds * 1000)
    } else {
      attempt.respond(answer)
      const nack = answer === 429 || answer === 503
      model.report(now, permit, answer < 408 ? 'success' : nack ? 'nack' : 'failure')
    }
    await real.clock.advance(0)
    compare(model, real)
  }
  toString() {
    return `finish(#${this.pick ?? 'newest'}, ${this.answer}${this.answer === 'retry-after' ? ` ${this.seconds}s` : ''})`
  }
}

class Advance implements fc.AsyncCommand<Model, Real> {
  readonly ms: number
  constructor(ms: number) {
    this.ms = ms
  }
  check() {
    return true
  }
  async run(model: Model, real: Real) {
    await real.clock.advance(this.ms)
    compare(model, real)
  }
  toString() {
    return `advance(${this.ms})`
  }
}

class Isolate implements fc.AsyncCommand<Model, Real> {
  check() {
    return true
  }
  async run(model: Model, real: Real) {
    real.client.circuits?.isolate(ORIGIN, 'test')
    model.settle(real.clock.now())
    model.enter('isolated')
    compare(model, real)
  }
  toString() {
    return 'isolate'
  }
}

class Reset implements fc.AsyncCommand<Model, Real> {
  check() {
    return true
  }
  async run(model: Model, real: Real) {
    real.client.circuits?.reset(ORIGIN)
    model.settle(real.clock.now())
    model.reset()
    compare(model, real)
  }
  toString() {
    return 'reset'
  }
}

const configArb: fc.Arbitrary<Config> = fc
  .record({
    failureRatio: fc.constantFrom(0.25, 0.5, 1),
    outagePeriod: fc.constantFrom(500, 1_000, 5_000),
    minimumCalls: fc.integer({ min: 1, max: 6 }),
    window: fc.constantFrom(1_000, 10_000),
    consecutiveFailures: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
    openDuration: fc.constantFrom(100, 5_000),
    maxFactor: fc.constantFrom(1, 4, 12),
    healthyPeriod: fc.constantFrom(1_000, 60_000),
    halfOpenProbes: fc.integer({ min: 1, max: 3 }),
    serverDirected: fc.boolean(),
  })
  .map(({ maxFactor, ...c }) => ({ ...c, maxOpenDuration: c.openDuration * maxFactor }))

const start = fc.constantFrom(1, 1, 1, 2, 3, 100).map((n) => new StartCalls(n))
// Mostly the newest attempt (a probe, when half-open), else any attempt still held.
const finish = fc
  .tuple(
    fc.option(fc.nat(), { nil: undefined, freq: 2 }),
    fc.constantFrom<Answer>(
      200,
      200,
      404,
      429,
      500,
      503,
      503,
      'retry-after',
      'reset',
      'abort',
      'local',
    ),
    fc.integer({ min: 1, max: 3 }),
  )
  .map(([pick, answer, seconds]) => new Finish(pick, answer, seconds))
const advance = fc
  .constantFrom(1, 50, 99, 100, 900, 1_000, 5_000, 20_000, 60_000)
  .map((ms) => new Advance(ms))

const commandsArb = fc.commands(
  [
    start,
    start,
    start,
    finish,
    finish,
    finish,
    finish,
    advance,
    advance,
    advance,
    fc.constantFrom<fc.AsyncCommand<Model, Real>>(new Isolate(), new Reset(), new Reset()),
  ],
  { maxCommands: 80, size: 'large' },
)

describe('the circuit breaker against its model', () => {
  it('agrees with the model after every step of random call sequences on virtual time', async () => {
    await fc.assert(
      fc.asyncProperty(
        configArb,
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        commandsArb,
        async (config, r, commands) => {
          const clock = new VirtualClock()
          const origin = controlledOrigin()
          const transitions: string[] = []
          const breaker: BreakerOptions = { ...config }
          if (config.consecutiveFailures === undefined) delete breaker.consecutiveFailures
          const client = createClient({
            origin: ORIGIN,
            clock,
            random: () => r,
            retry: false,
            throttle: false,
            breaker,
            // The breaker alone: a burst must reach the origin or the circuit, not a queue.
            concurrency: false,
            // Far beyond the longest run, so only the test decides when an attempt ends.
            deadline: 2_000_000_000,
            onCircuitStateChange: (e) => transitions.push(`${e.from}->${e.to}`),
            middleware: (defaults) => [...defaults, origin.middleware],
          })
          const real: Real = {
            client,
            clock,
            held: origin.held,
            permits: new Map(),
            controllers: new Map(),
            transitions,
          }
          try {
            await fc.asyncModelRun(() => ({ model: new Model(config, r), real }), commands)
          } finally {
            await client.destroy()
            await clock.advance(0)
          }
        },
      ),
      { numRuns: 500 },
    )
    // Virtual time: the timeout only has to cover a machine busy with other test files.
  }, 120_000)
})
