import type { Socket } from 'node:net'
import undiciSymbols from 'undici/lib/core/symbols.js'

/**
 * What undici keeps on a connection's socket, read by the connection layer. Internals: each
 * reader copes with a symbol that is missing (a future undici) by doing nothing.
 */
const symbols = undiciSymbols as Record<string, symbol | undefined>
const kClient = symbols.kClient
const kSize = symbols.kSize
// A private symbol of undici's client-h1.js, set when an HTTP/1.1 socket goes idle; found by
// its name on the first socket that has it.
let kIdleSince: symbol | undefined

type Client = Record<symbol, unknown>

/** The undici Client a socket belongs to; set once undici has taken the socket. */
export function clientOf(socket: Socket): Client | undefined {
  if (kClient === undefined) return undefined
  return (socket as unknown as Record<symbol, Client | undefined>)[kClient]
}

/** Whether the socket's Client has no request on the wire or queued (`false` when unknown). */
export function isIdle(socket: Socket): boolean {
  const client = clientOf(socket)
  return client !== undefined && kSize !== undefined && client[kSize] === 0
}

/**
 * When the socket last went idle (`performance.now()` ms, undici's clock); `undefined` if it never
 * did (a new connection), or over HTTP/2.
 */
export function idleSince(socket: Socket): number | undefined {
  kIdleSince ??= Object.getOwnPropertySymbols(socket).find((s) => s.description === 'kIdleSince')
  if (kIdleSince === undefined) return undefined
  return (socket as unknown as Record<symbol, number | undefined>)[kIdleSince]
}
