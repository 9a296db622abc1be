// Decompressed responses, as docs/migrating.md recommends: undici's decompress interceptor below
// the stack, with an output cap. Without `maxSize` a few KiB of gzip inflate to as much memory as
// the server likes (a 128 KiB body delivered 32 MiB); with it, the call fails once the cap is
// passed. Run it with `node examples/decompression.ts` after `npm run build`.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gzipSync } from 'node:zlib'
import { Agent, interceptors, type Dispatcher } from 'undici'
import { createClient } from 'netiquette'

/**
 * An undici dispatcher that decompresses gzip, deflate, br and zstd responses and fails any body
 * that inflates past `maxSize` bytes: the recipe of docs/migrating.md. Give it to
 * `createClient({ dispatcher })`; the client leaves a dispatcher it was given open, so close it too.
 */
export function decompressingDispatcher(maxSize = 8 * 1024 * 1024): Dispatcher {
  return new Agent().compose(interceptors.decompress({ maxSize }))
}

/** Runs the example, writing what happens through `log`. Returns the lines it logged. */
export async function main(log: (line: string) => void = console.log): Promise<string[]> {
  const lines: string[] = []
  const say = (line: string) => {
    lines.push(line)
    log(line)
  }
  // 32 MiB of zeros compress to about 32 KiB: a small bomb.
  const bomb = gzipSync(Buffer.alloc(32 * 1024 * 1024))
  const page = gzipSync('{"widgets":3}')
  const server = createServer((request, response) => {
    response.writeHead(200, { 'content-encoding': 'gzip' })
    response.end(request.url === '/bomb' ? bomb : page)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const dispatcher = decompressingDispatcher()
  const client = createClient({
    headers: { 'accept-encoding': 'gzip, deflate, br, zstd' },
    dispatcher,
  })
  try {
    const ok = await client.request(`${url}/page`)
    say(`/page: ${await ok.body.text()}`)
    say(`/bomb is ${bomb.length} bytes of gzip`)
    const response = await client.request(`${url}/bomb`)
    try {
      const body = await response.body.arrayBuffer()
      say(`/bomb: read ${body.byteLength} bytes`)
    } catch (error) {
      say(`/bomb: refused: ${(error as Error).message}`)
    }
  } finally {
    await client.close()
    await dispatcher.close()
    server.close()
  }
  return lines
}

if (import.meta.main) await main()
