// The server model on cases small enough to work out by hand.
import { describe, expect, it } from 'vitest'
import { VirtualClock, seededRandom } from '../../src/testing/index.ts'
import { SimServer, type ServerJob } from '../../tools/fleet/sim-server.ts'
import { InvalidOptionError } from '../../src/index.ts'

/** A job that records when it finished and with what. */
function job(clock: VirtualClock, abandoned = false) {
  const j: ServerJob & { at: number; status: number } = {
    abandoned,
    at: -1,
    status: 0,
    finish(status: number) {
      j.at = clock.now()
      j.status = status
    },
  }
  return j
}

describe('SimServer', () => {
  it('serves FIFO, one at a time, each in 1/capacity s', async () => {
    const clock = new VirtualClock()
    const server = new SimServer({ capacity: 10 }, clock, seededRandom(1))
    const jobs = [job(clock), job(clock), job(clock)]
    for (const j of jobs) server.submit(j)
    expect(server.queueLength).toBe(3)
    await clock.advance(1_000)
    expect(jobs.map((j) => j.at)).toEqual([100, 200, 300])
    expect(jobs.map((j) => j.status)).toEqual([200, 200, 200])
    expect(server.totals()).toEqual({ served: 3, wasted: 0, refused: 0, dropped: 0 })
    expect(server.queueLength).toBe(0)
  })

  it('stretches the request in service when its speed is cut, and stops at speed 0', async () => {
    const clock = new VirtualClock()
    const server = new SimServer({ capacity: 10 }, clock, seededRandom(1))
    const first = job(clock)
    const second = job(clock)
    server.submit(first)
    server.submit(second)
    await clock.advance(50)
    // Half of the first request's 100 ms is done; the other half at half speed takes 100 ms.
    server.setSpeed(0.5)
    await clock.advance(100)
    expect(first.at).toBe(150)
    // The second starts at 150 at half speed: due at 350. Stopped at 200 for 1 s, it resumes
    // with 75 ms of work left at full speed.
    await clock.advance(50)
    server.setSpeed(0)
    await clock.advance(1_000)
    expect(second.at).toBe(-1)
    server.setSpeed(1)
    await clock.advance(1_000)
    expect(second.at).toBe(1_275)
  })

  it('serves abandoned work in full unless told to drop it', async () => {
    const clock = new VirtualClock()
    const keeps = new SimServer({ capacity: 10 }, clock, seededRandom(1))
    const drops = new SimServer({ capacity: 10, dropAbandoned: true }, clock, seededRandom(1))
    for (const server of [keeps, drops]) {
      server.submit(job(clock))
      server.submit(job(clock, true))
      server.submit(job(clock, true))
    }
    const lastKept = job(clock)
    const lastDropped = job(clock)
    keeps.submit(lastKept)
    drops.submit(lastDropped)
    await clock.advance(1_000)
    expect(lastKept.at).toBe(400)
    expect(keeps.totals()).toMatchObject({ served: 2, wasted: 2, dropped: 0 })
    expect(lastDropped.at).toBe(200)
    expect(drops.totals()).toMatchObject({ served: 2, wasted: 0, dropped: 2 })
  })

  it('refuses with a 503 what arrives to a full queue', async () => {
    const clock = new VirtualClock()
    const server = new SimServer({ capacity: 10, queueLimit: 1 }, clock, seededRandom(1))
    const jobs = [job(clock), job(clock), job(clock)]
    for (const j of jobs) server.submit(j)
    // One in service, one queued, the third refused at once.
    expect(jobs[2]?.status).toBe(503)
    expect(jobs[2]?.at).toBe(0)
    await clock.advance(1_000)
    expect(jobs.map((j) => j.at)).toEqual([100, 200, 0])
    expect(server.totals().refused).toBe(1)
  })

  it('draws exponential service times with the capacity as mean rate', async () => {
    const clock = new VirtualClock()
    const server = new SimServer({ capacity: 100, service: 'exponential' }, clock, seededRandom(7))
    const jobs = Array.from({ length: 20_000 }, () => job(clock))
    for (const j of jobs) server.submit(j)
    await clock.advance(1_000_000)
    const last = jobs[jobs.length - 1] as { at: number }
    // 20,000 draws of mean 10 ms: 200 s give or take 1.4 s (one standard deviation).
    expect(last.at).toBeGreaterThan(195_000)
    expect(last.at).toBeLessThan(205_000)
  })

  it('rejects bad settings with a typed error naming them', () => {
    const clock = new VirtualClock()
    const make = (o: unknown) => () =>
      new SimServer(o as { capacity: number }, clock, seededRandom(1))
    expect(make({ capacity: 0 })).toThrow(InvalidOptionError)
    expect(make({ capacity: 0 })).toThrow(/capacity/)
    expect(make({ capacity: 1, service: 'lifo' })).toThrow(/service/)
    expect(make({ capacity: 1, queueLimit: -1 })).toThrow(/queueLimit/)
    const server = new SimServer({ capacity: 1 }, clock, seededRandom(1))
    expect(() => server.setSpeed(2)).toThrow(/speed/)
  })
})
