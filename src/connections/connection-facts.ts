import type { Socket } from 'node:net'
import type { buildConnector } from 'undici'
import type { AttemptConnect } from '../core/attempt-record.ts'

/**
 * What the client knows of a connection it opened, kept on the socket until its first request
 * goes out: then it becomes that attempt's `connect` record, as it is.
 */
export interface ConnectionFacts {
  /** Time the connect took, in ms (name resolution, TCP, TLS, races). */
  ms: number
  /** A second attempt went out for this connect (`agent.race`). */
  raced: boolean
  /**
   * IP version: from the racer, which knows the address it connected to, or read from the
   * socket when the first request goes out (0 until then). Reading it makes Node keep the peer's
   * address on the socket (56 B a connection), hence the racer's.
   */
  family: 0 | 4 | 6
  /** Opened ahead of traffic by `client.warm`. */
  warm: boolean
}

const kFacts = Symbol('netiquette.connectionFacts')

/**
 * What a connection keeps once its first request went out: one object shared by all of them, so
 * a connection holds no facts of its own past its first request (56 B a connection).
 */
const REUSED: Readonly<ConnectionFacts> = Object.freeze({
  ms: 0,
  raced: false,
  family: 4,
  warm: false,
})

type Tagged = Socket & { [kFacts]?: ConnectionFacts }

/** The socket's facts, made on first use (by whichever connector in the chain sees it first). */
export function connectionFacts(socket: Socket): ConnectionFacts {
  const tagged = socket as Tagged
  const facts = (tagged[kFacts] ??= { ms: 0, raced: false, family: 0, warm: false })
  // Used already: nothing is learnt of its connect any more (a fresh object, kept nowhere).
  return facts === REUSED ? { ...REUSED } : facts
}

/**
 * A request goes out on `socket`: its connect's record if it is the connection's first request,
 * `'reused'` if it is a later one, `undefined` if the client did not open the connection.
 */
export function takeConnect(socket: Socket): AttemptConnect | 'reused' | undefined {
  const tagged = socket as Tagged
  const facts = tagged[kFacts]
  if (facts === undefined) return undefined
  if (facts === REUSED) return 'reused'
  tagged[kFacts] = REUSED as ConnectionFacts
  if (facts.family === 0) facts.family = socket.remoteFamily === 'IPv6' ? 6 : 4
  return facts as AttemptConnect
}

/**
 * `connector`, timing each connect it makes and keeping the time on the socket. What undici may
 * cancel the connect through (see pending-connect.ts) is passed on.
 */
export function timedConnector(
  connector: buildConnector.connector,
  now: () => number = performance.now.bind(performance),
): buildConnector.connector {
  return (options, callback) => {
    const start = now()
    return connector(options, (error, socket) => {
      if (error === null && socket !== null) connectionFacts(socket as Socket).ms = now() - start
      ;(callback as (error: Error | null, socket: Socket | null) => void)(error, socket as Socket)
    })
  }
}
