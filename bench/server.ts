// The benchmark's origin, run in its own process (and on its own core when taskset exists) so
// the client's cost is what gets measured. Prints its port on the first line of stdout.
//   /tiny  12-byte body, answered at once
//   /big   64 KiB body after a 1 ms delay (undici's own benchmark workload)
//   /mix   the /tiny answer, except that 1 request in 20 gets a 503 and 1 in 20 has its
//          connection reset before any response (a fixed pattern, the same for every client)
//   /stall never answered: the request is held open until the client gives up
//   /stalled  how many /stall requests are being held, as a decimal number
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

const tiny = Buffer.from('hello world!')
const big = Buffer.alloc(64 * 1024, 'x')

let mixed = 0
let stalled = 0

const server = createServer((req, res) => {
  if (req.url === '/stall') {
    stalled++
    req.socket.once('close', () => stalled--)
    return
  }
  if (req.url === '/stalled') {
    res.end(String(stalled))
    return
  }
  if (req.url === '/mix') {
    const turn = mixed++ % 20
    if (turn === 7) {
      res.writeHead(503, { 'content-length': 0 })
      res.end()
      return
    }
    if (turn === 13) {
      req.socket.destroy()
      return
    }
  } else if (req.url === '/big') {
    setTimeout(() => {
      res.writeHead(200, {
        'content-length': big.length,
        'content-type': 'application/octet-stream',
      })
      res.end(big)
    }, 1)
    return
  }
  res.writeHead(200, { 'content-length': tiny.length, 'content-type': 'text/plain' })
  res.end(tiny)
})
server.keepAliveTimeout = 600_000
// Held requests are held: no timeout of the server's ends them.
server.requestTimeout = 0
server.headersTimeout = 0
server.maxConnections = 100_000
server.listen(0, '127.0.0.1', () => {
  console.log((server.address() as AddressInfo).port)
})
// Dies with its parent: stdin closes when the benchmark exits, however it exits.
process.stdin.resume()
process.stdin.on('end', () => process.exit(0))
