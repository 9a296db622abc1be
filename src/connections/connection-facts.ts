import type { Socket } from 'node:net'
import type { buildConnector } from 'undici'
import type { AttemptConnect } from '../core/attempt-record.ts'

/** What the client knows of a connection it opened, kept on the socket. */
export interface ConnectionFacts {
  /** Time the connect took, in ms (name resolution, TCP, TLS, races). */
  ms: number
  /** A second attempt went out for this connect (`agent.race`). */
  raced: boolean
  /** Opened ahead of traffic by `client.warm`. */
  warm: boolean
  /** Requests (HTTP/2: streams) written on it so far. */
  requests: number
}

const kFacts = Symbol('netiquette.connectionFacts')

type Tagged = Socket & { [kFacts]?: ConnectionFacts }

/** The facts of a connection the client opened; `undefined` for any other socket. */
export function factsOf(socket: Socket): ConnectionFacts | undefined {
  return (socket as Tagged)[kFacts]
}

/** The socket's facts, made on first use (by whichever connector in the chain sees it first). */
export function connectionFacts(socket: Socket): ConnectionFacts {
  const tagged = socket as Tagged
  return (tagged[kFacts] ??= { ms: 0, raced: false, warm: false, requests: 0 })
}

/** The record of the connect, for the attempt whose request was the first on the connection. */
export function attemptConnect(socket: Socket, facts: ConnectionFacts): AttemptConnect {
  return {
    ms: facts.ms,
    raced: facts.raced,
    family: socket.remoteFamily === 'IPv6' ? 6 : 4,
    warm: facts.warm,
  }
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
