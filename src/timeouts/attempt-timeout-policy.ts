import type { Policy } from '../core/policy.ts'
import { attemptTimeoutLayerFrom } from './attempt-timeout-layer.ts'
import { resolvePropagation, type ResolvedTimeouts } from './timeout-options.ts'

/**
 * Each attempt's own timeout and the deadline header it sends: always on. Its options
 * (`attemptTimeout`, `propagation`) shape every call, so the client owns and checks them.
 */
export const attemptTimeoutPolicy: Policy<Pick<ResolvedTimeouts, 'header' | 'margin'>> = {
  name: 'attemptTimeout',
  options: [],
  resolve: ({ options }) => resolvePropagation(options.propagation),
  create: ({ header, margin }) => ({ layer: attemptTimeoutLayerFrom(header, margin) }),
}
