// What a layer may tell the transport about one attempt. These are core's keys because the
// transport reads them; the policies that set them (endpoints, hedging, the rate limit) own their
// other per-call data in their own folders.
import type { AttemptRecord } from './attempt-record.ts'
import { CallKey } from './call-key.ts'
import type { CallRequest } from './middleware.ts'

/** One address of an origin, as an attempt is sent to it (the `endpoints` option). */
export interface AttemptEndpoint {
  /** The IP address. */
  readonly address: string
  /** `scheme://address:port`: where the attempt is dispatched. */
  readonly origin: string
  /** The origin's `host[:port]`, sent as the Host header. */
  readonly host: string
  /** The origin's hostname: the TLS server name (SNI) and the name the certificate must carry. */
  readonly servername: string
}

/**
 * Where an attempt connects, when a layer chose one of the origin's addresses (the `endpoints`
 * option): the transport dispatches to `endpoint.origin`, sends `host` as the Host header and
 * `servername` for TLS, and records `address`. Unset: the dispatcher resolves the origin itself.
 */
export const ATTEMPT_ENDPOINT = new CallKey<AttemptEndpoint>('attemptEndpoint')

/** Fills in fields of an attempt's record that a layer above the transport knows. */
export type AttemptNote = (record: AttemptRecord) => void

/**
 * Called with each attempt's record as the transport starts it, before it is published: how a
 * layer that acted before the attempt existed (a hedge, a rate-limit wait) marks the record.
 * Set it with {@link noteAttempt}, which keeps the notes of the layers above.
 */
export const ATTEMPT_NOTE = new CallKey<AttemptNote>('attemptNote')

/** A copy of `request` whose attempts get `note`, after any note a layer above added. */
export function noteAttempt<R extends CallRequest>(request: R, note: AttemptNote): R {
  const before = ATTEMPT_NOTE.get(request)
  return ATTEMPT_NOTE.with(
    request,
    before === undefined
      ? note
      : (record) => {
          before(record)
          note(record)
        },
  )
}
