// The Lua script behind RedisCacheBackend's incr/decr: one atomic round trip with the contract's
// semantics, which INCRBY alone does not have (a start value, a TTL only at creation, bounds of T).
#pragma once

#include <string_view>

namespace corocache::detail {

// KEYS[1]: the counter. ARGV: delta, initial, TTL in ms ("" for none), lowest and highest value T
// holds ("" for no bound). Returns the new value as a bulk string: Lua numbers are doubles, so an
// integer reply would lose precision beyond 2^53. Every failure leaves the key as it was; since a
// script is not rolled back on error, each step that can fail goes through pcall.
inline constexpr std::string_view counter_script = R"lua(
local function below(a, b)
  local a_negative, b_negative = a:sub(1, 1) == '-', b:sub(1, 1) == '-'
  if a_negative ~= b_negative then return a_negative end
  if a_negative then a, b = b:sub(2), a:sub(2) end
  if #a ~= #b then return #a < #b end
  return a < b
end
local key = KEYS[1]
local before = redis.pcall('GET', key)
if type(before) == 'table' and before.err then return before end
if before == false then
  if ARGV[3] == '' then
    redis.call('SET', key, ARGV[2])
  else
    redis.call('SET', key, ARGV[2], 'PX', ARGV[3])
  end
end
local result = redis.pcall('INCRBY', key, ARGV[1])
if type(result) == 'table' and result.err then
  if before == false then redis.call('DEL', key) end
  return result
end
local value = redis.call('GET', key)
if (ARGV[4] ~= '' and below(value, ARGV[4])) or (ARGV[5] ~= '' and below(ARGV[5], value)) then
  if before == false then
    redis.call('DEL', key)
  else
    redis.call('SET', key, before, 'KEEPTTL')
  end
  return redis.error_reply('ERR increment or decrement would overflow the value type')
end
return value
)lua";

// set_many with a TTL on a cluster, for the keys of one slot: KEYS are the keys, ARGV their values
// then the TTL in ms. A script runs whole on its master: the slot's keys are set atomically, in
// order, so a later duplicate wins as with MSET.
inline constexpr std::string_view set_many_script = R"lua(
local ttl = ARGV[#KEYS + 1]
for i, key in ipairs(KEYS) do redis.call('SET', key, ARGV[i], 'PX', ttl) end
return #KEYS
)lua";

}  // namespace corocache::detail
