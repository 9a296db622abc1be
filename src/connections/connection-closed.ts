import type { Socket } from 'node:net'
import undiciSymbols from 'undici/lib/core/symbols.js'

/** What a part of the connection layer does when one of its connections closes. */
export type ClosedPart = (socket: Socket) => void

const parts: ClosedPart[] = []
const kHeard = Symbol('netiquette.closeHeard')
// Where undici lists the listeners it added to a socket; emptied when it lets the socket go (an
// upgrade hands it to the caller).
const kListeners = (undiciSymbols as Record<string, symbol | undefined>).kListeners
// undici's own 'close' listener of an HTTP/1.1 connection (client-h1.js), found by its name on
// the first connection that has it: the same function for every connection.
let undiciClose: ((this: Socket, ...args: unknown[]) => void) | undefined

type HeardSocket = Socket & { [kHeard]?: true }

/**
 * Registers `part`, once, when its module loads: it runs for every connection handed to
 * {@link hearClose}, and finds its own state on the socket (a part with none does nothing).
 */
export function onConnectionClosed(part: ClosedPart): void {
  parts.push(part)
}

/**
 * One `'close'` listener per connection for the whole connection layer, run ahead of undici's
 * own. Call it once undici has set the connection up; later calls do nothing.
 *
 * Why one, and in undici's place: an HTTP/1.1 socket has two `'close'` listeners already (the
 * socket's own and undici's), and a third grows Node's listener array from two slots to twenty,
 * about 150 B a connection. The keep-alive watch and the cap, listening each on their own on
 * `'close'`, `'end'` and `'error'`, cost 630 B a connection in listener arrays
 * (`bench/memory.ts`; a heap snapshot's arrays). So this listener takes the place of undici's and
 * calls it: the array stays at two.
 *
 * Why ahead: undici fails the request on the wire from that listener, with the error it kept on
 * the socket; the keep-alive watch marks the error first.
 */
export function hearClose(socket: Socket): void {
  const heard = socket as HeardSocket
  if (heard[kHeard] === true) return
  heard[kHeard] = true
  socket.prependListener('close', tookUndiciClose(socket) ? closedThenUndici : closed)
}

/** Takes undici's 'close' listener off `socket`, for `closedThenUndici` to call; false if absent. */
function tookUndiciClose(socket: Socket): boolean {
  if (kListeners === undefined) return false
  const listeners = socket.rawListeners('close')
  const found =
    undiciClose === undefined
      ? listeners.find((listener) => listener.name === 'onHttpSocketClose')
      : listeners.includes(undiciClose)
        ? undiciClose
        : undefined
  if (found === undefined) return false
  undiciClose = found as typeof undiciClose
  socket.removeListener('close', found as (...args: unknown[]) => void)
  return true
}

function closed(this: Socket): void {
  for (let i = 0; i < parts.length; i++) (parts[i] as ClosedPart)(this)
}

function closedThenUndici(this: Socket, ...args: unknown[]): void {
  try {
    closed.call(this)
  } finally {
    // Unless undici let the socket go (it would have removed its listener itself).
    if ((this as unknown as Record<symbol, unknown>)[kListeners!] != null) {
      undiciClose!.apply(this, args)
    }
  }
}
