import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  answer,
  compose,
  createClient,
  gateLayer,
  InvalidOptionError,
  type CallRequest,
  type CallResponse,
  type Gate,
  type Middleware,
} from '../../src/index.ts'

const fakeResponse = (label: string) => ({ statusCode: 200, label }) as unknown as CallResponse
const request = { method: 'GET' } as CallRequest

/** A gate that writes what happens to it into `log`. */
function logging(name: string, log: string[], overrides: Partial<Gate<string>> = {}): Middleware {
  return gateLayer<string>({
    name,
    enter: () => {
      log.push(`${name} enter`)
      return `${name} state`
    },
    response: (state) => void log.push(`${name} response (${state})`),
    error: (state, _request, error) => void log.push(`${name} error (${state}): ${String(error)}`),
    ...overrides,
  })
}

const middleware =
  (name: string, log: string[]): Middleware =>
  async (req, next) => {
    log.push(`${name} in`)
    const res = await next(req)
    log.push(`${name} out`)
    return res
  }

describe('gates in a stack', () => {
  it('run in stack order with the middleware around them: first in, last out', async () => {
    const log: string[] = []
    const handler = compose(
      [logging('a', log), logging('b', log), middleware('m', log), logging('c', log)],
      async () => {
        log.push('transport')
        return fakeResponse('t')
      },
    )
    await handler(request)
    expect(log).toEqual([
      'a enter',
      'b enter',
      'm in',
      'c enter',
      'transport',
      'c response (c state)',
      'm out',
      'b response (b state)',
      'a response (a state)',
    ])
  })

  it('a refusal fails the pass: the gates above hear of it, the ones below never run', async () => {
    const log: string[] = []
    const refused = new Error('refused')
    const handler = compose(
      [
        logging('a', log),
        logging('b', log, {
          enter: () => {
            throw refused
          },
        }),
        logging('c', log),
      ],
      async () => {
        log.push('transport')
        return fakeResponse('t')
      },
    )
    await expect(handler(request)).rejects.toBe(refused)
    expect(log).toEqual(['a enter', 'a error (a state): Error: refused'])
  })

  it('an error from below reaches every gate once, innermost first', async () => {
    const log: string[] = []
    const handler = compose([logging('a', log), logging('b', log)], async () => {
      throw new Error('reset')
    })
    await expect(handler(request)).rejects.toThrow('reset')
    expect(log).toEqual([
      'a enter',
      'b enter',
      'b error (b state): Error: reset',
      'a error (a state): Error: reset',
    ])
  })

  it('a gate may wait before it admits: the gates below enter after the wait', async () => {
    const log: string[] = []
    const { promise, resolve } = Promise.withResolvers<string>()
    const handler = compose(
      [logging('a', log), logging('queue', log, { enter: () => promise }), logging('c', log)],
      async () => {
        log.push('transport')
        return fakeResponse('t')
      },
    )
    const pending = handler(request)
    await Promise.resolve()
    expect(log).toEqual(['a enter'])
    resolve('a place')
    await pending
    expect(log).toEqual([
      'a enter',
      'c enter',
      'transport',
      'c response (c state)',
      'queue response (a place)',
      'a response (a state)',
    ])
  })

  it('a wait that fails fails the pass, and the gates above hear of it', async () => {
    const log: string[] = []
    const handler = compose(
      [
        logging('a', log),
        logging('queue', log, { enter: () => Promise.reject(new Error('queue full')) }),
      ],
      async () => fakeResponse('t'),
    )
    await expect(handler(request)).rejects.toThrow('queue full')
    expect(log).toEqual(['a enter', 'a error (a state): Error: queue full'])
  })

  it('a gate that waited and then fails in forward hears of its own failure', async () => {
    const log: string[] = []
    const handler = compose(
      [
        logging('a', log),
        logging('queue', log, {
          enter: () => Promise.resolve('a place'),
          forward: () => {
            throw new Error('bad header')
          },
        }),
      ],
      async () => fakeResponse('t'),
    )
    await expect(handler(request)).rejects.toThrow('bad header')
    expect(log).toEqual([
      'a enter',
      'queue error (a place): Error: bad header',
      'a error (a state): Error: bad header',
    ])
  })

  it('forward changes the request for the layers below; each gate is settled with its own', async () => {
    const seen: string[] = []
    const headed = gateLayer<undefined>({
      name: 'headed',
      enter: () => undefined,
      forward: (_state, req) => ({ ...req, method: 'HEAD' }),
      response: (_state, req) => void seen.push(`headed settled with ${req.method}`),
      error: () => {},
    })
    const below = gateLayer<undefined>({
      name: 'below',
      enter: (req) => void seen.push(`below entered with ${req.method}`),
      response: (_state, req) => void seen.push(`below settled with ${req.method}`),
      error: () => {},
    })
    const handler = compose([headed, below], async (req) => {
      seen.push(`transport got ${req.method}`)
      return fakeResponse('t')
    })
    await handler(request)
    expect(seen).toEqual([
      'below entered with HEAD',
      'transport got HEAD',
      'below settled with HEAD',
      'headed settled with GET',
    ])
  })

  it('a gate may answer a pass itself: nothing below runs, the gates above get its answer', async () => {
    const log: string[] = []
    const cached = fakeResponse('cached')
    const handler = compose(
      [
        logging('a', log),
        gateLayer<undefined>({
          name: 'cache',
          enter: () => answer(Promise.resolve(cached)),
          response: () => void log.push('cache response'),
          error: () => {},
        }),
        logging('c', log),
      ],
      async () => {
        log.push('transport')
        return fakeResponse('t')
      },
    )
    expect(await handler(request)).toBe(cached)
    expect(log).toEqual(['a enter', 'a response (a state)'])
  })

  it('a gate may take an outcome over and run the layers below again (a retry)', async () => {
    const log: string[] = []
    let sent = 0
    const again = gateLayer<undefined>({
      name: 'again',
      enter: () => undefined,
      response: (_state, req, response, below) => {
        if ((response as unknown as { label: string }).label !== 'first') return undefined
        log.push('again: once more')
        return below(req)
      },
      error: () => {},
    })
    const handler = compose([logging('a', log), again, logging('c', log)], async () => {
      sent++
      return fakeResponse(sent === 1 ? 'first' : 'second')
    })
    const res = (await handler(request)) as unknown as { label: string }
    expect(res.label).toBe('second')
    expect(log).toEqual([
      'a enter',
      'c enter',
      'c response (c state)',
      'again: once more',
      'c enter',
      'c response (c state)',
      'a response (a state)',
    ])
  })

  it('a gate may turn a failure into a response; the gates above see the response', async () => {
    const log: string[] = []
    const recovering = gateLayer<undefined>({
      name: 'recovering',
      enter: () => undefined,
      response: () => {},
      error: () => Promise.resolve(fakeResponse('fallback')),
    })
    const handler = compose([logging('a', log), recovering], async () => {
      throw new Error('reset')
    })
    const res = (await handler(request)) as unknown as { label: string }
    expect(res.label).toBe('fallback')
    expect(log).toEqual(['a enter', 'a response (a state)'])
  })

  it('refuses an answer that is not a promise', () => {
    expect(() => answer({} as unknown as Promise<CallResponse>)).toThrow(InvalidOptionError)
  })

  it('a gate is a middleware of its name, and runs on its own too', async () => {
    const log: string[] = []
    const layer = logging('solo', log)
    expect(layer.name).toBe('solo')
    await layer(request, async () => fakeResponse('t'))
    expect(log).toEqual(['solo enter', 'solo response (solo state)'])
  })

  it('refuses a gate without its hooks, naming what is missing', () => {
    expect(() => gateLayer({ name: 'x' } as unknown as Gate)).toThrow(InvalidOptionError)
    expect(() =>
      gateLayer({ name: '', enter() {}, response() {}, error() {} } as unknown as Gate),
    ).toThrow(/gate\.name/)
    expect(() => gateLayer({ name: 'x', enter() {}, response() {} } as unknown as Gate)).toThrow(
      /gate\.error/,
    )
  })
})

describe('a gate right above the transport, on a real socket', () => {
  let server: Server
  let origin: string
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.statusCode = req.url === '/busy' ? 503 : 200
      res.end('ok')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it('is settled by the transport with each attempt, before the call resolves', async () => {
    const statuses: number[] = []
    const counting = gateLayer<undefined>({
      name: 'counting',
      enter: () => undefined,
      response: (_state, _request, response) => void statuses.push(response.statusCode),
      error: () => {},
    })
    const client = createClient({
      origin,
      retry: { maxRetries: 1, baseDelay: 1 },
      middleware: (defaults) => [...defaults, counting],
    })
    try {
      const res = await client.request('/busy')
      // Both attempts were seen by the time the call resolved: one 503, retried, then another.
      expect(statuses).toEqual([503, 503])
      expect(res.statusCode).toBe(503)
      await res.body.dump()
    } finally {
      await client.close()
    }
  })

  it('fails the call with what a gate throws on the response, and frees the connection', async () => {
    const broken = new Error('the gate broke')
    const throwing = gateLayer<undefined>({
      name: 'throwing',
      enter: () => undefined,
      response: () => {
        throw broken
      },
      error: () => {},
    })
    const client = createClient({ origin, retry: false, middleware: () => [throwing] })
    try {
      await expect(client.request('/')).rejects.toBe(broken)
      // The client is not stuck: close() waits for nothing left in flight.
    } finally {
      await client.close()
    }
  })

  it('hears of a connection that failed', async () => {
    const errors: string[] = []
    const watching = gateLayer<undefined>({
      name: 'watching',
      enter: () => undefined,
      response: () => {},
      error: (_state, _request, error) => void errors.push((error as { code?: string }).code ?? ''),
    })
    // A port nothing listens on: the server's, closed.
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    const client = createClient({
      origin: `http://127.0.0.1:${port}`,
      retry: false,
      middleware: (defaults) => [...defaults, watching],
    })
    try {
      await expect(client.request('/')).rejects.toMatchObject({ code: 'ECONNREFUSED' })
      expect(errors).toEqual(['ECONNREFUSED'])
    } finally {
      await client.close()
    }
  })
})
