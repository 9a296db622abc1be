import { describe, expect, it } from 'vitest'
import { getEventListeners } from 'node:events'
import { linkSignal } from '../../src/index.ts'

describe('linkSignal', () => {
  it('aborts the controller with the parent reason', () => {
    const parent = new AbortController()
    const child = new AbortController()
    linkSignal(parent.signal, child)
    const reason = new Error('why')
    parent.abort(reason)
    expect(child.signal.aborted).toBe(true)
    expect(child.signal.reason).toBe(reason)
  })

  it('unlinking removes the listener from the parent', () => {
    const parent = new AbortController()
    const unlinks = Array.from({ length: 1000 }, () =>
      linkSignal(parent.signal, new AbortController()),
    )
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(1000)
    for (const unlink of unlinks) unlink()
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0)
  })

  it('aborts at once for an aborted parent and adds no listener', () => {
    const parent = AbortSignal.abort('gone')
    const child = new AbortController()
    linkSignal(parent, child)
    expect(child.signal.reason).toBe('gone')
  })

  it('does nothing without a parent', () => {
    const child = new AbortController()
    linkSignal(undefined, child)()
    expect(child.signal.aborted).toBe(false)
  })
})
