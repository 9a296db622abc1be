import { createServer, type AddressInfo, type Socket } from 'node:net'

/** A loopback TCP server that answers each request with bytes a test writes by hand. */
export interface RawServer {
  /** `http://127.0.0.1:PORT` */
  url: string
  /** Connections accepted so far. */
  readonly connections: number
  /** Connections open now. */
  readonly open: number
  /** Requests seen (one per chunk of request head that arrived). */
  readonly requests: number
  close(): Promise<void>
}

/**
 * What to do with a connection once a request head has arrived on it: write bytes (a string is
 * sent as latin1) and optionally end or destroy the socket, or anything else with the socket.
 */
export type RawResponder = (socket: Socket, request: string, index: number) => void

/**
 * Starts a server that hands every request to `respond`. It never parses HTTP beyond waiting for
 * the end of a request head (`\r\n\r\n`), so a test controls every byte of the response:
 * duplicate Content-Length, bare CR, garbage, a stall. `close()` destroys every socket.
 */
export async function createRawServer(respond: RawResponder): Promise<RawServer> {
  const sockets = new Set<Socket>()
  const state = { connections: 0, requests: 0 }
  const server = createServer((socket) => {
    state.connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let head = ''
    socket.on('data', (data) => {
      head += data.toString('latin1')
      // Requests carry no body in these tests, so each head ends a request.
      while (head.includes('\r\n\r\n')) {
        const end = head.indexOf('\r\n\r\n') + 4
        const request = head.slice(0, end)
        head = head.slice(end)
        respond(socket, request, state.requests++)
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    get connections() {
      return state.connections
    },
    get open() {
      return sockets.size
    },
    get requests() {
      return state.requests
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

/** A responder that writes `bytes` and leaves the socket open (the client decides). */
export function writes(bytes: string | Uint8Array): RawResponder {
  return (socket) => {
    socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes)
  }
}
