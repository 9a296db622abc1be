import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFaultServer, type FaultServer } from '../../src/testing/index.ts'
import { haveNginx, startNginx, type TestNginx } from '../support/nginx-server.ts'
import { BEFORE, DURING, goodput, p99, runThroughDrop } from '../support/overload-run.ts'

// A real nginx in front of the Node app, as it is usually deployed: nginx keeps its own
// keep-alive connections to the app and passes the app's queueing on as latency. `.ci/run`
// installs nginx; elsewhere the test skips and says so.
const run = haveNginx || process.env.CI !== undefined ? describe : describe.skip
if (!haveNginx && process.env.CI === undefined) {
  console.warn(
    'nginx test SKIPPED: no nginx (apt-get install nginx); CI installs it and never skips',
  )
}

let app: FaultServer
let nginx: TestNginx

beforeAll(async () => {
  if (!haveNginx && process.env.CI === undefined) return
  app = await createFaultServer({ capacity: 6 })
  app.route('/work', { latency: { min: 16, max: 24 } })
  nginx = await startNginx(new URL(app.url).host)
}, 30_000)

afterAll(async () => {
  await nginx?.stop()
  await app?.close()
})

run('the default limit behind nginx, when the app behind it loses 2/3 of its capacity', () => {
  it("keeps p99 during the drop within 3x its level before, where 'aimd' (the default before) queues", async () => {
    const aimd = await runThroughDrop(app, nginx.url, { algorithm: 'aimd' })
    const defaults = await runThroughDrop(app, nginx.url, {})
    // AIMD sees no loss, only latency: it stays at 20 or above, and the app's queue grows.
    expect(p99(aimd, ...DURING)).toBeGreaterThan(3 * p99(aimd, ...BEFORE))
    expect(p99(defaults, ...DURING)).toBeLessThan(3 * p99(defaults, ...BEFORE))
    expect(p99(defaults, ...DURING)).toBeLessThan(p99(aimd, ...DURING) / 2)
    expect(goodput(defaults, ...DURING)).toBeGreaterThan(70) // of the app's 100/s
  }, 30_000)
})
