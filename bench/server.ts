// The benchmark's origin, run in its own process (and on its own core when taskset exists) so
// the client's cost is what gets measured. Prints its port on the first line of stdout.
//   /tiny  12-byte body, answered at once
//   /big   64 KiB body after a 1 ms delay (undici's own benchmark workload)
//   /mix   the /tiny answer, except that 1 request in 20 gets a 503 and 1 in 20 has its
//          connection reset before any response (a fixed pattern, the same for every client)
//   /stall never answered: the request is held open until the client gives up
//   /stalled  how many /stall requests are being held, as a decimal number
//   --h2   serve over HTTP/2 and TLS (a generated certificate, printed base64 on the second line)
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createSecureServer } from 'node:http2'
import type { AddressInfo } from 'node:net'
import { testCertificate } from '../src/testing/test-certificate.ts'

const tiny = Buffer.from('hello world!')
const big = Buffer.alloc(64 * 1024, 'x')

let mixed = 0
let stalled = 0

function handle(req: IncomingMessage, res: ServerResponse): void {
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
}

const h2 = process.argv.includes('--h2')
const certificate = h2 ? await testCertificate() : undefined
const server =
  certificate === undefined
    ? createServer(handle)
    : (createSecureServer(
        { key: certificate.key, cert: certificate.cert },
        handle as never,
      ) as unknown as ReturnType<typeof createServer>)
server.keepAliveTimeout = 600_000
// Held requests are held: no timeout of the server's ends them.
server.requestTimeout = 0
server.headersTimeout = 0
server.maxConnections = 100_000
server.listen(0, '127.0.0.1', () => {
  const port = (server.address() as AddressInfo).port
  if (certificate === undefined) console.log(port)
  else console.log(`${port}\n${Buffer.from(certificate.cert).toString('base64')}`)
})
// Dies with its parent: stdin closes when the benchmark exits, however it exits.
process.stdin.resume()
process.stdin.on('end', () => process.exit(0))
