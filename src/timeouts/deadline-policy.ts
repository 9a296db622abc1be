import type { Policy } from '../core/policy.ts'
import { deadlineLayer } from './deadline-layer.ts'

/**
 * The call's deadline, outermost: always on, since every call has one (its options are the
 * client's, read when a call is prepared).
 */
export const deadlinePolicy: Policy<true> = {
  name: 'deadline',
  options: [],
  resolve: () => true,
  create: () => ({ layer: deadlineLayer() }),
}
