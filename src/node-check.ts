/**
 * The oldest Node this package runs on: undici 8 needs 22.19 (on 20 it crashes at load, inside
 * its decompress interceptor, with "Cannot read properties of undefined (reading 'bind')").
 */
export const MIN_NODE = '22.19.0'

/**
 * Why `version` (`process.versions.node`) cannot run netiquette, or `undefined` when it can.
 * Pure, for the tests; the check below runs it once at load.
 */
export function unsupportedNode(version: string): string | undefined {
  const [major = 0, minor = 0] = version.split('.').map(Number)
  const [needMajor = 0, needMinor = 0] = MIN_NODE.split('.').map(Number)
  if (major > needMajor || (major === needMajor && minor >= needMinor)) return undefined
  return `netiquette needs Node ${needMajor}.${needMinor} or later; this is ${version}`
}

// The built entry points import this file before anything else (tsup.config.ts puts the import
// first), so the message comes before undici's own crash. No import here: it must load on any
// Node. Its code is the stable NQ_UNSUPPORTED_NODE, as on every netiquette error.
const reason = unsupportedNode(process.versions.node)
if (reason !== undefined) {
  throw Object.assign(new Error(reason), {
    name: 'UnsupportedNodeError',
    code: 'NQ_UNSUPPORTED_NODE',
  })
}
