import { createHash } from 'node:crypto'

/**
 * The GCRA step (see `gcraReserve`) and the pause (`gcraPause`) as one Lua script, run atomically
 * on Redis's own clock (`TIME`), so instances whose clocks disagree share one schedule. Redis 3.2
 * to 4 refuse a write after `TIME` in a script unless it replicates its effects rather than
 * itself: `redis.replicate_commands()` asks for that (Redis 5 does it by default, 7 keeps the
 * call as a no-op). The key
 * holds the theoretical arrival time in epoch ms and expires when it passes (an expired key and
 * a past one mean the same: the full burst is free).
 *
 * KEYS[1]: the key. ARGV: interval, tolerance, maxWait (ms), mode (`r` reserve, `p` pause), and
 * for a pause its delay in ms. A reservation returns `{allowed (0|1), wait}` with `wait` as a
 * string, since Redis would truncate a Lua number to an integer.
 */
export const GCRA_SCRIPT = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
if ARGV[4] == 'p' then
  local paused = now + tonumber(ARGV[5]) + tolerance
  if paused > tat then
    redis.call('SET', KEYS[1], string.format('%.3f', paused), 'PX', math.ceil(paused - now) + 1)
  end
  return {1, '0'}
end
local start = math.max(tat, now)
local wait = math.max(0, start - tolerance - now)
if wait > tonumber(ARGV[3]) then
  return {0, tostring(wait)}
end
local nextTat = start + interval
redis.call('SET', KEYS[1], string.format('%.3f', nextTat), 'PX', math.ceil(nextTat - now) + 1)
return {1, tostring(wait)}
`

/** SHA-1 of {@link GCRA_SCRIPT}, for `EVALSHA`. */
export const GCRA_SCRIPT_SHA = createHash('sha1').update(GCRA_SCRIPT).digest('hex')
