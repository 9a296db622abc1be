import diagnosticsChannel from 'node:diagnostics_channel'
import type { AttemptRecord } from './attempt.ts'

/**
 * `node:diagnostics_channel` channels netiquette publishes on. Subscribing costs the subscriber
 * only: every publish is guarded by `hasSubscribers`, and payloads are built only then.
 *
 * @example
 * ```ts
 * import diagnosticsChannel from 'node:diagnostics_channel'
 * diagnosticsChannel.subscribe('netiquette:attempt:end', (msg) => {
 *   const { attempt } = msg as AttemptEndMessage
 *   console.log(attempt.number, attempt.statusCode ?? attempt.error)
 * })
 * ```
 */
export const channels = {
  /** A call started: {@link CallStartMessage}. */
  callStart: diagnosticsChannel.channel('netiquette:call:start'),
  /** A call settled (response handed over, or error thrown): {@link CallEndMessage}. */
  callEnd: diagnosticsChannel.channel('netiquette:call:end'),
  /** An attempt is about to be dispatched to undici: {@link AttemptStartMessage}. */
  attemptStart: diagnosticsChannel.channel('netiquette:attempt:start'),
  /** An attempt got its headers or failed: {@link AttemptEndMessage}. */
  attemptEnd: diagnosticsChannel.channel('netiquette:attempt:end'),
} as const

/** Payload of `netiquette:call:start`. */
export interface CallStartMessage {
  method: string
  origin: string
  path: string
}

/** Payload of `netiquette:call:end`. */
export interface CallEndMessage {
  method: string
  origin: string
  path: string
  /** Call duration until the response was handed over or the error thrown, in ms. */
  duration: number
  attempts: readonly AttemptRecord[]
  statusCode?: number
  error?: unknown
}

/** Payload of `netiquette:attempt:start`. */
export interface AttemptStartMessage {
  attempt: AttemptRecord
}

/** Payload of `netiquette:attempt:end`. */
export interface AttemptEndMessage {
  attempt: AttemptRecord
  error?: unknown
}
