// Loaded with `node --import` into undici's own test run (see run.sh): puts one of our faces in
// place of what undici's tests exercise, with the client's default policies.
//   NQ_FACE=dispatcher  every fetch goes through setGlobalDispatcher(client.dispatcher)
//   NQ_FACE=fetch       undici's exported fetch is replaced by client.fetch
//   NQ_FACE=under       each test's own dispatcher is put under a client, as docs/migrating.md
//                       tells users to (createClient({ dispatcher })), and its request, stream
//                       and pipeline calls go through that client's dispatcher face
import { createRequire } from 'node:module'
import { setGlobalDispatcher } from 'undici'
import { createClient } from '../../src/index.ts'

const face = process.env.NQ_FACE ?? 'dispatcher'
if (face === 'dispatcher') {
  setGlobalDispatcher(createClient().dispatcher)
} else if (face === 'fetch') {
  // The tests take `fetch` from undici's index at require time: replace it there first.
  const undici = createRequire(`${process.cwd()}/`)('./index.js') as { fetch: unknown }
  undici.fetch = createClient().fetch
} else if (face === 'under') {
  putUnderClients()
} else {
  throw new Error(`NQ_FACE=${face}: expected dispatcher, fetch or under`)
}

function putUnderClients(): void {
  type Api = (this: object, ...args: unknown[]) => unknown
  const undici = createRequire(`${process.cwd()}/`)('./index.js') as Record<string, unknown> & {
    Dispatcher: { prototype: Record<string, Api> }
  }
  const faces = new WeakMap<object, object>()
  const ours = new WeakSet<object>()
  // One client per dispatcher a test made, created on its first use; its face is ours.
  const faceOf = (dispatcher: object): object => {
    let face = faces.get(dispatcher)
    if (face === undefined) {
      // The deadline header left out: the tests compare the headers a server received. A Client
      // or Pool has one origin, which its own request() leaves out: the client's origin.
      face = createClient({
        dispatcher: dispatcher as never,
        propagation: false,
        origin: originOf(dispatcher),
      }).dispatcher
      ours.add(face)
      faces.set(dispatcher, face)
    }
    return face
  }
  const proto = undici.Dispatcher.prototype
  const getGlobal = undici.getGlobalDispatcher as () => object
  for (const name of ['request', 'stream', 'pipeline'] as const) {
    // `client.request(...)` on a test's own Client, Pool or Agent.
    const method = proto[name] as Api
    proto[name] = function (this: object, ...args: unknown[]) {
      return method.apply(ours.has(this) ? this : faceOf(this), args)
    }
    // `undici.request(url, { dispatcher })`: undici's module-level form, read at call time.
    const exported = undici[name] as (url: unknown, opts?: unknown, ...rest: unknown[]) => unknown
    undici[name] = (url: unknown, opts?: unknown, ...rest: unknown[]) => {
      // undici's own argument checks see what the test passed.
      if (opts !== undefined && (typeof opts !== 'object' || opts === null)) {
        return exported(url, opts, ...rest)
      }
      // `request({ origin, path, method, headers })`: the options are the first argument.
      const inUrl = opts === undefined && typeof url === 'object' && !(url instanceof URL)
      const given = (inUrl ? url : (opts ?? {})) as { dispatcher?: object }
      const below = given.dispatcher ?? getGlobal()
      const dispatcher = ours.has(below) ? below : faceOf(below)
      if (inUrl) return exported({ ...given, dispatcher }, undefined, ...rest)
      return exported(url, { ...given, dispatcher }, ...rest)
    }
  }
}

/** The origin of an undici Client or Pool (its `url` symbol), `undefined` for an Agent. */
function originOf(dispatcher: object): string | undefined {
  for (
    let o: object | null = dispatcher;
    o !== null;
    o = Object.getPrototypeOf(o) as object | null
  ) {
    const symbol = Object.getOwnPropertySymbols(o).find((s) => s.description === 'url')
    const url = symbol === undefined ? undefined : (dispatcher as Record<symbol, unknown>)[symbol]
    if (url instanceof URL) return url.origin
  }
  return undefined
}
