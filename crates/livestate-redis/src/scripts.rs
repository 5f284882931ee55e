//! The Lua scripts: each is one atomic step in Redis.
//!
//! A lease's value is `node|epoch`; checking it whole (not just the epoch) is what fences
//! a node that lost its lease, even after Redis lost its data and epochs started over.

/// `KEYS`: lease, epoch counter. `ARGV`: node, lease ms. → `{"held", holder}` or
/// `{"ok", epoch}` (the state is loaded afterwards: only the lease holder commits).
pub(crate) const ACQUIRE: &str = r#"
local cur = redis.call('GET', KEYS[1])
if cur then
  local holder = string.match(cur, '^(.*)|%d+$') or cur
  if holder ~= ARGV[1] then return {'held', holder} end
end
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. epoch, 'PX', ARGV[2])
return {'ok', tostring(epoch)}
"#;

/// `KEYS`: lease. `ARGV`: lease value, lease ms. → 1 renewed, 0 lost.
pub(crate) const RENEW: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"#;

/// `KEYS`: lease, state, change log. `ARGV`: lease value, drop ('1': delete the state
/// too).
pub(crate) const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  if ARGV[2] == '1' then redis.call('DEL', KEYS[2], KEYS[3]) end
  return 1
end
return 0
"#;

/// Commit `K` changes, all or none. `KEYS`: lease, state, change log, then one event
/// marker per change. `ARGV`: lease value, first version, epoch, channel, whole ('1': store
/// the state and start a new log), whole state json (or empty), event marker seconds, `K`,
/// then for each change: message, has event ('1'), log entry.
///
/// The state hash holds the snapshot (`json` at `version`), the last committed version
/// (`head`), its `epoch`, and the size of the log since the snapshot (`logbytes`, `logn`);
/// the log holds `"VERSION PATCH"` for each version after the snapshot.
///
/// → `{"ok", logbytes, logn, snapshot bytes}`, `{"fenced"}`, `{"dup", index, version}`,
/// `{"order", head}`, `{"corrupt", head}`, or `{"whole"}` (no state stored yet: send it).
pub(crate) const COMMIT: &str = r#"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'fenced'} end
local k = tonumber(ARGV[8])
for i = 1, k do
  if ARGV[8 + 3 * i - 1] == '1' then
    local seen = redis.call('GET', KEYS[3 + i])
    if seen then return {'dup', tostring(i - 1), seen} end
  end
end
local first = tonumber(ARGV[2])
local last = first + k - 1
local st = redis.call('HMGET', KEYS[2], 'head', 'version')
local head = st[1] or st[2]
if head then
  local n = tonumber(head)
  if not n then return {'corrupt', head} end
  if n + 1 ~= first then return {'order', head} end
end
local logbytes, logn = 0, 0
if ARGV[5] == '1' then
  redis.call('DEL', KEYS[3])
  redis.call('HSET', KEYS[2], 'json', ARGV[6], 'version', last, 'head', last,
    'epoch', ARGV[3], 'logbytes', 0, 'logn', 0)
else
  if not head then return {'whole'} end
  local bytes = 0
  for i = 1, k do
    local entry = ARGV[8 + 3 * i]
    redis.call('RPUSH', KEYS[3], entry)
    bytes = bytes + string.len(entry)
  end
  logbytes = redis.call('HINCRBY', KEYS[2], 'logbytes', bytes)
  logn = redis.call('HINCRBY', KEYS[2], 'logn', k)
  redis.call('HSET', KEYS[2], 'head', last, 'epoch', ARGV[3])
end
for i = 1, k do
  if ARGV[8 + 3 * i - 1] == '1' then
    redis.call('SET', KEYS[3 + i], tostring(first + i - 1), 'EX', ARGV[7])
  end
  redis.call('PUBLISH', ARGV[4], ARGV[8 + 3 * i - 2])
end
return {'ok', tostring(logbytes), tostring(logn), tostring(redis.call('HSTRLEN', KEYS[2], 'json'))}
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
