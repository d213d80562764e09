// The parts of RedisCacheBackend that do not depend on T: reading replies, mapping Redis errors to
// errc, deleting by pattern (SCAN + UNLINK) and running the counter script.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <asio/awaitable.hpp>

#include "corocache/cache_backend.hpp"
#include "corocache/detail/redis_link.hpp"

namespace corocache::detail {

/// Throws the cache_error for the error reply `reply` to `operation` on `key`: not_a_counter,
/// overflow and wrong_type for the errors Redis has for them, server_error with the server's
/// message otherwise.
[[noreturn]] void throw_reply_error(const redis_reply& reply, std::string_view operation,
                                    std::string_view key);

/// `reply` when it has kind `expected`; throws the mapped error for an error reply and
/// errc::protocol_error for any other kind.
const redis_reply& expect_reply(const redis_reply& reply, redis_reply::kind expected,
                                std::string_view operation, std::string_view key);

/// The integer of an integer reply (see expect_reply).
[[nodiscard]] long long expect_integer(const redis_reply& reply, std::string_view operation,
                                       std::string_view key);

/// Unlinks every key matching the SCAN MATCH glob `pattern`, a page of SCAN ... COUNT 1000 at a
/// time (never KEYS, which blocks the server); returns how many keys were removed. On a cluster,
/// every master is scanned in turn and each page's keys are unlinked with one UNLINK per slot. A
/// key whose slot moves, during the call, to a master already scanned is not seen.
[[nodiscard]] asio::awaitable<std::size_t> unlink_matching(std::shared_ptr<redis_link> link,
                                                           std::string pattern,
                                                           std::string operation);

/// Fails with errc::unsupported, naming the version, when the server is older than Redis 6.0
/// (the counter script needs SET ... KEEPTTL); with errc::invalid_argument when a one-node URL
/// names a Redis Cluster node (every other key would answer MOVED): use redis-cluster://.
[[nodiscard]] asio::awaitable<void> check_server_version(std::shared_ptr<redis_link> link);

/// Loads the counter script into the server's cache (every master's on a cluster); its SHA1, or ""
/// when the server refused (the counter then always sends the script with EVAL).
[[nodiscard]] asio::awaitable<std::string> load_counter_script(std::shared_ptr<redis_link> link);

/// What incr/decr send: the key as stored (prefixed) and the limits of the value type.
struct counter_request {
  std::string stored_key;
  std::string key;  ///< as the caller gave it, for messages
  std::int64_t delta = 0;
  std::int64_t initial = 0;
  optional_ttl ttl;
  std::string lowest;   ///< decimal lower bound of T, "" for none
  std::string highest;  ///< decimal upper bound of T, "" for none
};

/// Runs the counter script (EVALSHA `script_sha`, EVAL when the server lost the script); the new
/// value of the counter.
[[nodiscard]] asio::awaitable<std::int64_t> run_counter_script(std::shared_ptr<redis_link> link,
                                                               std::string script_sha,
                                                               counter_request request);

}  // namespace corocache::detail
