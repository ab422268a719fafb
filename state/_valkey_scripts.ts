// The Lua scripts behind ValkeyCache: leases, fills, write intents and write-through, each atomic per key.
//
// Per cached key three Valkey keys share one hash tag (so one cluster slot):
//   value  the cached value (decimal text, HYLL bytes or codec bytes)
//   meta   a hash: g = generation (changes whenever outstanding leases must fail),
//          x = the value's own expiry (epoch ms), i:<intent id> = that intent's deadline
//   tmp    scratch for PFMERGE's source, deleted in the same script
// Each script handles a batch of keys (one key per call in cluster mode, where
// a call must stay in one slot); every key is handled on its own, atomically.
// Times come from the server's clock (TIME), so clients' clocks never matter.
// The meta hash is kept for `meta ttl` ms after each change: longer than any
// value, intent or lease it describes can live.

const COMMON = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function ms(n)
  return string.format('%.0f', n)
end

-- Counts the intents still open and their earliest deadline; forgets expired ones.
local function open_intents(meta)
  local fields = redis.call('HGETALL', meta)
  local open, earliest = 0, nil
  for i = 1, #fields, 2 do
    local field = fields[i]
    if string.sub(field, 1, 2) == 'i:' then
      local deadline = tonumber(fields[i + 1])
      if deadline > now then
        open = open + 1
        if earliest == nil or deadline < earliest then earliest = deadline end
      else
        redis.call('HDEL', meta, field)
      end
    end
  end
  return open, earliest
end
`;

/** KEYS: meta per key. Answers the server time, then each key's generation ('' for none). */
export const LEASE = `${COMMON}
local out = {ms(now)}
for i = 1, #KEYS do
  local g = redis.call('HGET', KEYS[i], 'g')
  if not g then g = '' end
  out[i + 1] = g
end
return out
`;

/**
 * KEYS: value, meta per key. ARGV: fill lease ms, max age ms, meta ttl ms,
 * then per key: generation, issued at, value, expires at ('' for none).
 * Answers per key 1 when stored, 0 when refused.
 */
export const FILL = `${COMMON}
local fill_lease, max_age, meta_ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local out = {}
for k = 1, #KEYS / 2 do
  local value, meta = KEYS[2 * k - 1], KEYS[2 * k]
  local a = 3 + 4 * (k - 1)
  local stored = 0
  local g = redis.call('HGET', meta, 'g')
  if not g then g = '' end
  if now - tonumber(ARGV[a + 2]) <= fill_lease and g == ARGV[a + 1]
    and open_intents(meta) == 0 and redis.call('EXISTS', value) == 0 then
    local expiry = now + max_age
    if ARGV[a + 4] ~= '' and tonumber(ARGV[a + 4]) < expiry then expiry = tonumber(ARGV[a + 4]) end
    if expiry > now then
      redis.call('SET', value, ARGV[a + 3], 'PXAT', ms(expiry))
      redis.call('HSET', meta, 'x', ms(expiry))
      redis.call('PEXPIRE', meta, meta_ttl)
      stored = 1
    end
  end
  out[k] = stored
end
return out
`;

/**
 * KEYS: value, meta per key. ARGV: intent id, write lease ms, meta ttl ms.
 * Opens the intent on each key: outstanding leases fail, fills are refused
 * until it closes, and a present value expires at its deadline unless it
 * closes.
 */
export const BEGIN = `${COMMON}
local deadline = now + tonumber(ARGV[2])
for k = 1, #KEYS / 2 do
  local value, meta = KEYS[2 * k - 1], KEYS[2 * k]
  redis.call('HSET', meta, 'g', ARGV[1], 'i:' .. ARGV[1], ms(deadline))
  redis.call('PEXPIRE', meta, ARGV[3])
  local value_ttl = redis.call('PTTL', value)
  if value_ttl == -1 or value_ttl > deadline - now then
    redis.call('PEXPIREAT', value, ms(deadline))
  end
end
return 1
`;

/**
 * KEYS: value, meta, tmp per key. ARGV: intent id, meta ttl ms, then per
 * key: op, operand, expires at ('' for none). Ops: incr (INCRBY), max, min
 * (numeric compare), pfmerge (HYLL bytes), keep (close only), drop
 * (invalidate).
 *
 * Answers per key 1 when the operand was folded into a present value, 0 when
 * the value was absent (it stays absent) or the op was keep, 2 when a present
 * value was dropped, 3 when the intent had expired or was unknown and
 * nothing was present.
 */
export const MERGE = `${COMMON}
local field = 'i:' .. ARGV[1]
local meta_ttl = ARGV[2]
local out = {}

local function drop(value, meta, code_if_absent)
  local existed = redis.call('DEL', value)
  redis.call('HSET', meta, 'g', ARGV[1] .. '!' .. ms(now))
  redis.call('HDEL', meta, field)
  redis.call('PEXPIRE', meta, meta_ttl)
  if existed == 1 then return 2 end
  return code_if_absent
end

local function merge(value, meta, tmp, op, operand, wanted)
  local deadline = redis.call('HGET', meta, field)
  -- Without a live intent a fill may already hold this write: drop the key.
  if not deadline or tonumber(deadline) <= now then return drop(value, meta, 3) end
  if op == 'drop' then return drop(value, meta, 0) end
  redis.call('HDEL', meta, field)
  if redis.call('EXISTS', value) == 0 then
    -- A cold key stays cold, and a lease taken before this write must not fill it.
    redis.call('HSET', meta, 'g', ARGV[1] .. '+' .. ms(now))
    redis.call('PEXPIRE', meta, meta_ttl)
    return 0
  end
  local result = 0
  if op == 'incr' then
    local reply = redis.pcall('INCRBY', value, operand)
    if type(reply) == 'table' and reply.err then return drop(value, meta, 0) end
    result = 1
  elseif op == 'max' or op == 'min' then
    local current = tonumber(redis.call('GET', value))
    local candidate = tonumber(operand)
    if candidate == nil then return drop(value, meta, 0) end
    if current == nil or (op == 'max' and candidate > current) or (op == 'min' and candidate < current) then
      redis.call('SET', value, operand, 'KEEPTTL')
    end
    result = 1
  elseif op == 'pfmerge' then
    redis.call('SET', tmp, operand)
    local reply = redis.pcall('PFMERGE', value, tmp)
    redis.call('DEL', tmp)
    if type(reply) == 'table' and reply.err then return drop(value, meta, 0) end
    result = 1
  end
  -- The value lives until its own expiry, or an open intent's deadline if sooner.
  local expiry = tonumber(redis.call('HGET', meta, 'x'))
  if wanted ~= '' then
    local w = tonumber(wanted)
    if expiry == nil or w < expiry then
      expiry = w
      redis.call('HSET', meta, 'x', ms(expiry))
    end
  end
  local _, earliest = open_intents(meta)
  if earliest ~= nil and (expiry == nil or earliest < expiry) then expiry = earliest end
  if expiry ~= nil then
    if expiry <= now then return drop(value, meta, 0) end
    redis.call('PEXPIREAT', value, ms(expiry))
  end
  redis.call('PEXPIRE', meta, meta_ttl)
  return result
end

for k = 1, #KEYS / 3 do
  local a = 3 + 3 * (k - 1)
  out[k] = merge(KEYS[3 * k - 2], KEYS[3 * k - 1], KEYS[3 * k], ARGV[a], ARGV[a + 1], ARGV[a + 2])
end
return out
`;

/**
 * KEYS: value, meta per key. ARGV: generation token, intent id ('' for
 * none), meta ttl ms. Drops each value and fails outstanding leases. Answers
 * how many values were present.
 */
export const INVALIDATE = `${COMMON}
local dropped = 0
for k = 1, #KEYS / 2 do
  local value, meta = KEYS[2 * k - 1], KEYS[2 * k]
  dropped = dropped + redis.call('DEL', value)
  redis.call('HSET', meta, 'g', ARGV[1])
  if ARGV[2] ~= '' then redis.call('HDEL', meta, 'i:' .. ARGV[2]) end
  redis.call('PEXPIRE', meta, ARGV[3])
end
return dropped
`;
