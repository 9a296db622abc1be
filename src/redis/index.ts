export { redisStore, RedisRateStore } from './redis-store.ts'
export type { RedisStoreOptions } from './redis-store.ts'
export type { IoredisLike, NodeRedisLike, RedisClientLike, RunScript } from './redis-eval.ts'
export { GCRA_SCRIPT } from './gcra-script.ts'
