// The benchmark's origin, run in its own process (and on its own core when taskset exists) so
// the client's cost is what gets measured. Prints its port on the first line of stdout.
//   /tiny  12-byte body, answered at once
//   /big   64 KiB body after a 1 ms delay (undici's own benchmark workload)
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

const tiny = Buffer.from('hello world!')
const big = Buffer.alloc(64 * 1024, 'x')

const server = createServer((req, res) => {
  if (req.url === '/big') {
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
server.listen(0, '127.0.0.1', () => {
  console.log((server.address() as AddressInfo).port)
})
// Dies with its parent: stdin closes when the benchmark exits, however it exits.
process.stdin.resume()
process.stdin.on('end', () => process.exit(0))
