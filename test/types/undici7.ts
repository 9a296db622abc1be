// Type-checked by `npm run typecheck`: an app on undici 7 hands the dispatcher to its own undici.
import { setGlobalDispatcher, request } from 'undici7'
import { createClient } from '../../src/index.ts'

const client = createClient()
setGlobalDispatcher(client.dispatcher)
void request('http://127.0.0.1/', { dispatcher: client.dispatcher })
