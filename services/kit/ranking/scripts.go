package ranking

import "github.com/redis/go-redis/v9"

// Every script takes the board's keys as KEYS[1] the zset, KEYS[2] the hash,
// KEYS[3] the version (Store.keys); one hash tag puts them in one slot. Time
// is frozen while a script runs, so the expiries it sets agree with each other.

// pageScript: ARGV start, stop (positions, inclusive).
// Returns {0, version} when the board is missing ("" for no version), else
// {1, total, zmember, zscore, hvalue, …} for the page's entries.
var pageScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 0 then
  return {0, redis.call('GET', KEYS[3]) or ''}
end
local out = {1, redis.call('ZCARD', KEYS[1])}
local r = redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[2], 'WITHSCORES')
if #r == 0 then return out end
local members = {}
for i = 1, #r, 2 do
  local p = string.find(r[i], '\0', 1, true) or 0
  members[#members + 1] = string.sub(r[i], p + 1)
end
local hv = redis.call('HMGET', KEYS[2], unpack(members))
for i = 1, #members do
  out[#out + 1] = r[2 * i - 1]
  out[#out + 1] = r[2 * i]
  out[#out + 1] = hv[i]
end
return out
`)

// rankScript: ARGV member.
// Returns {0, version} when the board is missing, {1} when the member is not
// on it, else {2, position from 0, zscore, hvalue}; {3} when the hash has
// the member and the zset does not (not a board this package wrote).
var rankScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 0 then
  return {0, redis.call('GET', KEYS[3]) or ''}
end
local hv = redis.call('HGET', KEYS[2], ARGV[1])
if not hv then return {1} end
local p = string.find(hv, '\0', 1, true) or 1
local zm = string.sub(hv, 1, p - 1) .. '\0' .. ARGV[1]
local rank = redis.call('ZRANK', KEYS[1], zm)
if not rank then return {3} end
return {2, rank, redis.call('ZSCORE', KEYS[1], zm), hv}
`)

// rebuildScript: ARGV version read before loading, hash TTL ms, zset TTL ms,
// then per entry zscore, zmember, member, hvalue.
// Writes the board only if the version is still the one read before loading
// (an update since then may be missing from the load), and returns {1}; else
// returns {0, current version}. Entries go in batches of 500: unpack puts its
// arguments on Lua's stack, which is bounded.
var rebuildScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[3]) or ''
if cur ~= ARGV[1] then return {0, cur} end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[2], '', '')
local n = #ARGV
local i = 4
while i <= n do
  local j = math.min(i + 4 * 500 - 1, n)
  local z, h = {}, {}
  for k = i, j, 4 do
    z[#z + 1] = ARGV[k]
    z[#z + 1] = ARGV[k + 1]
    h[#h + 1] = ARGV[k + 2]
    h[#h + 1] = ARGV[k + 3]
  end
  redis.call('ZADD', KEYS[1], unpack(z))
  redis.call('HSET', KEYS[2], unpack(h))
  i = j + 1
end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1}
`)

// bumpVersion starts every update: ARGV[1] the version's TTL ms, ARGV[2] a
// random value for a version that does not exist (expired or never
// written). Starting afresh from a random value rather than from 1 means a
// version that expired and was recreated while a rebuild was loading cannot
// come back equal to what the rebuild read.
const bumpVersion = `
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('INCR', KEYS[3])
  redis.call('PEXPIRE', KEYS[3], ARGV[1])
else
  redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[1])
end
`

// upsertScript: ARGV version TTL, seed (bumpVersion), member, zscore,
// zmember, hvalue, zset grace ms.
// Bumps the version; on an existing board, replaces the member's entry and
// keeps the board's expiry (a zset that an empty board lacked gets the
// hash's). Returns 1 if the board existed, else 0.
var upsertScript = redis.NewScript(bumpVersion + `
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
local old = redis.call('HGET', KEYS[2], ARGV[3])
if old then
  local p = string.find(old, '\0', 1, true)
  if p then
    local ozm = string.sub(old, 1, p - 1) .. '\0' .. ARGV[3]
    if ozm ~= ARGV[5] then redis.call('ZREM', KEYS[1], ozm) end
  end
end
local fresh = redis.call('EXISTS', KEYS[1]) == 0
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[5])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[6])
if fresh then
  local ttl = redis.call('PTTL', KEYS[2])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl + tonumber(ARGV[7])) end
end
return 1
`)

// removeScript: ARGV version TTL, seed (bumpVersion), member.
// Bumps the version and takes the member off an existing board. Returns 1 if
// the board existed, else 0.
var removeScript = redis.NewScript(bumpVersion + `
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
local old = redis.call('HGET', KEYS[2], ARGV[3])
if not old then return 1 end
local p = string.find(old, '\0', 1, true)
if p then redis.call('ZREM', KEYS[1], string.sub(old, 1, p - 1) .. '\0' .. ARGV[3]) end
redis.call('HDEL', KEYS[2], ARGV[3])
return 1
`)

// dropScript: ARGV version TTL, seed (bumpVersion).
// Bumps the version (a rebuild loading now will not write) and deletes the board.
var dropScript = redis.NewScript(bumpVersion + `
redis.call('DEL', KEYS[1], KEYS[2])
return 1
`)
