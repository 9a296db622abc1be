// Every public function, constructor and face, called with junk: each either works or throws a
// NetiquetteError (InvalidOptionError, InvalidRequestError...), never a TypeError from inside,
// and a face reports junk through its own channel (a rejection, a handler's onResponseError).
import { errors as undiciErrors } from 'undici'
import { describe, expect, it } from 'vitest'
import * as api from '../src/index.ts'
import * as testing from '../src/testing/index.ts'
import { NetiquetteError, createClient } from '../src/index.ts'

const JUNK: unknown[] = [
  undefined,
  null,
  42,
  -1,
  Number.NaN,
  'x',
  '',
  {},
  [],
  () => {},
  Symbol('junk'),
  10n,
  { toString: 42 },
]

function show(value: unknown): string {
  if (typeof value === 'symbol' || typeof value === 'bigint') return typeof value
  if (typeof value === 'function') return 'a function'
  return JSON.stringify(value) ?? 'undefined'
}

const isClass = (f: unknown) =>
  typeof f === 'function' && /^class\b/.test(Function.prototype.toString.call(f))

/** Whatever a call made that holds resources (a client, a dispatcher): closed at once. */
async function release(value: unknown): Promise<void> {
  const v = value as { destroy?: () => unknown } | undefined
  if (typeof v?.destroy === 'function' && !(value instanceof Promise)) await v.destroy()
}

describe('bad input gets a typed error', () => {
  it('from every exported function and class, the testing ones included', async () => {
    const untyped: string[] = []
    const exported = [
      ...Object.entries(api),
      ...Object.entries(testing).map(([name, value]) => [`testing.${name}`, value] as const),
    ]
    for (const [name, fn] of exported) {
      if (typeof fn !== 'function' || /Error$/.test(name)) continue
      for (const a of JUNK) {
        for (const b of [undefined, ...JUNK.slice(0, 8)]) {
          try {
            const made = isClass(fn)
              ? new (fn as new (...args: unknown[]) => unknown)(a, b)
              : (fn as (...args: unknown[]) => unknown)(a, b)
            if (made instanceof Promise) await made.catch(() => {})
            else await release(made)
          } catch (error) {
            if (!(error instanceof NetiquetteError)) {
              untyped.push(`${name}(${show(a)}, ${show(b)}): ${String(error)}`)
            }
          }
        }
      }
    }
    expect(untyped).toEqual([])
  })

  it('from the faces: request, fetch and dispatch reject or report junk with typed errors', async () => {
    const bound = createClient({ origin: 'http://127.0.0.1:1', retry: false })
    const open = createClient({ retry: false })
    const untyped: string[] = []
    const isTyped = (error: unknown) =>
      error instanceof NetiquetteError ||
      /^(UND_ERR|E[A-Z]+$)/.test(String((error as { code?: unknown })?.code))
    try {
      for (const a of JUNK) {
        for (const b of [undefined, ...JUNK]) {
          const calls: [string, () => unknown][] = [
            ['request', () => bound.request(a as string, b as object)],
            ['open.request', () => open.request(a as string, b as object)],
            ['fetch', () => bound.fetch(a as string, b as object)],
            ['open.fetch', () => open.fetch(a as string, b as object)],
            ['dispatch', () => open.dispatcher.dispatch(a as never, b as never)],
          ]
          for (const [name, call] of calls) {
            try {
              const result = call() as Promise<{ body?: { dump?: () => unknown } }> | boolean
              if (result instanceof Promise) {
                await result.then(
                  (response) => response?.body?.dump?.(),
                  (error: unknown) => {
                    if (!isTyped(error))
                      untyped.push(`${name}(${show(a)}, ${show(b)}): ${String(error)}`)
                  },
                )
              }
            } catch (error) {
              if (!isTyped(error))
                untyped.push(`${name}(${show(a)}, ${show(b)}) threw ${String(error)}`)
            }
          }
        }
      }
      // A handler gets junk options as undici's dispatchers give them: in onResponseError.
      const reported: unknown[] = []
      open.dispatcher.dispatch(null as never, {
        onRequestStart() {},
        onResponseError: (_controller, error) => reported.push(error),
      })
      expect(reported).toHaveLength(1)
      // undici's class through its own interface, as its dispatchers report it; ours inside.
      expect(reported[0]).toBeInstanceOf(undiciErrors.InvalidArgumentError)
      expect((reported[0] as { cause?: unknown }).cause).toBeInstanceOf(api.InvalidRequestError)
    } finally {
      await bound.destroy()
      await open.destroy()
    }
    expect(untyped).toEqual([])
  })
})
