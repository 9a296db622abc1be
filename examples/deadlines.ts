// One deadline across two hops: a caller gives a frontend 300 ms; the frontend's own call to a
// slow backend inherits what is left and gives up in time, instead of working for a caller who has
// already gone. Run it with `node examples/deadlines.ts` after `npm run build`.
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createClient, explain, httpDeadline } from 'netiquette'
import { createFaultServer } from 'netiquette/testing'

/** Runs the example, writing what happens through `log`. Returns the lines it logged. */
export async function main(log: (line: string) => void = console.log): Promise<string[]> {
  const lines: string[] = []
  const say = (line: string) => {
    lines.push(line)
    log(line)
  }

  const backend = await createFaultServer()
  backend.route('/report', { latency: 2_000, body: 'report' })
  const toBackend = createClient({ origin: backend.url })

  // The frontend sets no deadline of its own for the backend call: it inherits the caller's.
  const handled = Promise.withResolvers<void>()
  const frontend = createServer(
    httpDeadline(async (req: IncomingMessage, res: ServerResponse) => {
      say(
        `frontend: the caller sent x-deadline-remaining-ms: ${req.headers['x-deadline-remaining-ms']}`,
      )
      try {
        const report = await toBackend.request('/report')
        res.end(await report.body.text())
      } catch (error) {
        say(`frontend: ${explain(error).split('\n')[0]}`)
        res.statusCode = 504
        res.end()
      } finally {
        handled.resolve()
      }
    }),
  )
  frontend.listen(0, '127.0.0.1')
  await once(frontend, 'listening')
  const frontendUrl = `http://127.0.0.1:${(frontend.address() as AddressInfo).port}`

  const caller = createClient({ origin: frontendUrl, deadline: 300 })
  const started = performance.now()
  try {
    const res = await caller.request('/')
    await res.body.dump()
    say(`caller: got ${res.statusCode} after ${Math.round(performance.now() - started)} ms`)
  } catch (error) {
    say(`caller: ${explain(error).split('\n')[0]}`)
  }
  // The frontend gives up at about the same moment as the caller; let it finish its story.
  await handled.promise
  say(
    `the backend saw x-deadline-remaining-ms: ${backend.requests[0]?.headers['x-deadline-remaining-ms']}`,
  )

  await caller.close()
  await toBackend.close()
  frontend.closeAllConnections()
  frontend.close()
  await backend.close()
  return lines
}

if (import.meta.main) await main()
