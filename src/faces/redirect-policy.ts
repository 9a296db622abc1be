import { lookup } from 'node:dns/promises'
import { BlockList, isIP } from 'node:net'
import { HTTP_TOKEN } from '../core/headers.ts'
import { checkKnownKeys, isPlainObject } from '../core/validate.ts'
import { InvalidOptionError } from '../errors.ts'

/** How `client.fetch` follows redirects: the client's `redirect` option. */
export interface RedirectOptions {
  /**
   * Header names removed from a request when a redirect leaves its origin (another scheme, host
   * or port, so an https to http downgrade too), on top of `Authorization`,
   * `Proxy-Authorization`, `Cookie` and `X-API-Key`, which always are. Name every header that
   * carries a credential (`X-Auth-Token`, `X-Goog-Api-Key`): a redirect is the server's word,
   * and a compromised or misconfigured origin can point it anywhere.
   * @defaultValue `[]`: only the four above
   */
  secretHeaders?: readonly string[]
  /**
   * Address ranges (CIDR such as `"10.0.0.0/8"` or `"fd00::/8"`, or single addresses) a redirect
   * may not lead to, on top of the link-local ranges (`169.254.0.0/16`, `fe80::/10`) and AWS's
   * IPv6 metadata address (`fd00:ec2::254`), which are always refused: they hold cloud metadata
   * services that hand out credentials (the SSRF of a redirect to `169.254.169.254`). A host name
   * is resolved and refused when any of its addresses is in a range.
   * @defaultValue `[]`: only the ranges above
   */
  deny?: readonly string[]
}

/** @internal The validated {@link RedirectOptions}. */
export interface RedirectPolicy {
  /** Lower-case header names stripped on a redirect to another origin. */
  readonly secretHeaders: readonly string[]
  /** Refused addresses. */
  readonly deny: BlockList
  /** The refused ranges as given, for messages. */
  readonly denied: readonly string[]
}

/**
 * Sent only to the origin the caller named, never along a redirect to another one: Fetch strips
 * Authorization; undici, got and follow-redirects learned the others from advisories.
 */
export const CREDENTIAL_HEADERS: readonly string[] = Object.freeze([
  'authorization',
  'proxy-authorization',
  'cookie',
  'x-api-key',
])

/**
 * Always refused as redirect targets: IPv4 and IPv6 link-local (where cloud metadata services
 * answer, AWS, GCP and Azure at 169.254.169.254) and AWS's IPv6 metadata endpoint.
 */
export const DENIED_REDIRECT_RANGES: readonly string[] = Object.freeze([
  '169.254.0.0/16',
  'fe80::/10',
  'fd00:ec2::254/128',
])

/** @internal Validates the client's `redirect` option. */
export function resolveRedirectPolicy(where: string, value: unknown): RedirectPolicy {
  if (value !== undefined && !isPlainObject(value)) {
    throw new InvalidOptionError(where, value, 'an object such as { secretHeaders, deny }')
  }
  const options = (value ?? {}) as RedirectOptions
  checkKnownKeys(where, options as Record<string, unknown>, ['secretHeaders', 'deny'])
  const secretHeaders = [...CREDENTIAL_HEADERS]
  for (const name of listOption(`${where}.secretHeaders`, options.secretHeaders)) {
    if (typeof name !== 'string' || !HTTP_TOKEN.test(name)) {
      throw new InvalidOptionError(`${where}.secretHeaders`, name, 'header names')
    }
    const lower = name.toLowerCase()
    if (!secretHeaders.includes(lower)) secretHeaders.push(lower)
  }
  const deny = new BlockList()
  const denied = [...DENIED_REDIRECT_RANGES]
  for (const range of DENIED_REDIRECT_RANGES) addRange(deny, range)
  for (const range of listOption(`${where}.deny`, options.deny)) {
    if (typeof range !== 'string' || !addRange(deny, range)) {
      throw new InvalidOptionError(
        `${where}.deny`,
        range,
        'address ranges in CIDR form ("10.0.0.0/8", "fd00::/8") or single IP addresses',
      )
    }
    denied.push(range)
  }
  return { secretHeaders: Object.freeze(secretHeaders), deny, denied: Object.freeze(denied) }
}

/**
 * The first address of `hostname` (a URL's, brackets and all) that `policy` refuses, or
 * `undefined`. A name is resolved as the connection would resolve it (`dns.lookup`, every
 * address); one that does not resolve is not refused here: the request fails on its own.
 */
export async function deniedAddress(
  hostname: string,
  policy: RedirectPolicy,
): Promise<string | undefined> {
  const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname
  const family = isIP(host)
  if (family !== 0) return isDenied(policy.deny, host, family) ? host : undefined
  let addresses: { address: string; family: number }[]
  try {
    addresses = await lookup(host, { all: true })
  } catch {
    return undefined
  }
  for (const { address, family: f } of addresses) {
    if (isDenied(policy.deny, address, f)) return address
  }
  return undefined
}

function isDenied(deny: BlockList, address: string, family: number): boolean {
  return deny.check(address, family === 6 ? 'ipv6' : 'ipv4')
}

function addRange(list: BlockList, range: string): boolean {
  const slash = range.indexOf('/')
  const address = slash === -1 ? range : range.slice(0, slash)
  const family = isIP(address)
  if (family === 0) return false
  const max = family === 4 ? 32 : 128
  const prefixText = slash === -1 ? String(max) : range.slice(slash + 1)
  const prefix = Number(prefixText)
  if (!/^\d{1,3}$/.test(prefixText) || prefix > max) return false
  list.addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6')
  return true
}

function listOption(where: string, value: unknown): readonly unknown[] {
  if (value === undefined) return []
  if (!Array.isArray(value)) throw new InvalidOptionError(where, value, 'an array')
  return value
}
