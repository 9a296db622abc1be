import { Dispatcher } from 'undici'
import type { Random } from '../../src/index.ts'
import type { ServerJob, SimServer } from './sim-server.ts'

/** How a `SimDispatcher` spreads attempts over several servers. */
export type Balancer = 'round-robin' | 'random' | 'shortest-queue'

const OK_HEADERS = Object.freeze({ 'content-length': '0' })
const REFUSED_HEADERS = Object.freeze({ 'content-length': '0' })

/**
 * An undici dispatcher whose network is the simulation: each dispatch is one attempt, handed to
 * a server through the balancer, answered through undici's handler API when the server has served
 * it. The whole client stack above it is the library's own code, on the simulation's clock.
 * Aborting an attempt (a timeout, a hedge lost, a caller gone) answers the client at once, while
 * the server, which is not told, still does the work.
 */
export class SimDispatcher extends Dispatcher {
  readonly #servers: readonly SimServer[]
  readonly #balancer: Balancer
  readonly #random: Random
  #next = 0
  /** Attempts sent to the servers since the start. */
  sent = 0

  constructor(servers: readonly SimServer[], balancer: Balancer, random: Random) {
    super()
    this.#servers = servers
    this.#balancer = balancer
    this.#random = random
  }

  override dispatch(
    _options: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
  ): boolean {
    const attempt = new SimAttempt(handler)
    handler.onRequestStart?.(attempt, {})
    // Aborted before a byte went out (the transport saw its call cancelled): nothing is sent.
    if (attempt.aborted) return true
    this.sent++
    this.#pick().submit(attempt.job)
    return true
  }

  #pick(): SimServer {
    const servers = this.#servers
    if (servers.length === 1) return servers[0] as SimServer
    if (this.#balancer === 'random') {
      return servers[Math.floor(this.#random() * servers.length)] as SimServer
    }
    if (this.#balancer === 'shortest-queue') {
      let best = servers[0] as SimServer
      for (const server of servers) if (server.queueLength < best.queueLength) best = server
      return best
    }
    const server = servers[this.#next] as SimServer
    this.#next = (this.#next + 1) % servers.length
    return server
  }

  override close(): Promise<void> {
    return Promise.resolve()
  }

  override destroy(): Promise<void> {
    return Promise.resolve()
  }
}

/**
 * What the server queues for one attempt. Small on purpose: a stuck server holds hundreds of
 * thousands of these, and once the client has gone it must not keep the client's objects alive.
 */
class SimJob implements ServerJob {
  attempt: SimAttempt | undefined

  constructor(attempt: SimAttempt) {
    this.attempt = attempt
  }

  get abandoned(): boolean {
    return this.attempt === undefined
  }

  finish(status: number): void {
    const attempt = this.attempt
    if (attempt === undefined) return
    this.attempt = undefined
    attempt.answer(status)
  }
}

/** One attempt as the client's dispatch controller. */
class SimAttempt implements Dispatcher.DispatchController {
  // Dropped once the attempt is over, so that nothing of the client outlives it.
  #handler: Dispatcher.DispatchHandler | undefined
  readonly job: SimJob = new SimJob(this)
  aborted = false
  paused = false
  reason: Error | null = null

  constructor(handler: Dispatcher.DispatchHandler) {
    this.#handler = handler
  }

  answer(status: number): void {
    const handler = this.#handler
    if (handler === undefined) return
    this.#handler = undefined
    handler.onResponseStart?.(
      this,
      status,
      status === 200 ? OK_HEADERS : REFUSED_HEADERS,
      status === 200 ? 'OK' : 'Service Unavailable',
    )
    handler.onResponseEnd?.(this, {})
  }

  abort(reason: Error): void {
    const handler = this.#handler
    if (handler === undefined) return
    this.#handler = undefined
    this.job.attempt = undefined
    this.aborted = true
    this.reason = reason
    handler.onResponseError?.(this, reason)
  }

  pause(): void {
    this.paused = true
  }

  resume(): void {
    this.paused = false
  }
}
