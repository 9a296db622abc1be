import type { CallResponse } from '../core/middleware.ts'
import { classifyError, classifyStatus } from '../core/outcome.ts'

/**
 * Whether a retry's attempt counts against the budget: it reached the origin and failed. A
 * success, a caller's abort and a rejection on this side (nothing sent) cost nothing.
 */
export function chargeable(
  response: CallResponse | undefined,
  error: unknown,
  attempted: boolean,
): boolean {
  if (response !== undefined) return classifyStatus(response.statusCode) !== 'success'
  if (!attempted) return false
  const kind = classifyError(error, false)
  return kind !== 'local' && kind !== 'cancelled'
}
