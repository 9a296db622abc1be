import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A loopback server that streams `total` bytes and tells whether it is held back by its client. */
export interface BlockingServer {
  url: string
  total: number
  /** Bytes handed to the socket so far. */
  readonly written: number
  /** True while a write is waiting for 'drain': the client is not reading. */
  readonly blocked: boolean
  close(): Promise<void>
}

/**
 * Writes 64 KiB chunks, waiting for 'drain' whenever the socket's buffer is full, as a
 * well-behaved server does; so how much it has written shows whether the client applies
 * backpressure.
 */
export async function createBlockingServer(total: number): Promise<BlockingServer> {
  const state = { written: 0, blocked: false }
  const chunk = Buffer.alloc(64 * 1024, 'x')
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': total })
    const pump = (): void => {
      state.blocked = false
      while (state.written < total) {
        const piece = chunk.subarray(0, Math.min(chunk.length, total - state.written))
        state.written += piece.length
        if (!res.write(piece)) {
          state.blocked = true
          res.once('drain', pump)
          return
        }
      }
      res.end()
    }
    pump()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/`,
    total,
    get written() {
      return state.written
    },
    get blocked() {
      return state.blocked
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
