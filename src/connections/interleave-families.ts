/** An address as `dns.lookup(name, { all: true })` gives it. */
export interface ResolvedAddress {
  address: string
  family: number
}

/**
 * Orders addresses for connection attempts as RFC 8305 section 4 does: the resolver's order
 * (getaddrinfo already sorts by RFC 6724 preference) with the families alternated, starting with
 * the family of the first address, so that a broken family costs one attempt delay and not one
 * per address of it. Pure.
 */
export function interleaveFamilies(addresses: readonly ResolvedAddress[]): ResolvedAddress[] {
  if (addresses.length < 2) return [...addresses]
  const first = addresses[0]!.family
  const same: ResolvedAddress[] = []
  const other: ResolvedAddress[] = []
  for (const entry of addresses) (entry.family === first ? same : other).push(entry)
  const ordered: ResolvedAddress[] = []
  for (let i = 0; i < Math.max(same.length, other.length); i++) {
    if (i < same.length) ordered.push(same[i]!)
    if (i < other.length) ordered.push(other[i]!)
  }
  return ordered
}
