import type { ShedHook } from '../core/events.ts'
import type { Policy } from '../core/policy.ts'
import { resolveThrottleOptions, type ThrottleOptions } from './adaptive-throttle.ts'
import { THROTTLED, throttleLayerFrom } from './throttle-layer.ts'

/** Adaptive throttling (`throttle` option): on by default, `false` turns it off. */
export const throttlePolicy: Policy<
  Readonly<Required<ThrottleOptions>>,
  { shed: { throttled: number } }
> = {
  name: 'throttle',
  options: ['throttle'],
  resolve({ options: { throttle } }) {
    if (throttle === false) return false
    return resolveThrottleOptions(
      'throttle',
      throttle === true || throttle === undefined ? {} : throttle,
    )
  },
  create: (settings, { random, options }) => ({
    layer: throttleLayerFrom(settings, random, options.onShed as ShedHook | undefined),
    originStats(entry, state) {
      entry.shed.throttled = state.tally(THROTTLED)
    },
  }),
}
