import { describe, expect, it } from 'vitest'
import { QueueFullError, QueueTimeoutError } from '../../src/index.ts'
import { AimdLimit, DEFAULT_AIMD } from '../../src/concurrency/aimd-limit.ts'
import { FixedLimit } from '../../src/concurrency/limit-algorithm.ts'
import { ConcurrencyLimiter, type LimitChange } from '../../src/concurrency/limiter.ts'
import { VirtualClock } from '../../src/testing/index.ts'

const describe_ = { origin: 'http://o.test', waitReason: 'maxQueueWait 1000 ms' }

function setup(limit: number, maxQueue: number) {
  const clock = new VirtualClock()
  const limiter = new ConcurrencyLimiter(new FixedLimit(limit), maxQueue, 100, clock)
  const order: number[] = []
  const errors: unknown[] = []
  const wait = (id: number, ms = 1000, signal?: AbortSignal) =>
    limiter.acquire(ms, signal, describe_).then(
      () => order.push(id),
      (error: unknown) => errors.push(error),
    )
  return { clock, limiter, order, errors, wait }
}

describe('ConcurrencyLimiter', () => {
  it('lets `limit` through, queues up to maxQueue, and sheds the rest at once', async () => {
    const { clock, limiter, order, errors, wait } = setup(2, 3)
    for (let i = 0; i < 7; i++) void wait(i)
    await clock.advance(0)
    expect(order).toEqual([0, 1])
    expect(limiter.queued).toBe(3)
    expect(errors).toHaveLength(2)
    expect(errors[0]).toBeInstanceOf(QueueFullError)
    expect((errors[0] as Error).message).toBe(
      'the queue for http://o.test is full (2 attempts in flight, limit 2, 3 of 3 waiting); nothing was sent',
    )
    expect(limiter.counters).toMatchObject({ admitted: 2, shedQueueFull: 2 })
  })

  it('serves the oldest waiter first, and the newest once the oldest has waited lifoAfter', async () => {
    const { clock, limiter, order, wait } = setup(1, 10)
    void wait(0) // runs
    void wait(1)
    void wait(2)
    await clock.advance(50)
    void wait(3)
    limiter.release(undefined) // the oldest has waited 50 ms: in order
    await clock.advance(50)
    void wait(4)
    limiter.release(undefined) // the oldest (2) has waited 100 ms: the newest first
    await clock.advance(0)
    limiter.release(undefined)
    await clock.advance(0)
    limiter.release(undefined)
    await clock.advance(0)
    expect(order).toEqual([0, 1, 4, 3, 2])
  })

  it('fails a waiter with QueueTimeoutError when its wait runs out, leaving no timer', async () => {
    const { clock, limiter, errors, wait } = setup(1, 10)
    void wait(0)
    void wait(1, 250)
    await clock.advance(249)
    expect(errors).toHaveLength(0)
    await clock.advance(1)
    expect(errors[0]).toBeInstanceOf(QueueTimeoutError)
    expect((errors[0] as Error).message).toBe(
      'waited 250 ms in the queue for http://o.test (maxQueueWait 1000 ms) without getting one of its 1 places; nothing was sent',
    )
    expect(limiter.queued).toBe(0)
    expect(clock.pendingTimers).toBe(0)
  })

  it('takes an aborted waiter out at once, freeing its place in the queue', async () => {
    const { clock, limiter, order, errors, wait } = setup(1, 1)
    const controller = new AbortController()
    void wait(0)
    void wait(1, 1000, controller.signal)
    await clock.advance(0)
    const reason = new Error('caller gave up')
    controller.abort(reason)
    await clock.advance(0)
    expect(errors).toEqual([reason])
    expect(limiter.queued).toBe(0)
    expect(clock.pendingTimers).toBe(0)
    void wait(2) // the freed place in the queue is usable
    await clock.advance(0)
    expect(limiter.queued).toBe(1)
    limiter.release(undefined)
    await clock.advance(0)
    expect(order).toEqual([0, 2])
    expect(limiter.counters.abandoned).toBe(1)
  })

  it('fails at once with QueueTimeoutError when there is no time left to wait', async () => {
    const { clock, limiter, errors, wait } = setup(1, 10)
    void wait(0)
    void wait(1, 0)
    await clock.advance(0)
    expect(errors[0]).toBeInstanceOf(QueueTimeoutError)
    expect((errors[0] as Error).message).toBe(
      'no place free among the 1 for http://o.test, and no time left to wait for one (maxQueueWait 1000 ms); nothing was sent',
    )
    expect(limiter.counters.shedTimeout).toBe(1)
    expect(clock.pendingTimers).toBe(0)
  })

  it('reports limit changes and gives freed places to waiters', async () => {
    const clock = new VirtualClock()
    const changes: LimitChange[] = []
    const limiter = new ConcurrencyLimiter(
      new AimdLimit({ ...DEFAULT_AIMD, initialLimit: 2, minLimit: 1 }),
      10,
      100,
      clock,
      (c) => changes.push(c),
    )
    expect(limiter.tryAcquire()).toBe(true)
    expect(limiter.tryAcquire()).toBe(true)
    expect(limiter.tryAcquire()).toBe(false)
    let granted = false
    void limiter.acquire(1000, undefined, describe_).then(() => (granted = true))
    limiter.release({ now: 1, rtt: 5, inFlight: 2, dropped: false })
    await clock.advance(0)
    expect(changes).toEqual([{ from: 2, to: 3 }])
    expect(granted).toBe(true)
    expect(limiter.inFlight).toBe(2)
  })

  it('lets every waiter through when disposed, leaving no timer', async () => {
    const { clock, limiter, order, wait } = setup(1, 10)
    for (let i = 0; i < 4; i++) void wait(i)
    await clock.advance(0)
    limiter.dispose()
    await clock.advance(0)
    expect(order).toEqual([0, 1, 2, 3])
    expect(clock.pendingTimers).toBe(0)
  })

  describe('waits while the origin serves, and cuts waits to struggleWait while it struggles', () => {
    function struggling() {
      const clock = new VirtualClock()
      const limiter = new ConcurrencyLimiter(new FixedLimit(1), 100, 60_000, clock, undefined, 1000)
      const errors: unknown[] = []
      const granted: number[] = []
      const wait = (id: number, ms: number) =>
        void limiter.acquire(ms, undefined, describe_).then(
          () => granted.push(id),
          (error: unknown) => errors.push(error),
        )
      return { clock, limiter, errors, granted, wait }
    }

    it('keeps a waiter past struggleWait while places keep coming free', async () => {
      const { clock, limiter, errors, granted, wait } = struggling()
      expect(limiter.tryAcquire()).toBe(true)
      wait(1, 30_000)
      wait(2, 30_000)
      // Every 600 ms a place comes free, and the one in flight is taken again at once.
      for (let t = 0; t < 5; t++) {
        await clock.advance(600)
        limiter.release({ now: clock.now(), rtt: 600, inFlight: 1, dropped: false })
        await clock.advance(0)
      }
      expect(errors).toEqual([])
      expect(granted).toEqual([1, 2])
    })

    it('fails a waiter after struggleWait once no place has come free for that long', async () => {
      const { clock, limiter, errors, wait } = struggling()
      expect(limiter.tryAcquire()).toBe(true)
      wait(1, 30_000)
      await clock.advance(999)
      expect(errors).toEqual([])
      await clock.advance(1)
      expect(errors[0]).toBeInstanceOf(QueueTimeoutError)
      expect((errors[0] as Error).message).toBe(
        'waited 1000 ms in the queue for http://o.test (no place came free for maxQueueWait 1000 ms) without getting one of its 1 places; nothing was sent',
      )
      expect(clock.pendingTimers).toBe(0)
    })

    it('fails a waiter at struggleWait once the origin has shed, though places come free', async () => {
      const { clock, limiter, errors, granted, wait } = struggling()
      expect(limiter.tryAcquire()).toBe(true)
      expect(limiter.struggling(clock.now())).toBe(false)
      wait(1, 30_000)
      wait(2, 30_000)
      await clock.advance(500)
      // A drop frees a place (waiter 1 gets it) and marks the origin as struggling.
      limiter.release({ now: clock.now(), rtt: 500, inFlight: 1, dropped: true })
      expect(limiter.struggling(clock.now())).toBe(true)
      await clock.advance(499)
      expect(errors).toEqual([])
      await clock.advance(1)
      expect(granted).toEqual([1])
      expect((errors[0] as Error).message).toContain('the origin is shedding')
      // Ten seconds after the drop it is healthy again.
      await clock.advance(9_500)
      expect(limiter.struggling(clock.now())).toBe(false)
    })

    it('grows the limit from answers that came back while calls waited (slow start)', () => {
      const clock = new VirtualClock()
      const limiter = new ConcurrencyLimiter(new AimdLimit(DEFAULT_AIMD), 1000, 100, clock)
      for (let i = 0; i < 20; i++) expect(limiter.tryAcquire()).toBe(true)
      for (let i = 0; i < 100; i++) void limiter.acquire(30_000, undefined, describe_)
      // The first answers were sent with few in flight, yet calls wait: each one counts.
      for (let i = 1; i <= 20; i++) {
        limiter.release({ now: 200, rtt: 200, inFlight: i, dropped: false })
      }
      expect(limiter.limit).toBe(40)
      limiter.dispose()
    })
  })
})
