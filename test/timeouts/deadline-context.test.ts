import { describe, expect, it } from 'vitest'
import { InvalidOptionError, currentDeadline, withDeadline } from '../../src/index.ts'
import { VirtualClock } from '../../src/testing/index.ts'

describe('withDeadline', () => {
  it('is visible across awaits inside it, and gone outside it', async () => {
    const clock = new VirtualClock()
    expect(currentDeadline()).toBeUndefined()
    const seen = await withDeadline(
      500,
      async () => {
        await Promise.resolve()
        await new Promise((resolve) => setImmediate(resolve))
        return currentDeadline()?.remaining()
      },
      { clock },
    )
    expect(seen).toBe(500)
    expect(currentDeadline()).toBeUndefined()
  })

  it('counts down on its clock', async () => {
    const clock = new VirtualClock()
    await withDeadline(
      500,
      async () => {
        await clock.advance(200)
        expect(currentDeadline()?.remaining()).toBe(300)
      },
      { clock },
    )
  })

  it('can shorten an enclosing deadline but never extend it', () => {
    const clock = new VirtualClock()
    withDeadline(
      500,
      () => {
        withDeadline(1000, () => expect(currentDeadline()?.remaining()).toBe(500), { clock })
        withDeadline(100, () => expect(currentDeadline()?.remaining()).toBe(100), { clock })
      },
      { clock },
    )
  })

  it('takes a Date on the wall clock', () => {
    const clock = new VirtualClock()
    const at = new Date(clock.wallNow() + 1234)
    withDeadline(at, () => expect(currentDeadline()?.remaining()).toBe(1234), { clock })
  })

  it('keeps concurrent scopes apart', async () => {
    const clock = new VirtualClock()
    const read = (ms: number) =>
      withDeadline(
        ms,
        async () => {
          await new Promise((resolve) => setImmediate(resolve))
          return currentDeadline()?.remaining()
        },
        { clock },
      )
    expect(await Promise.all([read(100), read(200), read(300)])).toEqual([100, 200, 300])
  })

  it.each([-1, Number.NaN, Infinity, 2 ** 31, '5', new Date(Number.NaN)])('rejects %s', (value) => {
    expect(() => withDeadline(value as number, () => 0)).toThrow(InvalidOptionError)
  })
})
