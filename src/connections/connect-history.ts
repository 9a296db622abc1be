/**
 * What a racing connector remembers of one origin's recent connects: how long each took, and
 * whether it needed a race. From these it learns the connection attempt delay (how long to wait on
 * a connect before racing it) and whether racing is still for a lost packet or has become load.
 * Pure: nothing here reads a clock.
 */
export class ConnectHistory {
  // The last WINDOW connect times (ms) and race flags, as rings: a fixed size whatever the rate.
  readonly #times = new Float64Array(WINDOW)
  #timeCount = 0
  #nextTime = 0
  readonly #raced = new Uint8Array(WINDOW)
  #count = 0
  #next = 0
  #racedCount = 0

  /**
   * Records a connect that finished: `ms` from the start of the attempt that won to its end (so a
   * lost SYN's wait does not inflate the delay), `undefined` when every attempt failed; and
   * whether more than one attempt was made.
   */
  record(ms: number | undefined, raced: boolean): void {
    if (ms !== undefined) {
      this.#times[this.#nextTime] = ms
      this.#nextTime = (this.#nextTime + 1) % WINDOW
      if (this.#timeCount < WINDOW) this.#timeCount++
    }
    if (this.#count === WINDOW) this.#racedCount -= this.#raced[this.#next]!
    else this.#count++
    this.#raced[this.#next] = raced ? 1 : 0
    if (raced) this.#racedCount++
    this.#next = (this.#next + 1) % WINDOW
  }

  /**
   * How long to wait on a pending connect before racing another, in ms: twice the p90 of recent
   * connect times within [`floor`, `ceiling`], or `initial` until `DELAY_SAMPLES` connects are
   * known (RFC 8305's connection attempt delay, learned per origin as its section 5 allows). Over
   * fewer than ten connects the p90 is the slowest of them, a cautious start.
   */
  delay(initial: number, floor: number, ceiling: number): number {
    if (this.#timeCount < DELAY_SAMPLES) return initial
    const sorted = this.#times.slice(0, this.#timeCount).sort()
    const p90 = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.9) - 1)]!
    return Math.min(ceiling, Math.max(floor, 2 * p90))
  }

  /**
   * Whether another SYN may be raced to an address already being tried: not while `maxShare` or
   * more of recent connects needed a race. A lost packet is rare; a listener whose SYN queue
   * overflows under load drops many, and more SYNs would only deepen its trouble.
   */
  mayRace(maxShare: number): boolean {
    return this.#count < MIN_SAMPLES || this.#racedCount < maxShare * this.#count
  }

  /** The share of recent connects that were raced (0 when none are known). */
  racedShare(): number {
    return this.#count === 0 ? 0 : this.#racedCount / this.#count
  }
}

/** How many recent connects an origin's history keeps. */
export const WINDOW = 64
/**
 * Connects known before the delay is learned rather than the initial one. Few: each connect
 * while the initial 250 ms holds can cost a lost SYN 250 ms, and twice the slowest of three
 * connects is already a safe bound on a network where connect times do not spread tenfold.
 */
export const DELAY_SAMPLES = 3
/** Connects known before the share of races can stop one (fewer say too little about it). */
export const MIN_SAMPLES = 8
