// Loaded with `node --import` into undici's own test run (see run.sh): puts one of our faces in
// place of what undici's fetch tests exercise, with the client's default policies.
//   NQ_FACE=dispatcher  every fetch goes through setGlobalDispatcher(client.dispatcher)
//   NQ_FACE=fetch       undici's exported fetch is replaced by client.fetch
import { createRequire } from 'node:module'
import { setGlobalDispatcher } from 'undici'
import { createClient } from '../../src/index.ts'

const face = process.env.NQ_FACE ?? 'dispatcher'
const client = createClient()
if (face === 'dispatcher') {
  setGlobalDispatcher(client.dispatcher)
} else if (face === 'fetch') {
  // The tests take `fetch` from undici's index at require time: replace it there first.
  const undici = createRequire(`${process.cwd()}/`)('./index.js') as { fetch: unknown }
  undici.fetch = client.fetch
} else {
  throw new Error(`NQ_FACE=${face}: expected dispatcher or fetch`)
}
