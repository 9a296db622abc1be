import http from 'node:http'
import http2 from 'node:http2'
import https from 'node:https'
import net, { type AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient, type Client } from '../../src/index.ts'
import { createFaultServer } from '../../src/testing/index.ts'
import { selfSignedCertificate, type Certificate } from '../support/certificates.ts'

// Transport settings through `agent`, each with the client's defaults and policies still on:
// real TLS, HTTP/2, a raw socket and a forward proxy, all on 127.0.0.1.

let serverCert: Certificate
let clientCert: Certificate

beforeAll(async () => {
  ;[serverCert, clientCert] = await Promise.all([
    selfSignedCertificate('netiquette test server'),
    selfSignedCertificate('netiquette test client'),
  ])
}, 60_000)

async function listen(server: net.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return String((server.address() as AddressInfo).port)
}

async function closing<T>(client: Client, body: () => Promise<T>): Promise<T> {
  try {
    return await body()
  } finally {
    await client.destroy()
  }
}

describe('agent.connect', () => {
  let server: https.Server
  let origin: string
  let served = 0
  const peers: string[] = []

  beforeAll(async () => {
    // mTLS: the server trusts only the client's certificate, and answers 503 on every other call.
    server = https.createServer(
      { ...serverCert, ca: clientCert.cert, requestCert: true, rejectUnauthorized: true },
      (request, response) => {
        peers.push(String((request.socket as TLSSocket).getPeerCertificate().subject?.CN))
        served++
        response.writeHead(served % 2 === 1 ? 503 : 200).end('ok')
      },
    )
    origin = `https://127.0.0.1:${await listen(server)}`
  })

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it('takes a private CA and a client certificate (mTLS), and keeps the retry policy', async () => {
    const client = createClient({
      origin,
      agent: { connect: { ca: serverCert.cert, cert: clientCert.cert, key: clientCert.key } },
      retry: { baseDelay: 1, maxDelay: 5 },
    })
    await closing(client, async () => {
      const response = await client.request('/')
      expect(response.statusCode).toBe(200)
      expect(response.attempts.map((a) => a.statusCode)).toEqual([503, 200])
      await response.body.text()
    })
    expect(peers.at(-1)).toBe('netiquette test client')
  })

  it('refuses the server without the CA: the TLS defaults are not loosened', async () => {
    const client = createClient({ origin, retry: false })
    await closing(client, async () => {
      await expect(client.request('/')).rejects.toMatchObject({
        code: expect.stringMatching(/SELF_SIGNED|UNABLE_TO_VERIFY/),
      })
    })
  })

  it('keeps our timeouts beside it: headersTimeout still ends a silent server', async () => {
    const silent = https.createServer(serverCert, () => {})
    const client = createClient({
      origin: `https://127.0.0.1:${await listen(silent)}`,
      agent: { connect: { ca: serverCert.cert }, headersTimeout: 300 },
      deadline: 10_000,
      retry: false,
    })
    try {
      await closing(client, async () => {
        await expect(client.request('/')).rejects.toMatchObject({
          code: 'UND_ERR_HEADERS_TIMEOUT',
        })
      })
    } finally {
      silent.closeAllConnections()
      await new Promise<void>((resolve) => silent.close(() => resolve()))
    }
  })
})

describe('HTTP/2', () => {
  it('is negotiated over TLS by default, and allowH2: false keeps HTTP/1.1', async () => {
    const server = http2.createSecureServer({ ...serverCert, allowHTTP1: true }, (req, res) => {
      res.end(req.httpVersion)
    })
    const origin = `https://127.0.0.1:${await listen(server as unknown as net.Server)}`
    try {
      const h2 = createClient({ origin, agent: { connect: { ca: serverCert.cert } } })
      await closing(h2, async () => {
        expect(await (await h2.request('/')).body.text()).toBe('2.0')
      })
      const h1 = createClient({
        origin,
        agent: { connect: { ca: serverCert.cert }, allowH2: false },
      })
      await closing(h1, async () => {
        expect(await (await h1.request('/')).body.text()).toBe('1.1')
      })
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })
})

describe('agent.maxHeaderSize', () => {
  it('lets a response with a 20 KiB head through, which the default refuses', async () => {
    const big = 'x'.repeat(20 * 1024)
    const raw = net.createServer((socket) => {
      socket.once('data', () => {
        socket.end(`HTTP/1.1 200 OK\r\nx-big: ${big}\r\ncontent-length: 2\r\n\r\nok`)
      })
    })
    const origin = `http://127.0.0.1:${await listen(raw)}`
    try {
      const strict = createClient({ origin, retry: false })
      await closing(strict, async () => {
        await expect(strict.request('/')).rejects.toMatchObject({
          code: 'UND_ERR_HEADERS_OVERFLOW',
        })
      })
      const roomy = createClient({ origin, agent: { maxHeaderSize: 64 * 1024 } })
      await closing(roomy, async () => {
        const response = await roomy.request('/')
        expect(response.headers['x-big']).toBe(big)
        await response.body.text()
      })
    } finally {
      await new Promise<void>((resolve) => raw.close(() => resolve()))
    }
  })
})

describe('agent.proxy', () => {
  /** A forward proxy for http targets (absolute-form requests), recording what it forwarded. */
  async function forwardProxy() {
    const seen: { url: string; auth: string | undefined }[] = []
    const proxy = http.createServer((request, response) => {
      seen.push({ url: request.url ?? '', auth: request.headers['proxy-authorization'] })
      const target = new URL(request.url ?? '')
      const upstream = http.request(
        target,
        { method: request.method, headers: { ...request.headers, host: target.host } },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(response)
        },
      )
      upstream.on('error', () => response.destroy())
      request.pipe(upstream)
    })
    const port = await listen(proxy)
    return {
      seen,
      port,
      close: () => {
        proxy.closeAllConnections()
        return new Promise<void>((resolve) => proxy.close(() => resolve()))
      },
    }
  }

  it('sends through a proxy URL, its credentials as Proxy-Authorization, policies on', async () => {
    const target = await createFaultServer()
    const proxy = await forwardProxy()
    target.route('/flaky', [503, { status: 200, body: 'through' }])
    const client = createClient({
      origin: target.url,
      agent: { proxy: `http://svc:s3cret@127.0.0.1:${proxy.port}` },
      retry: { baseDelay: 1, maxDelay: 5 },
    })
    try {
      await closing(client, async () => {
        expect(await (await client.request('/flaky')).body.text()).toBe('through')
      })
      expect(proxy.seen.map((r) => r.url)).toEqual([`${target.url}/flaky`, `${target.url}/flaky`])
      expect(proxy.seen[0]?.auth).toBe(`Basic ${Buffer.from('svc:s3cret').toString('base64')}`)
    } finally {
      await proxy.close()
      await target.close()
    }
  })

  it("'env' reads HTTP_PROXY when the client is made, and NO_PROXY at each request", async () => {
    const target = await createFaultServer()
    const proxy = await forwardProxy()
    const saved = { ...process.env }
    const names = ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'no_proxy', 'NO_PROXY']
    for (const name of names) delete process.env[name]
    process.env.HTTP_PROXY = `http://127.0.0.1:${proxy.port}`
    const client = createClient({ origin: target.url, agent: { proxy: 'env' } })
    try {
      await (await client.request('/a')).body.text()
      expect(proxy.seen.map((r) => r.url)).toEqual([`${target.url}/a`])
      process.env.NO_PROXY = '127.0.0.1'
      await (await client.request('/b')).body.text()
      expect(proxy.seen).toHaveLength(1)
      expect(target.requests.map((r) => r.path)).toEqual(['/a', '/b'])
    } finally {
      // process.env itself stays: assigning a plain object would detach it from the process.
      for (const name of names) delete process.env[name]
      Object.assign(process.env, saved)
      await client.destroy()
      await proxy.close()
      await target.close()
    }
  })
})

describe('bad transport settings are refused, naming the option', () => {
  it.each([
    [{ localAddress: 'nope' }, /agent\.localAddress/],
    [{ connect: { timeout: 5 } }, /agent\.connect\.timeout.*agent\.connectTimeout/],
    [{ connect: () => undefined, connectTimeout: 100 }, /agent\.connectTimeout/],
    [{ allowH2: 'yes' }, /agent\.allowH2/],
    [{ maxHeaderSize: 0 }, /agent\.maxHeaderSize/],
    [{ proxy: 'ftp://user:hunter2@proxy' }, /agent\.proxy/],
    [{ tls: {} }, /agent\.tls: .*no such option/],
  ])('%j', (agent, message) => {
    let error: unknown
    try {
      createClient({ agent: agent as never })
    } catch (caught) {
      error = caught
    }
    expect(error).toMatchObject({
      code: 'NQ_INVALID_OPTION',
      message: expect.stringMatching(message),
    })
    expect((error as Error).message).not.toContain('hunter2')
  })
})
