// A policy of the test's own, to show the seam: it lives in this file alone and reaches the
// client through the list it is added to (createClientWith), as a new policy folder would.
import type { Policy } from '../../src/core/policy.ts'
import { CallKey } from '../../src/core/call-key.ts'
import { InvalidOptionError } from '../../src/errors.ts'

/** What the counting policy has seen. */
export interface Counts {
  calls: number
  /** Calls whose request carried `countAs`, by its value. */
  tagged: Map<string, number>
}

/** The request's `countAs` option, kept on the call under the policy's own key. */
export const COUNT_AS = new CallKey<string>('countAs')

/**
 * Counts the calls through it (`countCalls: true` turns it on) and the tags of requests that say
 * `countAs: 'name'`; `stats()` gains nothing, `handle` is the counts.
 */
export const countingPolicy: Policy<true> = {
  name: 'counting',
  options: ['countCalls'],
  resolve({ options }) {
    const value = options.countCalls
    if (value === undefined || value === false) return false
    if (value !== true) throw new InvalidOptionError('countCalls', value, 'a boolean')
    return true
  },
  create() {
    const counts: Counts = { calls: 0, tagged: new Map() }
    return {
      handle: counts,
      layer: (request, next) => {
        counts.calls++
        const tag = COUNT_AS.get(request)
        if (tag !== undefined) counts.tagged.set(tag, (counts.tagged.get(tag) ?? 0) + 1)
        return next(request)
      },
      requestOptions: [
        {
          name: 'countAs',
          key: COUNT_AS,
          resolve(value) {
            if (typeof value !== 'string')
              throw new InvalidOptionError('countAs', value, 'a string')
            return value
          },
        },
      ],
    }
  },
}
