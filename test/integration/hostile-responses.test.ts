// faults.md items 31, 34 and 36: responses a hostile or broken server writes byte by byte, through
// every face. Each must end in a typed error (or, for extra bytes, a clean response), never a
// crash, with the connection closed and nothing retried after a parse error.
import { afterEach, describe, expect, it } from 'vitest'
import { request as undiciRequest } from 'undici'
import { createClient, type AttemptRecord, type Client } from '../../src/index.ts'
import { createRawServer, type RawServer } from '../support/raw-server.ts'
import { eventually } from './helpers.ts'

const HOSTILE: Record<string, string> = {
  'conflicting Content-Length':
    'HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!',
  'duplicate Content-Length':
    'HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 5\r\n\r\nhello',
  'Content-Length with Transfer-Encoding':
    'HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  'a bad chunk size':
    'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n',
  'a truncated chunked body': 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel',
  'a body shorter than its Content-Length': 'HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf',
  'a bare CR in a header': 'HTTP/1.1 200 OK\r\nx-a: a\rb\r\ncontent-length: 2\r\n\r\nhi',
  'an invalid status line': 'HTTP/1.1 2x0 OK\r\ncontent-length: 2\r\n\r\nhi',
  'HTTP/0.9 junk': 'hello world, no status line here\r\n\r\n',
  'headers over maxHeaderSize': `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(70_000)}\r\ncontent-length: 2\r\n\r\nhi`,
}

type Face = 'request' | 'fetch' | 'dispatcher'
const FACES: Face[] = ['request', 'fetch', 'dispatcher']

let raw: RawServer | undefined
let clients: Client[] = []

afterEach(async () => {
  for (const client of clients) await client.destroy()
  clients = []
  await raw?.close()
  raw = undefined
})

/** A client that would retry a GET quickly, so a retry of a parse error would show. */
function newClient(origin?: string): Client {
  const client = createClient({ origin, retry: { baseDelay: 1, maxDelay: 2 }, breaker: false })
  clients.push(client)
  return client
}

/** One GET through `face`, read to its end: the body text, or what was thrown on the way. */
async function call(face: Face, url: string): Promise<{ text?: string; error?: unknown }> {
  try {
    if (face === 'request') {
      const response = await newClient(new URL(url).origin).request(new URL(url).pathname)
      return { text: await response.body.text() }
    }
    if (face === 'fetch') {
      const response = await newClient(new URL(url).origin).fetch(new URL(url).pathname)
      return { text: await response.text() }
    }
    const response = await undiciRequest(url, { dispatcher: newClient().dispatcher })
    return { text: await response.body.text() }
  } catch (error) {
    return { error }
  }
}

/** A typed error: an undici error class or a netiquette error, with the call's attempts. */
function expectTypedWithAttempts(error: unknown): void {
  expect(error).toBeInstanceOf(Error)
  const { name, code, attempts } = error as {
    name: string
    code?: unknown
    attempts?: readonly AttemptRecord[]
  }
  // undici's HTTPParserError has no code (its constants map names to numbers), but a class name.
  expect(typeof code === 'string' || (name !== 'Error' && name !== 'TypeError')).toBe(true)
  expect(attempts).toHaveLength(1)
}

describe('hostile responses (faults.md 34)', () => {
  for (const [what, bytes] of Object.entries(HOSTILE)) {
    it.each(FACES)(
      `${what}: a typed error through %s, socket closed, not retried`,
      async (face) => {
        raw = await createRawServer((socket) => socket.end(Buffer.from(bytes, 'latin1')))
        const { error } = await call(face, `${raw.url}/`)
        expectTypedWithAttempts(error)
        expect(raw.requests).toBe(1)
        await eventually(() => raw?.open === 0)
      },
    )
  }

  it.each(FACES)(
    '1,000 informational responses and then a close: a typed socket error through %s, retried as any closed connection for a GET',
    async (face) => {
      raw = await createRawServer((socket) =>
        socket.end('HTTP/1.1 100 Continue\r\n\r\n'.repeat(1000)),
      )
      const { error } = await call(face, `${raw.url}/`)
      expect(error).toMatchObject({ code: 'UND_ERR_SOCKET' })
      // Not a parse error: no response arrived, so a GET may be sent again (maxRetries 2).
      expect(raw.requests).toBe(3)
      expect((error as { attempts: unknown[] }).attempts).toHaveLength(3)
      await eventually(() => raw?.open === 0)
    },
  )

  it.each(FACES)(
    'a storm of 10,000 103 Early Hints before the 200 is read through %s',
    async (face) => {
      raw = await createRawServer((socket) => {
        socket.write('HTTP/1.1 103 Early Hints\r\nlink: </a>; rel=preload\r\n\r\n'.repeat(10_000))
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi')
      })
      expect(await call(face, `${raw.url}/`)).toEqual({ text: 'hi' })
    },
  )
})

describe('extra bytes after the body (faults.md 31)', () => {
  it.each(FACES)(
    'through %s: the body is what Content-Length says, the socket is dropped, the injected response is never seen',
    async (face) => {
      raw = await createRawServer((socket) => {
        socket.write(
          'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi' +
            'HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:1/\r\ncontent-length: 0\r\n\r\n',
        )
      })
      const url = `${raw.url}/`
      expect(await call(face, url)).toEqual({ text: 'hi' })
      expect(await call(face, url)).toEqual({ text: 'hi' })
      // Each request on a connection of its own: the one with extra bytes was not reused.
      expect(raw.connections).toBe(2)
      expect(raw.requests).toBe(2)
    },
  )
})

describe('Content-Encoding layers (faults.md 36)', () => {
  it('client.fetch refuses more than 5 layers, and a corrupt body fails typed', async () => {
    raw = await createRawServer((socket) =>
      socket.end(
        'HTTP/1.1 200 OK\r\ncontent-encoding: gzip, gzip, gzip, gzip, gzip, gzip\r\ncontent-length: 4\r\n\r\nraw!',
      ),
    )
    await expect(newClient(raw.url).fetch('/')).rejects.toMatchObject({
      code: 'NQ_DECOMPRESSION',
      reason: 'codings',
      attempts: [expect.objectContaining({ statusCode: 200 })],
    })
    const corrupt = await createRawServer((socket) =>
      socket.end('HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: 4\r\n\r\nraw!'),
    )
    try {
      const response = await newClient(corrupt.url).fetch('/')
      await expect(response.text()).rejects.toMatchObject({
        code: 'NQ_DECOMPRESSION',
        reason: 'corrupt',
        cause: expect.objectContaining({ code: 'Z_DATA_ERROR' }),
      })
    } finally {
      await corrupt.close()
    }
  })
  // The dispatcher face under undici's fetch (which refuses more than 5 layers) is in
  // hardening.test.ts; the output cap on decompression is examples/decompression.ts.
})
