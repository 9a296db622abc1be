import { describe, expect, it } from 'vitest'
import * as netiquette from '../src/index.ts'
import { ErrorCodes, InvalidOptionError, NetiquetteError } from '../src/index.ts'

describe('errors', () => {
  it('every exported error class has a distinct stable code and is a NetiquetteError', () => {
    const classes = (Object.values(netiquette) as unknown[]).filter(
      (v): v is new (...args: never[]) => NetiquetteError =>
        typeof v === 'function' && v.prototype instanceof NetiquetteError,
    )
    const codes = new Set<string>()
    for (const Class of classes) {
      const error =
        Class === (InvalidOptionError as unknown)
          ? new InvalidOptionError('x', 1, 'y')
          : new (Class as unknown as new (m: string) => NetiquetteError)('message')
      expect(Object.values(ErrorCodes)).toContain(error.code)
      expect(error).toBeInstanceOf(Error)
      expect(error.attempts).toEqual([])
      codes.add(error.code)
    }
    expect(classes.length).toBeGreaterThanOrEqual(12)
    expect(codes.size).toBe(classes.length)
  })

  it('InvalidOptionError names the option, the value and what was expected', () => {
    const error = new InvalidOptionError('agent.connectTimeout', -1, 'a positive number')
    expect(error.message).toBe(
      'invalid option agent.connectTimeout: got -1, expected a positive number',
    )
    expect(error.option).toBe('agent.connectTimeout')
    expect(error.name).toBe('InvalidOptionError')
  })
})
