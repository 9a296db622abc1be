import diagnosticsChannel from 'node:diagnostics_channel'
import type { Socket } from 'node:net'
import { kConnectionSeen, type ConnectionSeen } from '../core/connection-seen.ts'
import { takeConnect } from './connection-facts.ts'

/**
 * Tells each attempt which connection its request went out on. undici hands a request's handler
 * no socket; its `undici:client:sendHeaders` channel names both, as it writes the request (HTTP/1.1
 * and HTTP/2). The handler is found on undici's request under a private symbol, by its name (as
 * `undici-socket.ts` reads undici's other internals): a future undici without it leaves records
 * without `connect`, and nothing else changes.
 *
 * One subscriber for the process, held while any client's default agent is open: returns the
 * function that lets go of it.
 */
export function followRequestSockets(): () => void {
  if (holders++ === 0) channel.subscribe(onSendHeaders)
  let held = true
  return () => {
    if (!held) return
    held = false
    if (--holders === 0) channel.unsubscribe(onSendHeaders)
  }
}

const channel = diagnosticsChannel.channel('undici:client:sendHeaders')
let holders = 0
let kHandler: symbol | undefined

function onSendHeaders(message: unknown): void {
  const { request, socket } = message as { request: object; socket: Socket | undefined }
  const connect = socket === undefined ? undefined : takeConnect(socket)
  // Not a connection of a client's own agent.
  if (connect === undefined) return
  kHandler ??= Object.getOwnPropertySymbols(request).find((s) => s.description === 'handler')
  if (kHandler === undefined) return
  const handler = (request as Record<symbol, { [kConnectionSeen]?: ConnectionSeen } | undefined>)[
    kHandler
  ]
  if (connect === 'reused') handler?.[kConnectionSeen]?.(true, undefined)
  else handler?.[kConnectionSeen]?.(false, connect)
}
