import { InvalidOptionError } from '../errors.ts'
import { GCRA_SCRIPT, GCRA_SCRIPT_SHA } from './gcra-script.ts'

/** The part of an ioredis client the store uses (ioredis 5 and 6). */
export interface IoredisLike {
  evalsha(sha: string, numKeys: number, ...args: string[]): Promise<unknown>
  eval(script: string, numKeys: number, ...args: string[]): Promise<unknown>
}

/** The part of a node-redis client the store uses (`redis` 4 to 6, `@redis/client`). */
export interface NodeRedisLike {
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>
}

/** A Redis client the store accepts: ioredis (and its Cluster) or node-redis. */
export type RedisClientLike = IoredisLike | NodeRedisLike

/** Runs the GCRA script on one key. */
export type RunScript = (key: string, args: string[]) => Promise<unknown>

/**
 * A function that runs the GCRA script on `client`, whichever library it comes from: `EVALSHA`,
 * and `EVAL` (which loads the script) when Redis does not know it yet (`NOSCRIPT`: first use, a
 * restart, `SCRIPT FLUSH`, a failover).
 */
export function scriptRunner(client: unknown): RunScript {
  const c = client as Partial<IoredisLike & NodeRedisLike> | null
  if (c !== null && typeof c === 'object' && typeof c.evalSha === 'function') {
    const redis = c as NodeRedisLike
    return (key, args) => {
      const options = { keys: [key], arguments: args }
      return redis
        .evalSha(GCRA_SCRIPT_SHA, options)
        .catch((error: unknown) =>
          isNoScript(error) ? redis.eval(GCRA_SCRIPT, options) : Promise.reject(error as Error),
        )
    }
  }
  if (c !== null && typeof c === 'object' && typeof c.evalsha === 'function') {
    const redis = c as IoredisLike
    return (key, args) =>
      redis
        .evalsha(GCRA_SCRIPT_SHA, 1, key, ...args)
        .catch((error: unknown) =>
          isNoScript(error)
            ? redis.eval(GCRA_SCRIPT, 1, key, ...args)
            : Promise.reject(error as Error),
        )
  }
  throw new InvalidOptionError(
    'redisStore',
    client,
    'a Redis client: ioredis (evalsha) or node-redis (evalSha)',
  )
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT')
}
