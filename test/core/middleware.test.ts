import { describe, expect, it } from 'vitest'
import { compose, type CallRequest, type CallResponse, type Middleware } from '../../src/index.ts'

const fakeResponse = (label: string) => ({ statusCode: 200, label }) as unknown as CallResponse
const request = {} as CallRequest

describe('compose', () => {
  it('runs the first middleware outermost: first in, last out', async () => {
    const order: string[] = []
    const layer =
      (name: string): Middleware =>
      async (req, next) => {
        order.push(`${name} in`)
        const res = await next(req)
        order.push(`${name} out`)
        return res
      }
    const handler = compose([layer('a'), layer('b')], async () => {
      order.push('transport')
      return fakeResponse('t')
    })
    await handler(request)
    expect(order).toEqual(['a in', 'b in', 'transport', 'b out', 'a out'])
  })

  it('lets a middleware call next more than once', async () => {
    let calls = 0
    const twice: Middleware = async (req, next) => {
      await next(req)
      return next(req)
    }
    const handler = compose([twice], async () => fakeResponse(`call ${++calls}`))
    const res = (await handler(request)) as unknown as { label: string }
    expect(calls).toBe(2)
    expect(res.label).toBe('call 2')
  })

  it('passes the request a middleware hands to next down the stack', async () => {
    const seen: unknown[] = []
    const narrowed = { method: 'HEAD' } as CallRequest
    const handler = compose([async (_req, next) => next(narrowed)], async (req) => {
      seen.push(req)
      return fakeResponse('t')
    })
    await handler(request)
    expect(seen).toEqual([narrowed])
  })

  it('with no middleware is the terminal handler itself', () => {
    const terminal = async () => fakeResponse('t')
    expect(compose([], terminal)).toBe(terminal)
  })
})
