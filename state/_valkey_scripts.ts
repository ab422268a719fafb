// The Lua scripts behind ValkeyCache: leases, fills, write intents and write-through, each atomic per key.
//
// Per cached key three Valkey keys share one hash tag (so one cluster slot):
//   value  the cached value (decimal text, HYLL bytes or codec bytes)
//   meta   a hash: g = generation (changes whenever outstanding leases must fail),
//          x = the value's own expiry (epoch ms), i:<intent id> = that intent's deadline
//   tmp    scratch for PFMERGE's source, deleted in the same script
// Times come from the server's clock (TIME), so clients' clocks never matter.

const COMMON = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function ms(n)
  return string.format('%.0f', n)
end

-- Counts the intents still open and their earliest deadline; forgets expired ones.
local function open_intents(meta, now)
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

-- Keeps the meta hash at least as long as the value, an open intent, or a lease that may still name it.
local function keep_meta(meta, value, now, fill_lease, until_ms)
  local target = now + fill_lease
  if until_ms ~= nil and until_ms > target then target = until_ms end
  local value_ttl = redis.call('PTTL', value)
  if value_ttl > 0 and now + value_ttl > target then target = now + value_ttl end
  local meta_ttl = redis.call('PTTL', meta)
  if meta_ttl > 0 and now + meta_ttl >= target then return end
  if redis.call('EXISTS', meta) == 1 then redis.call('PEXPIREAT', meta, ms(target)) end
end
`;

/** KEYS: meta. Answers the generation and the server time, which make up a lease. */
export const LEASE = `${COMMON}
local g = redis.call('HGET', KEYS[1], 'g')
if not g then g = '' end
return {g, ms(now_ms())}
`;

/**
 * KEYS: value, meta. ARGV: generation, issued at, fill lease ms, value,
 * expires at ('' for none), max age ms. Answers 1 when stored.
 */
export const FILL = `${COMMON}
local now = now_ms()
if now - tonumber(ARGV[2]) > tonumber(ARGV[3]) then return 0 end
local g = redis.call('HGET', KEYS[2], 'g')
if not g then g = '' end
if g ~= ARGV[1] then return 0 end
if open_intents(KEYS[2], now) > 0 then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local expiry = now + tonumber(ARGV[6])
if ARGV[5] ~= '' and tonumber(ARGV[5]) < expiry then expiry = tonumber(ARGV[5]) end
if expiry <= now then return 0 end
redis.call('SET', KEYS[1], ARGV[4], 'PXAT', ms(expiry))
redis.call('HSET', KEYS[2], 'x', ms(expiry))
keep_meta(KEYS[2], KEYS[1], now, tonumber(ARGV[3]), nil)
return 1
`;

/**
 * KEYS: value, meta. ARGV: intent id, write lease ms, fill lease ms.
 * Opens the intent: outstanding leases fail, fills are refused until it
 * closes, and a present value expires at its deadline unless it closes.
 */
export const BEGIN = `${COMMON}
local now = now_ms()
local deadline = now + tonumber(ARGV[2])
redis.call('HSET', KEYS[2], 'g', ARGV[1], 'i:' .. ARGV[1], ms(deadline))
local value_ttl = redis.call('PTTL', KEYS[1])
if value_ttl == -1 or value_ttl > deadline - now then
  redis.call('PEXPIREAT', KEYS[1], ms(deadline))
end
keep_meta(KEYS[2], KEYS[1], now, tonumber(ARGV[3]), deadline)
return 1
`;

/**
 * KEYS: value, meta, tmp. ARGV: intent id, op, operand, expires at ('' for
 * none), fill lease ms. Ops: incr (INCRBY), max, min (numeric compare),
 * pfmerge (HYLL bytes), keep (close only), drop (invalidate).
 *
 * Answers 1 when the operand was folded into a present value, 0 when the
 * value was absent (it stays absent) or the op was keep, 2 when a present
 * value was dropped, 3 when the intent had expired or was unknown and
 * nothing was present.
 */
export const MERGE = `${COMMON}
local now = now_ms()
local field = 'i:' .. ARGV[1]
local deadline = redis.call('HGET', KEYS[2], field)
local fill_lease = tonumber(ARGV[5])
local op = ARGV[2]

local function drop(code_if_absent)
  local existed = redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'g', ARGV[1] .. '!' .. ms(now))
  redis.call('HDEL', KEYS[2], field)
  keep_meta(KEYS[2], KEYS[1], now, fill_lease, nil)
  if existed == 1 then return 2 end
  return code_if_absent
end

-- Without a live intent a fill may already hold this write: drop the key.
if not deadline or tonumber(deadline) <= now then return drop(3) end
if op == 'drop' then return drop(0) end
redis.call('HDEL', KEYS[2], field)
if redis.call('EXISTS', KEYS[1]) == 0 then
  -- A cold key stays cold, and a lease taken before this write must not fill it.
  redis.call('HSET', KEYS[2], 'g', ARGV[1] .. '+' .. ms(now))
  keep_meta(KEYS[2], KEYS[1], now, fill_lease, nil)
  return 0
end

local result = 0
if op == 'incr' then
  local reply = redis.pcall('INCRBY', KEYS[1], ARGV[3])
  if type(reply) == 'table' and reply.err then return drop(0) end
  result = 1
elseif op == 'max' or op == 'min' then
  local current = tonumber(redis.call('GET', KEYS[1]))
  local candidate = tonumber(ARGV[3])
  if candidate == nil then return drop(0) end
  if current == nil or (op == 'max' and candidate > current) or (op == 'min' and candidate < current) then
    redis.call('SET', KEYS[1], ARGV[3], 'KEEPTTL')
  end
  result = 1
elseif op == 'pfmerge' then
  redis.call('SET', KEYS[3], ARGV[3])
  local reply = redis.pcall('PFMERGE', KEYS[1], KEYS[3])
  redis.call('DEL', KEYS[3])
  if type(reply) == 'table' and reply.err then return drop(0) end
  result = 1
end

-- The value lives until its own expiry, or an open intent's deadline if sooner.
local expiry = tonumber(redis.call('HGET', KEYS[2], 'x'))
if ARGV[4] ~= '' then
  local wanted = tonumber(ARGV[4])
  if expiry == nil or wanted < expiry then
    expiry = wanted
    redis.call('HSET', KEYS[2], 'x', ms(expiry))
  end
end
local _, earliest = open_intents(KEYS[2], now)
if earliest ~= nil and (expiry == nil or earliest < expiry) then expiry = earliest end
if expiry ~= nil then
  if expiry <= now then
    return drop(0)
  end
  redis.call('PEXPIREAT', KEYS[1], ms(expiry))
end
keep_meta(KEYS[2], KEYS[1], now, fill_lease, nil)
return result
`;

/**
 * KEYS: value, meta. ARGV: generation token, intent id ('' for none), fill
 * lease ms. Drops the value and fails outstanding leases. Answers 1 when a
 * value was present.
 */
export const INVALIDATE = `${COMMON}
local now = now_ms()
local existed = redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[2], 'g', ARGV[1])
if ARGV[2] ~= '' then redis.call('HDEL', KEYS[2], 'i:' .. ARGV[2]) end
keep_meta(KEYS[2], KEYS[1], now, tonumber(ARGV[3]), nil)
return existed
`;
