// The policy seam (core/policy.ts): a policy of the test's own goes on the list and nowhere else,
// and the client validates its options, builds its layer, merges its request option and closes
// it, as it does for the policies it ships.
import { afterEach, describe, expect, it } from 'vitest'
import { Client } from '../src/client.ts'
import { POLICY_LIST } from '../src/client-setup.ts'
import { DEFAULT_POLICIES, type ClientPolicy } from '../src/policies.ts'
import type { ClientOptions, RequestOptions } from '../src/index.ts'
import { createFaultServer, type FaultServer } from '../src/testing/index.ts'
import { countingPolicy, type Counts } from './support/counting-policy.ts'

let server: FaultServer | undefined
const clients: Client[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.destroy()))
  await server?.close()
  server = undefined
})

// Options and request options the shipped types do not know: the policy brings its own.
const withCounting = (options: Record<string, unknown>) => options as ClientOptions
const tagged = (tag: unknown) => ({ countAs: tag }) as RequestOptions

/** A client assembled from `policies`, outermost first, instead of the default list. */
function createClientWith(options: ClientOptions, policies: readonly ClientPolicy[]): Client {
  return new Client({ ...options, [POLICY_LIST]: policies } as ClientOptions)
}

// Each client's counts: the handle its counting policy was built with.
const countingHandles = new WeakMap<Client, Counts>()

function countsOf(client: Client): Counts {
  const counts = countingHandles.get(client)
  if (counts === undefined) throw new Error('no counting policy on this client')
  return counts
}

/** A client with the counting policy last on the list: innermost, above the transport. */
function counted(options: Record<string, unknown>): Client {
  let counts: Counts | undefined
  const spy = {
    ...countingPolicy,
    create: (settings: true, context: Parameters<typeof countingPolicy.create>[1]) => {
      const made = countingPolicy.create(settings, context)
      counts = made.handle as Counts
      return made
    },
  }
  const client = createClientWith(withCounting(options), [...DEFAULT_POLICIES, spy])
  clients.push(client)
  if (counts !== undefined) countingHandles.set(client, counts)
  return client
}

describe('a policy added on the seam', () => {
  it('sees every call, and its request option reaches its layer under its own key', async () => {
    server = await createFaultServer()
    const client = counted({ origin: server.url, countCalls: true })
    for (const tag of ['a', 'b', 'a']) await (await client.request('/', tagged(tag))).body.dump()
    await (await client.request('/')).body.dump()
    const counts = countsOf(client)
    expect(counts.calls).toBe(4)
    expect([...counts.tagged]).toEqual([
      ['a', 2],
      ['b', 1],
    ])
  })

  it('validates its option at construction and its request option per call, with typed errors', async () => {
    expect(() => counted({ countCalls: 'yes' })).toThrow(
      expect.objectContaining({ code: 'NQ_INVALID_OPTION', option: 'countCalls' }),
    )
    server = await createFaultServer()
    const client = counted({ origin: server.url, countCalls: true })
    await expect(client.request('/', tagged(42))).rejects.toMatchObject({
      code: 'NQ_INVALID_OPTION',
      option: 'countAs',
    })
    expect(server.stats.requests).toBe(0)
  })

  it('turned off, it has no layer; its request option is still its own, not an unknown key', async () => {
    server = await createFaultServer()
    const client = counted({ origin: server.url })
    expect(countingHandles.get(client)).toBeUndefined()
    // Off: the option is refused as unknown, as any policy's would be when the policy is absent.
    await expect(client.request('/', tagged('a'))).rejects.toMatchObject({
      code: 'NQ_INVALID_OPTION',
      option: 'countAs',
    })
  })

  it('without it on the list, its options are unknown to the client', () => {
    expect(() => createClientWith(withCounting({ countCalls: true }), DEFAULT_POLICIES)).toThrow(
      expect.objectContaining({ code: 'NQ_INVALID_OPTION', option: 'countCalls' }),
    )
  })
})
