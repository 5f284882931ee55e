//! The Lua scripts: each is one atomic step in Redis.
//!
//! A lease's value is `node|epoch`; checking it whole (not just the epoch) is what fences
//! a node that lost its lease, even after Redis lost its data and epochs started over.

/// `KEYS`: lease, epoch counter, state. `ARGV`: node, lease ms.
/// → `{"held", holder}` or `{"ok", epoch, json, version, epoch}` (state fields nil when none).
pub(crate) const ACQUIRE: &str = r#"
local cur = redis.call('GET', KEYS[1])
if cur then
  local holder = string.match(cur, '^(.*)|%d+$') or cur
  if holder ~= ARGV[1] then return {'held', holder} end
end
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. epoch, 'PX', ARGV[2])
local st = redis.call('HMGET', KEYS[3], 'json', 'version', 'epoch')
return {'ok', tostring(epoch), st[1], st[2], st[3]}
"#;

/// `KEYS`: lease. `ARGV`: lease value, lease ms. → 1 renewed, 0 lost.
pub(crate) const RENEW: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"#;

/// `KEYS`: lease, state. `ARGV`: lease value, drop ('1': delete the state too).
pub(crate) const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  if ARGV[2] == '1' then redis.call('DEL', KEYS[2]) end
  return 1
end
return 0
"#;

/// `KEYS`: lease, state, event marker. `ARGV`: lease value, version, state json, epoch,
/// channel, message, has event ('1').
/// → `{"ok"}`, `{"fenced"}`, `{"dup", version}`, `{"order", stored}`, `{"corrupt", stored}`.
pub(crate) const COMMIT: &str = r#"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'fenced'} end
if ARGV[7] == '1' then
  local seen = redis.call('GET', KEYS[3])
  if seen then return {'dup', seen} end
end
local stored = redis.call('HGET', KEYS[2], 'version')
if stored then
  local n = tonumber(stored)
  if not n then return {'corrupt', stored} end
  if n + 1 ~= tonumber(ARGV[2]) then return {'order', stored} end
end
redis.call('HSET', KEYS[2], 'json', ARGV[3], 'version', ARGV[2], 'epoch', ARGV[4])
if ARGV[7] == '1' then redis.call('SET', KEYS[3], ARGV[2], 'EX', 600) end
redis.call('PUBLISH', ARGV[5], ARGV[6])
return {'ok'}
"#;

/// `KEYS`: lease. `ARGV`: channel, message. → receivers, or -1 when no lease is held.
pub(crate) const FORWARD: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('PUBLISH', ARGV[1], ARGV[2])
"#;

/// `KEYS`: attachments. `ARGV`: node, count, lease ms.
pub(crate) const ATTACH: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if tonumber(ARGV[2]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
end
return 1
"#;

/// `KEYS`: attachments. `ARGV`: node. → other live attachments.
pub(crate) const ELSEWHERE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local n = redis.call('ZCARD', KEYS[1])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then n = n - 1 end
return n
"#;

/// `KEYS`: presence hash, the node's set of topics with presence. `ARGV`: channel,
/// message, topic, joins count, then (field, entry) per join, then the fields that left.
pub(crate) const TRACK: &str = r#"
local joins = tonumber(ARGV[4])
for i = 1, joins do
  redis.call('HSET', KEYS[1], ARGV[3 + 2 * i], ARGV[4 + 2 * i])
end
for i = 5 + 2 * joins, #ARGV do
  redis.call('HDEL', KEYS[1], ARGV[i])
end
if joins > 0 then redis.call('SADD', KEYS[2], ARGV[3]) end
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 1
"#;

/// A dead node's presence: `KEYS`: its set of topics, the nodes zset. `ARGV`: node,
/// prefix. Removes its entries, publishes their leaves. → topics cleaned.
pub(crate) const CLEANUP: &str = r#"
local topics = redis.call('SMEMBERS', KEYS[1])
local mark = ARGV[1] .. '|'
for _, topic in ipairs(topics) do
  local pres = ARGV[2] .. ':{' .. topic .. '}:pres'
  local leaves = {}
  for _, field in ipairs(redis.call('HKEYS', pres)) do
    if string.sub(field, 1, #mark) == mark then
      table.insert(leaves, redis.call('HGET', pres, field))
      redis.call('HDEL', pres, field)
    end
  end
  if #leaves > 0 then
    redis.call('PUBLISH', ARGV[2] .. ':{' .. topic .. '}:chg',
      '{"Presence":{"joins":[],"leaves":[' .. table.concat(leaves, ',') .. ']}}')
  end
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return #topics
"#;
