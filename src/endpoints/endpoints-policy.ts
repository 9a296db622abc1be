import type { AttemptHook } from '../core/events.ts'
import type { Policy } from '../core/policy.ts'
import { InvalidOptionError } from '../errors.ts'
import type { EndpointStats } from './endpoint.ts'
import { ENDPOINT_SET, type EndpointSet } from './endpoint-set.ts'
import { endpointsLayerFrom } from './endpoints-layer.ts'
import { resolveEndpointsOptions, type ResolvedEndpoints } from './endpoints-options.ts'

/** Balancing over an origin's addresses (`endpoints`): off by default. */
export const endpointsPolicy: Policy<
  ResolvedEndpoints,
  { endpoints: EndpointStats[] | undefined }
> = {
  name: 'endpoints',
  options: ['endpoints'],
  resolve({ options }) {
    const settings = resolveEndpointsOptions('endpoints', options.endpoints)
    if (
      settings !== false &&
      (options.agent as { proxy?: unknown } | undefined)?.proxy !== undefined
    ) {
      throw new InvalidOptionError(
        'endpoints',
        options.endpoints,
        'false when agent.proxy is set: the proxy resolves the hostname and picks the address',
      )
    }
    return settings
  },
  create: (settings, { random, options }) => ({
    layer: endpointsLayerFrom(settings, random, options.onAttempt as AttemptHook | undefined),
    originStats(entry, state, now) {
      const set = state.peekSlot<EndpointSet | null>(ENDPOINT_SET)
      if (set !== null && set !== undefined && set.endpoints.length > 0) {
        entry.endpoints = set.stats(now)
      }
    },
  }),
}
