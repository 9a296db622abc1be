import { getEventListeners } from 'node:events'
import { describe, expect, it } from 'vitest'
import { Cancellation, kOnCancel, type CancelListener } from '../../src/core/cancellation.ts'

describe('Cancellation', () => {
  it('runs each handler once with the reason, and only the first abort counts', () => {
    const c = new Cancellation()
    const seen: unknown[] = []
    c.onAbort((r) => seen.push(r))
    c.abort('first')
    c.abort('second')
    expect(seen).toEqual(['first'])
    expect(c.aborted).toBe(true)
    expect(c.reason).toBe('first')
  })

  it('runs a handler added after the abort at once', () => {
    const c = new Cancellation()
    c.abort('done')
    let got: unknown
    c.onAbort((r) => (got = r))
    expect(got).toBe('done')
  })

  it('does not run a removed handler', () => {
    const c = new Cancellation()
    let ran = false
    const remove = c.onAbort(() => (ran = true))
    remove()
    c.abort('x')
    expect(ran).toBe(false)
  })

  it('tells a listening object, in order with handlers, and not once it stopped listening', () => {
    const c = new Cancellation()
    const seen: string[] = []
    const listener = (name: string): CancelListener => ({
      [kOnCancel]: (reason) => seen.push(`${name}:${String(reason)}`),
    })
    const kept = listener('kept')
    const gone = listener('gone')
    c.listen(kept)
    c.onAbort((r) => seen.push(`fn:${String(r)}`))
    c.listen(gone)
    c.unlisten(gone)
    c.unlisten(listener('never')) // nothing
    c.abort('x')
    expect(seen).toEqual(['kept:x', 'fn:x'])
    // Listening after the abort: told at once.
    c.listen(listener('late'))
    expect(seen).toEqual(['kept:x', 'fn:x', 'late:x'])
  })

  it('tells handlers in the order they were added, whichever were removed', () => {
    const c = new Cancellation()
    const seen: string[] = []
    const removeA = c.onAbort(() => seen.push('a'))
    c.onAbort(() => seen.push('b'))
    removeA()
    c.onAbort(() => seen.push('c'))
    const removeD = c.onAbort(() => seen.push('d'))
    c.onAbort(() => seen.push('e'))
    removeD()
    c.abort('x')
    expect(seen).toEqual(['b', 'c', 'e'])
  })

  it('creates its AbortSignal on demand, aborted with the same reason', () => {
    const before = new Cancellation()
    const signal = before.signal
    before.abort('late')
    expect(signal.reason).toBe('late')
    const after = new Cancellation()
    after.abort('early')
    expect(after.signal.aborted).toBe(true)
    expect(after.signal.reason).toBe('early')
  })

  it('follows a signal with one listener that is removed when unfollowed', () => {
    const parent = new AbortController()
    const calls = Array.from({ length: 100 }, () => new Cancellation())
    const unfollows = calls.map((c) => c.follow(parent.signal))
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(100)
    for (const unfollow of unfollows.slice(1)) unfollow()
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(1)
    parent.abort('stop')
    expect(calls[0]?.reason).toBe('stop')
    expect(calls[1]?.aborted).toBe(false)
  })

  it('aborts at once when following an aborted signal', () => {
    const c = new Cancellation()
    c.follow(AbortSignal.abort('already'))
    expect(c.reason).toBe('already')
  })
})
