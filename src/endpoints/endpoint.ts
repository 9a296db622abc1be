import type { AttemptEndpoint } from '../core/attempt-keys.ts'
import { PeakEwma } from './peak-ewma.ts'

/**
 * Finagle's penalty for an address with no latency known yet and an attempt in flight: it is
 * chosen last until that attempt answers, so a new address gets one probe at a time, not a rush.
 */
const UNMEASURED_PENALTY = 1e9

/** What `client.stats()` shows of one address. */
export interface EndpointStats {
  /** The IP address. */
  address: string
  /** The peak-EWMA latency estimate now, in ms; 0 before the first answer. */
  latency: number
  /** Attempts in flight to it now (until their response headers). */
  inFlight: number
  /** Attempts sent to it, and how many of them failed (see `docs/endpoints.md`). */
  attempts: number
  failures: number
  /** Whether it is ejected now, and until when (the client's clock, in ms). */
  ejected: boolean
  ejectedUntil: number | undefined
  /** Times it was ejected. */
  ejections: number
  /** True once it vanished from the hostname's addresses: it gets no new attempts. */
  draining: boolean
}

/**
 * One address of an origin and what the balancer knows of it. The counters are plain fields the
 * endpoint set and the outlier rules update; the choice reads {@link Endpoint.cost}.
 */
export class Endpoint implements AttemptEndpoint {
  readonly address: string
  /** `scheme://address:port`, where attempts to it are dispatched. */
  readonly origin: string
  /** The origin's `host[:port]`, sent as the Host header. */
  readonly host: string
  /** The origin's hostname, for TLS (SNI and the certificate's name). */
  readonly servername: string
  readonly latency: PeakEwma
  inFlight = 0
  /** Attempts in a row that failed without an answer (timeouts, resets). */
  unanswered = 0
  /** When each attempt in flight started, oldest first. */
  readonly pendingStarts: number[] = []
  attempts = 0
  failures = 0
  consecutiveFailures = 0
  /** Attempts and failures in the current outlier-detection interval. */
  intervalAttempts = 0
  intervalFailures = 0
  /** Ejected while `now < ejectedUntil`; the end of the last ejection afterwards. */
  ejectedUntil = -Infinity
  /** Ejected and not yet readmitted (readmission is noticed at the next choice). */
  out = false
  /** Ejections so far, less one per interval spent healthy: the next ejection's multiplier. */
  multiplier = 0
  ejections = 0
  /** Gone from the hostname's addresses: finishes what it has in flight and is then dropped. */
  draining = false

  constructor(address: string, origin: URL, decay: number, now: number) {
    this.address = address
    const ip = address.includes(':') ? `[${address}]` : address
    this.origin = `${origin.protocol}//${ip}${origin.port === '' ? '' : `:${origin.port}`}`
    this.host = origin.host
    this.servername = origin.hostname
    this.latency = new PeakEwma(decay, now)
  }

  /** Whether it is ejected at `now`. */
  ejected(now: number): boolean {
    return now < this.ejectedUntil
  }

  /**
   * Finagle's peak-EWMA cost of sending it one more attempt: the latency estimate times the
   * attempts in flight plus this one. An address never measured costs nothing while idle and the
   * penalty while its first attempt runs.
   */
  cost(now: number): number {
    const latency = this.latency.value(now)
    const starts = this.pendingStarts
    // The oldest attempt still out has taken at least its age: an address that stopped
    // answering looks slow while it is out, before any answer (or timeout) says so.
    const age = starts.length === 0 ? 0 : now - (starts[0] as number)
    const estimate = age > latency ? age : latency
    if (estimate === 0 && this.inFlight > 0) return UNMEASURED_PENALTY + this.inFlight
    return estimate * (this.inFlight + 1)
  }

  stats(now: number): EndpointStats {
    const ejected = this.ejected(now)
    return {
      address: this.address,
      latency: this.latency.value(now),
      inFlight: this.inFlight,
      attempts: this.attempts,
      failures: this.failures,
      ejected,
      ejectedUntil: ejected ? this.ejectedUntil : undefined,
      ejections: this.ejections,
      draining: this.draining,
    }
  }
}
