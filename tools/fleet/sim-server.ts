import type { Clock, TimerHandle } from '../../src/index.ts'
import type { Random } from '../../src/index.ts'
import { InvalidOptionError } from '../../src/index.ts'

/** One request as the simulated server sees it. */
export interface ServerJob {
  /** The client gave up on it. The server only notices when `dropAbandoned` is on. */
  readonly abandoned: boolean
  /** Called once, when the server has served the job (200) or refused it (503, queue full). */
  finish(status: number): void
}

/** How long serving one request takes at full speed. */
export type ServiceTime = 'fixed' | 'exponential'

/** Settings of a `SimServer`. */
export interface SimServerOptions {
  /** Requests served per second at full speed. */
  capacity: number
  /**
   * `fixed`: every request takes `1/capacity` s (a CPU doing the same query). `exponential`:
   * drawn with that mean (M/M/1), for comparing with textbook queueing formulas.
   * @defaultValue 'fixed'
   */
  service?: ServiceTime
  /**
   * Requests that may wait; one that arrives to a full queue is refused at once with a 503.
   * @defaultValue Infinity: MongoDB, in the paper this model follows, queues everything
   */
  queueLimit?: number
  /**
   * Skip queued requests whose client has gone (a server that checks a propagated deadline or a
   * closed connection before starting work). Off, abandoned work still costs its full service
   * time: the sustaining effect of a retry storm.
   * @defaultValue false, as in the paper
   */
  dropAbandoned?: boolean
}

/** What a server did since it started. */
export interface SimServerTotals {
  /** Requests served to a client still waiting for them. */
  served: number
  /** Requests served after their client had given up: work for nobody. */
  wasted: number
  /** Requests refused because the queue was full. */
  refused: number
  /** Abandoned requests skipped without work (`dropAbandoned`). */
  dropped: number
}

/**
 * A single-CPU server with a FIFO queue, whose speed scripted triggers can cut. It reads the
 * simulation's clock and schedules its own completions on it. One request is served at a time;
 * a speed change part-way through a request stretches what is left of it.
 */
export class SimServer {
  readonly #clock: Clock
  readonly #random: Random
  readonly #meanMs: number
  readonly #exponential: boolean
  readonly #queueLimit: number
  readonly #dropAbandoned: boolean
  // A FIFO as an array and a head index: shift() on a queue of 100k jobs is O(n).
  #queue: (ServerJob | undefined)[] = []
  #head = 0
  #current: ServerJob | undefined
  /** Work left on the current job, in ms at full speed, as of `#since`. */
  #remaining = 0
  #since = 0
  #speed = 1
  #timer: TimerHandle | undefined
  readonly #totals: SimServerTotals = { served: 0, wasted: 0, refused: 0, dropped: 0 }

  constructor(options: SimServerOptions, clock: Clock, random: Random) {
    const { capacity, service = 'fixed', queueLimit = Infinity, dropAbandoned = false } = options
    if (typeof capacity !== 'number' || !(capacity > 0) || !Number.isFinite(capacity)) {
      throw new InvalidOptionError('capacity', capacity, 'a finite number of requests/s above 0')
    }
    if (service !== 'fixed' && service !== 'exponential') {
      throw new InvalidOptionError('service', service, "'fixed' or 'exponential'")
    }
    if (typeof queueLimit !== 'number' || !(queueLimit >= 0) || Number.isNaN(queueLimit)) {
      throw new InvalidOptionError('queueLimit', queueLimit, 'a number of requests, 0 or more')
    }
    this.#clock = clock
    this.#random = random
    this.#meanMs = 1000 / capacity
    this.#exponential = service === 'exponential'
    this.#queueLimit = queueLimit
    this.#dropAbandoned = dropAbandoned === true
  }

  /** Requests waiting or being served. */
  get queueLength(): number {
    return this.#queue.length - this.#head + (this.#current === undefined ? 0 : 1)
  }

  /** The share of full speed the server runs at now: 1 unless a trigger cut it. */
  get speed(): number {
    return this.#speed
  }

  /** Counters since the server started (a copy). */
  totals(): SimServerTotals {
    return { ...this.#totals }
  }

  /** Takes a request: served at once if the server is idle, else queued (or refused if full). */
  submit(job: ServerJob): void {
    if (this.#current === undefined) {
      this.#start(job)
      return
    }
    if (this.#queue.length - this.#head >= this.#queueLimit) {
      this.#totals.refused++
      job.finish(503)
      return
    }
    this.#queue.push(job)
  }

  /** Runs at `speed` (0 to 1) of full speed from now on, stretching the request being served. */
  setSpeed(speed: number): void {
    if (typeof speed !== 'number' || !(speed >= 0 && speed <= 1)) {
      throw new InvalidOptionError('speed', speed, 'a number from 0 to 1')
    }
    if (this.#current !== undefined) {
      const now = this.#clock.now()
      this.#remaining -= (now - this.#since) * this.#speed
      this.#since = now
      this.#speed = speed
      this.#schedule()
    } else {
      this.#speed = speed
    }
  }

  #start(job: ServerJob): void {
    this.#current = job
    this.#since = this.#clock.now()
    this.#remaining = this.#exponential
      ? -Math.log(1 - this.#random()) * this.#meanMs
      : this.#meanMs
    this.#schedule()
  }

  #schedule(): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer)
    this.#timer =
      this.#speed > 0
        ? this.#clock.setTimer(this.#complete, Math.max(0, this.#remaining) / this.#speed)
        : undefined
  }

  readonly #complete = (): void => {
    this.#timer = undefined
    const job = this.#current as ServerJob
    this.#current = undefined
    if (job.abandoned) this.#totals.wasted++
    else this.#totals.served++
    const next = this.#next()
    if (next !== undefined) this.#start(next)
    job.finish(200)
  }

  #next(): ServerJob | undefined {
    const queue = this.#queue
    while (this.#head < queue.length) {
      const job = queue[this.#head] as ServerJob
      queue[this.#head++] = undefined
      if (this.#dropAbandoned && job.abandoned) {
        this.#totals.dropped++
        continue
      }
      this.#compact()
      return job
    }
    this.#compact()
    return undefined
  }

  // Drop the consumed front once it is most of the array, so the array stays O(queue length).
  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head)
      this.#head = 0
    }
  }
}
