import type { AttemptConnect } from './attempt-record.ts'

/**
 * The method through which the connection layer tells an attempt's handler which connection its
 * request went out on, as undici writes it: `reused` when the connection had carried an earlier
 * request, `connect` on the first request of a connection the client opened. Core's key, because
 * the transport's handler implements it; the connection layer (`src/connections`) calls it.
 */
export const kConnectionSeen: unique symbol = Symbol('netiquette.connectionSeen')

/** The signature of a handler's {@link kConnectionSeen} method. */
export type ConnectionSeen = (reused: boolean, connect: AttemptConnect | undefined) => void
