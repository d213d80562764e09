// RedisCacheBackend<T, Codec>: the CacheBackend contract on a Redis server, plus Redis-only
// operations (TTL lookup and sets).
//
// - Every key is stored as prefix + key; clear() and invalidate_pattern() touch only keys under
//   the prefix, found with SCAN (never KEYS or FLUSHDB), so several backends can share a database.
// - Values go through Codec (codec<T> by default): bytes as they are for strings, decimal text for
//   numbers, JSON with json_codec.hpp. A stored value Codec cannot decode gives errc::codec_error
//   naming the key.
// - Each operation is one round trip; set_many with a TTL is atomic (MULTI/EXEC) and incr/decr run
//   as one Lua script.
// - Destroying the backend closes its connection: operations still pending fail with
//   errc::shut_down. An operation holds the connection, never `this`, from the moment it is
//   created: one created before the backend is destroyed and awaited after completes with
//   errc::shut_down and touches nothing freed.
// - With a redis-sentinel:// URL (or rediss-sentinel://, the same with every connection over TLS;
//   redis_options.hpp) every connect and reconnect asks the
//   Sentinels for the master and checks its ROLE first, and a subscription to the Sentinels'
//   +switch-master (and any READONLY reply) drops a master connection that is still up after a
//   failover, so the backend follows one by itself; operations in flight during one fail with
//   errc::connection_error or errc::timeout and may or may not have run.
// - With a redis-cluster:// URL each key goes to the master of its slot (CRC16 of the stored key,
//   or of its {hash tag}, modulo 16384), following MOVED and ASK. get_many, erase_many and
//   set_many send one command per slot, all at once, and merge the results in the caller's order;
//   set_many is atomic per slot only (all of it when every key shares a hash tag). clear() and
//   invalidate_pattern() scan every master. A `{` in the prefix makes it the hash tag of every key:
//   all of them then live in one slot, on one master.
#pragma once

#include "corocache/config.hpp"
#if !COROCACHE_WITH_REDIS
// clang-format off
#error "corocache was built without the Redis backend (COROCACHE_WITH_REDIS=OFF): only the memory and null backends are available"
// clang-format on
#endif

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "corocache/cache_backend.hpp"
#include "corocache/codec.hpp"
#include "corocache/connection_stats.hpp"
#include "corocache/detail/cluster_slot.hpp"
#include "corocache/detail/counter.hpp"
#include "corocache/detail/decimal.hpp"
#include "corocache/detail/deferred_error.hpp"
#include "corocache/detail/read_tally.hpp"
#include "corocache/detail/redis_commands.hpp"
#include "corocache/detail/redis_link.hpp"
#include "corocache/detail/redis_scripts.hpp"
#include "corocache/detail/stampede_lock.hpp"
#include "corocache/error.hpp"
#include "corocache/glob.hpp"
#include "corocache/redis_options.hpp"

namespace corocache {

/// The CacheBackend contract on a Redis server, for values that Codec turns into bytes (see the
/// top of this header).
template <class T, class Codec = codec<T>>
class RedisCacheBackend final : public CacheBackend<T>, public connection_stats_source {
  // A static_assert rather than a constraint: it names the fix instead of listing failed
  // requirements.
  static_assert(value_codec<Codec, T>,
                "RedisCacheBackend<T, Codec>: Codec cannot encode and decode T. Specialize "
                "corocache::codec<T> for your type (see corocache/codec.hpp), or pass a codec, "
                "e.g. RedisCacheBackend<T, corocache::json_codec<T>> (corocache/json_codec.hpp).");

 public:
  using typename CacheBackend<T>::key_list;
  using typename CacheBackend<T>::item_list;
  /// What get_ttl() returns: empty for a missing key, no_expiry for a key without a TTL.
  using ttl_result = std::optional<std::chrono::milliseconds>;

  /// Checks `options` (errc::invalid_argument) but connects only in
  /// initialize().
  RedisCacheBackend(asio::any_io_executor executor, redis_options options)
      : RedisCacheBackend(std::move(executor), detail::resolve_redis_options(options)) {}

  /// A backend for `url`; a ?prefix= parameter in the URL takes precedence over `prefix`.
  RedisCacheBackend(asio::any_io_executor executor, std::string url, std::string prefix = "cache:")
      : RedisCacheBackend(std::move(executor),
                          redis_options{.url = std::move(url), .prefix = std::move(prefix)}) {}

  /// A backend for already resolved settings (the registry's factory uses this one).
  RedisCacheBackend(asio::any_io_executor executor, detail::redis_settings settings)
      : prefix_(std::move(settings.prefix)),
        start_offline_(settings.allow_start_offline),
        connection_(detail::redis_link::create(std::move(executor), settings)) {}

  ~RedisCacheBackend() override { connection_->close_now(); }

  /// What the backend's connection has done: commands, replies, errors by errc, timeouts,
  /// cancellations, reconnects, handshake failures, health checks, operations in flight now.
  [[nodiscard]] redis_connection_stats connection_stats() const override {
    return connection_->stats();
  }

  /// The prefix in front of every key this backend stores.
  [[nodiscard]] const std::string& prefix() const noexcept { return prefix_; }

  /// The remaining lifetime of `key`: empty when it is missing, corocache::no_expiry when it
  /// never expires.
  [[nodiscard]] asio::awaitable<ttl_result> get_ttl(std::string key) {
    return this->template when_running<ttl_result>("get_ttl", [this,
                                                               key = std::move(key)]() mutable {
      auto command = keyed_command("PTTL", key);
      return connection_->execute(
          std::move(command), [key = std::move(key)](detail::redis_reply&& reply) -> ttl_result {
            const auto ttl = detail::expect_integer(reply, "get_ttl", key);
            if (ttl == -2) return std::nullopt;
            if (ttl == -1) return no_expiry;
            return std::chrono::milliseconds(ttl);
          });
    });
  }

  /// Adds `member` to the set at `key` (created when missing); true when it was not there yet.
  /// errc::wrong_type when `key` holds a value that is not a set.
  [[nodiscard]] asio::awaitable<bool> add_to_set(std::string key, T member) {
    return this->template when_running<bool>(
        "add_to_set", [this, key = std::move(key), member = std::move(member)]() mutable {
          return change_set<bool>("SADD", "add_to_set", std::move(key), std::span(&member, 1));
        });
  }

  /// Adds every member to the set at `key`; returns how many were not there yet.
  [[nodiscard]] asio::awaitable<std::size_t> add_many_to_set(std::string key,
                                                             std::vector<T> members) {
    return this->template when_running<std::size_t>(
        "add_many_to_set", [this, key = std::move(key), members = std::move(members)]() mutable {
          return change_set<std::size_t>("SADD", "add_many_to_set", std::move(key), members);
        });
  }

  /// The members of the set at `key`, in no particular order; empty when `key` is missing.
  [[nodiscard]] asio::awaitable<std::vector<T>> get_set_members(std::string key) {
    return this->template when_running<std::vector<T>>(
        "get_set_members", [this, key = std::move(key)]() mutable {
          auto command = keyed_command("SMEMBERS", key);
          return connection_->execute(
              std::move(command), [key = std::move(key)](detail::redis_reply&& reply) {
                std::vector<T> members;
                for (auto& element :
                     detail::expect_reply(reply, kind::array, "get_set_members", key).elements) {
                  detail::expect_reply(element, kind::string, "get_set_members", key);
                  members.push_back(decode(std::move(element.str), "get_set_members", key));
                }
                return members;
              });
        });
  }

  /// Removes `member` from the set at `key`; true when it was there.
  [[nodiscard]] asio::awaitable<bool> remove_from_set(std::string key, T member) {
    return this->template when_running<bool>(
        "remove_from_set", [this, key = std::move(key), member = std::move(member)]() mutable {
          return change_set<bool>("SREM", "remove_from_set", std::move(key), std::span(&member, 1));
        });
  }

 protected:
  // Each hook reads the members it needs when it is called, never when awaited: they are no
  // coroutines of this object, or coroutines whose parameters carry what they use. That is what
  // lets an operation outlive the backend.

  asio::awaitable<void> do_initialize() override {
    auto connection = connection_;
    co_await connection->connect();
    if (!start_offline_) {
      co_await detail::check_server_version(connection);
      script_sha_ = co_await detail::load_counter_script(connection);
    }
  }

  asio::awaitable<void> do_shutdown() override {
    auto connection = connection_;
    co_await connection->close();
  }

  // get and set, the hot paths, are no coroutines: the reply is decoded by the connection just
  // before the caller resumes (see redis_connection::execute).
  asio::awaitable<std::optional<T>> do_get(std::string key) override {
    auto command = keyed_command("GET", key);
    auto decode_get = [key = std::move(key)](detail::redis_reply&& reply) -> std::optional<T> {
      if (reply.type == kind::nil) return std::nullopt;
      detail::expect_reply(reply, kind::string, "get", key);
      return decode(std::move(reply.str), "get", key);
    };
    if (counting_reads_.load(std::memory_order_relaxed))
      return connection_->execute(std::move(command),
                                  detail::tallied_read(std::move(decode_get), reads_));
    return connection_->execute(std::move(command), std::move(decode_get));
  }

  // Reads are counted from the first call on (instrumented<T> makes it when it wraps this
  // backend), so that a backend nobody counts pays nothing for it.
  std::optional<read_counts> own_read_counts() const override {
    counting_reads_.store(true, std::memory_order_relaxed);
    return reads_->counts();
  }

  asio::awaitable<bool> do_set(std::string key, T value, optional_ttl ttl) override {
    detail::redis_command command;
    try {
      command = set_command(key, encode(value, "set", key), ttl);
    } catch (...) {
      // A value the codec refuses fails when awaited, like every other error.
      return detail::rethrow_when_awaited<bool>(std::current_exception());
    }
    return connection_->execute(std::move(command),
                                [key = std::move(key)](detail::redis_reply&& reply) {
                                  detail::expect_reply(reply, kind::status, "set", key);
                                  return true;
                                });
  }

  asio::awaitable<bool> do_erase(std::string key) override {
    return count_is_positive("DEL", "erase", std::move(key));
  }

  asio::awaitable<bool> do_exists(std::string key) override {
    return count_is_positive("EXISTS", "exists", std::move(key));
  }

  asio::awaitable<std::size_t> do_invalidate_pattern(std::string pattern) override {
    return detail::unlink_matching(connection_, glob_escape(prefix_) + pattern,
                                   "invalidate_pattern");
  }

  asio::awaitable<bool> do_clear() override { return cleared(connection_, glob_escape(prefix_)); }

  asio::awaitable<std::vector<std::optional<T>>> do_get_many(key_list keys) override {
    using result = std::vector<std::optional<T>>;
    if (keys.empty()) return detail::value_when_awaited(result{});
    if (connection_->is_cluster()) return cluster_get_many(std::move(keys));
    detail::redis_command command{"MGET"};
    for (const auto& key : keys) command.push_back(prefix_, key);
    auto decode_values = [keys = std::move(keys)](detail::redis_reply&& reply) {
      detail::expect_reply(reply, kind::array, "get_many", keys.front());
      if (reply.elements.size() != keys.size())
        detail::throw_error(errc::protocol_error, "get_many: MGET answered for another key count");
      result values;
      values.reserve(keys.size());
      for (std::size_t i = 0; i < keys.size(); ++i) {
        auto& element = reply.elements[i];
        if (element.type == kind::nil) {
          values.emplace_back();
        } else {
          detail::expect_reply(element, kind::string, "get_many", keys[i]);
          values.emplace_back(decode(std::move(element.str), "get_many", keys[i]));
        }
      }
      return values;
    };
    if (counting_reads_.load(std::memory_order_relaxed))
      return connection_->execute(std::move(command),
                                  detail::tallied_read(std::move(decode_values), reads_));
    return connection_->execute(std::move(command), std::move(decode_values));
  }

  asio::awaitable<bool> do_set_many(item_list items, optional_ttl ttl) override {
    if (items.empty()) return detail::value_when_awaited(true);
    try {
      if (connection_->is_cluster()) return cluster_set_many(std::move(items), ttl);
      if (!ttl) {
        // MSET applies its pairs in order, so a later duplicate key wins as the contract says.
        detail::redis_command command{"MSET"};
        for (const auto& [key, value] : items) {
          command.push_back(prefix_, key);
          command.push_back(encode(value, "set_many", key));
        }
        return connection_->execute(std::move(command), [key = std::move(items.front().first)](
                                                            detail::redis_reply&& reply) {
          detail::expect_reply(reply, kind::status, "set_many", key);
          return true;
        });
      }
      // MSET cannot set an expiry: SET ... PX per item, made atomic by MULTI/EXEC.
      std::vector<detail::redis_command> batch;
      batch.reserve(items.size() + 2);
      batch.push_back({"MULTI"});
      for (const auto& [key, value] : items)
        batch.push_back(set_command(key, encode(value, "set_many", key), ttl));
      batch.push_back({"EXEC"});
      return transaction(connection_->execute_batch(std::move(batch)), std::move(items));
    } catch (...) {
      return detail::rethrow_when_awaited<bool>(std::current_exception());
    }
  }

  asio::awaitable<std::size_t> do_erase_many(key_list keys) override {
    if (keys.empty()) return detail::value_when_awaited(std::size_t{0});
    if (connection_->is_cluster()) return cluster_erase_many(std::move(keys));
    // DEL counts a key listed twice once, as the contract wants.
    detail::redis_command command{"DEL"};
    for (const auto& key : keys) command.push_back(prefix_, key);
    return connection_->execute(
        std::move(command), [key = std::move(keys.front())](detail::redis_reply&& reply) {
          return static_cast<std::size_t>(detail::expect_integer(reply, "erase_many", key));
        });
  }

  asio::awaitable<std::int64_t> do_incr(std::string key, std::int64_t delta, std::int64_t initial,
                                        optional_ttl ttl) override {
    if constexpr (std::is_same_v<T, bool>) {
      // As in every backend: a bool is not a number, whatever its codec stores.
      return detail::rethrow_when_awaited<std::int64_t>(std::make_exception_ptr(
          cache_error(errc::not_a_counter,
                      "incr " + detail::printable_key(key) + ": a bool cannot hold a counter")));
    }
    auto [lowest, highest] = counter_limits();
    detail::counter_request request{stored(key),       std::move(key),    delta, initial, ttl,
                                    std::move(lowest), std::move(highest)};
    return detail::run_counter_script(connection_, script_sha_, std::move(request));
  }

  // The stampede lock: SET NX PX, and a compare-and-delete script (rare, so EVAL, not cached).
  asio::awaitable<bool> do_try_acquire_lock(std::string key, std::string token,
                                            std::chrono::milliseconds ttl) override {
    auto command = keyed_command("SET", key, 4, token.size() + 24);
    command.push_back(token);
    command.push_back("NX");
    command.push_back("PX");
    command.push_back(detail::to_decimal(ttl.count()));
    return connection_->execute(
        std::move(command), [key = std::move(key)](detail::redis_reply&& reply) {
          if (reply.type == kind::nil) return false;
          detail::expect_reply(reply, kind::status, "try_acquire_lock", key);
          return true;
        });
  }

  asio::awaitable<bool> do_release_lock(std::string key, std::string token) override {
    detail::redis_command command{"EVAL", detail::release_lock_script, "1"};
    command.push_back(prefix_, key);
    command.push_back(token);
    return connection_->execute(std::move(command),
                                [key = std::move(key)](detail::redis_reply&& reply) {
                                  return detail::expect_integer(reply, "release_lock", key) > 0;
                                });
  }

 private:
  using kind = detail::redis_reply::kind;

  // Checks the replies of a MULTI/EXEC set_many.
  static asio::awaitable<bool> transaction(asio::awaitable<std::vector<detail::redis_reply>> run,
                                           item_list items) {
    const auto replies = co_await std::move(run);
    // MULTI answers OK and each SET QUEUED; a command Redis refuses to queue aborts the EXEC.
    const auto& first_key = items.front().first;
    for (std::size_t i = 0; i + 1 < replies.size(); ++i) {
      const auto& item_key = i == 0 ? first_key : items[i - 1].first;
      detail::expect_reply(replies[i], kind::status, "set_many", item_key);
    }
    const auto& executed = detail::expect_reply(replies.back(), kind::array, "set_many", first_key);
    for (std::size_t i = 0; i < executed.elements.size() && i < items.size(); ++i)
      detail::expect_reply(executed.elements[i], kind::status, "set_many", items[i].first);
    co_return true;
  }

  // ---- redis-cluster://: multi-key operations, one command per slot, sent at once.

  // The caller's keys grouped by the slot of their stored form, and one command per group:
  // `verb`, then each key of the group (and its value when `items` is given).
  struct slot_commands {
    std::vector<detail::cluster_slot_group> groups;
    std::vector<detail::redis_command> commands;
  };
  slot_commands by_slot(std::span<const std::string> keys) const {
    std::vector<std::string> stored_keys;
    stored_keys.reserve(keys.size());
    for (const auto& key : keys) stored_keys.push_back(stored(key));
    return {detail::group_by_slot(stored_keys), {}};
  }

  // One `name` command per slot group, over that group's keys.
  slot_commands keyed_by_slot(std::string_view name, std::span<const std::string> keys) const {
    auto split = by_slot(keys);
    for (const auto& group : split.groups) {
      detail::redis_command command{name};
      for (const auto position : group.positions) command.push_back(prefix_, keys[position]);
      split.commands.push_back(std::move(command));
    }
    return split;
  }

  asio::awaitable<std::vector<std::optional<T>>> cluster_get_many(key_list keys) {
    auto split = keyed_by_slot("MGET", keys);
    auto run = connection_->execute_spread(std::move(split.commands));
    auto values = merged_values(std::move(run), std::move(split.groups), std::move(keys));
    if (counting_reads_.load(std::memory_order_relaxed))
      return detail::tallied(std::move(values), reads_);
    return values;
  }

  static asio::awaitable<std::vector<std::optional<T>>> merged_values(
      asio::awaitable<std::vector<detail::redis_reply>> run,
      std::vector<detail::cluster_slot_group> groups, key_list keys) {
    auto replies = co_await std::move(run);
    std::vector<std::optional<T>> values(keys.size());
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const auto& positions = groups[g].positions;
      auto& reply = replies[g];
      detail::expect_reply(reply, kind::array, "get_many", keys[positions.front()]);
      if (reply.elements.size() != positions.size())
        detail::throw_error(errc::protocol_error, "get_many: MGET answered for another key count");
      for (std::size_t i = 0; i < positions.size(); ++i) {
        auto& element = reply.elements[i];
        const auto& key = keys[positions[i]];
        if (element.type == kind::nil) continue;
        detail::expect_reply(element, kind::string, "get_many", key);
        values[positions[i]] = decode(std::move(element.str), "get_many", key);
      }
    }
    co_return values;
  }

  // MSET per slot; with a TTL, one script per slot that SETs each key with PX (MSET cannot
  // expire). Each runs whole on its master, so set_many is atomic per slot.
  asio::awaitable<bool> cluster_set_many(item_list items, optional_ttl ttl) {
    std::vector<std::string> keys;
    keys.reserve(items.size());
    for (const auto& item : items) keys.push_back(item.first);
    auto split = by_slot(keys);
    for (const auto& group : split.groups) {
      detail::redis_command command;
      if (ttl) {
        command.push_back("EVAL");
        command.push_back(detail::set_many_script);
        command.push_back(detail::to_decimal(group.positions.size()));
        for (const auto position : group.positions) command.push_back(prefix_, keys[position]);
        for (const auto position : group.positions) {
          const auto& [key, value] = items[position];
          command.push_back(encode(value, "set_many", key));
        }
        command.push_back(detail::to_decimal(ttl->count()));
      } else {
        command.push_back("MSET");
        for (const auto position : group.positions) {
          const auto& [key, value] = items[position];
          command.push_back(prefix_, key);
          command.push_back(encode(value, "set_many", key));
        }
      }
      split.commands.push_back(std::move(command));
    }
    auto run = connection_->execute_spread(std::move(split.commands));
    return all_stored(std::move(run), std::move(keys));
  }

  static asio::awaitable<bool> all_stored(asio::awaitable<std::vector<detail::redis_reply>> run,
                                          std::vector<std::string> keys) {
    const auto replies = co_await std::move(run);
    for (const auto& reply : replies) {
      if (reply.type == kind::error) detail::throw_reply_error(reply, "set_many", keys.front());
    }
    co_return true;
  }

  asio::awaitable<std::size_t> cluster_erase_many(key_list keys) {
    auto split = keyed_by_slot("DEL", keys);
    auto run = connection_->execute_spread(std::move(split.commands));
    return erased_count(std::move(run), std::move(keys.front()));
  }

  static asio::awaitable<std::size_t> erased_count(
      asio::awaitable<std::vector<detail::redis_reply>> run, std::string key) {
    const auto replies = co_await std::move(run);
    std::size_t erased = 0;
    for (const auto& reply : replies)
      erased += static_cast<std::size_t>(detail::expect_integer(reply, "erase_many", key));
    co_return erased;
  }

  // The decimal range of T a counter must stay in, "" for unbounded; the script enforces it so
  // that incr never leaves a value get() cannot decode.
  static std::pair<std::string, std::string> counter_limits() {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                  sizeof(T) < sizeof(std::int64_t)) {
      return {detail::to_decimal(std::numeric_limits<T>::min()),
              detail::to_decimal(std::numeric_limits<T>::max())};
    } else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T> &&
                         !std::is_same_v<T, bool>) {
      return {"0", ""};
    } else if constexpr (std::is_floating_point_v<T>) {
      return {detail::to_decimal(-detail::exact_double_limit),
              detail::to_decimal(detail::exact_double_limit)};
    } else {
      return {"", ""};
    }
  }

  // The prefixed key is written straight into the command, never concatenated first.
  // `more_bytes` and `more_arguments`: what the caller adds after the key, so it fits at once.
  detail::redis_command keyed_command(std::string_view verb, std::string_view key,
                                      std::size_t more_arguments = 0,
                                      std::size_t more_bytes = 0) const {
    detail::redis_command command;
    command.reserve(2 + more_arguments, verb.size() + prefix_.size() + key.size() + more_bytes);
    command.push_back(verb);
    command.push_back(prefix_, key);
    return command;
  }

  detail::redis_command set_command(std::string_view key, std::string_view bytes,
                                    optional_ttl ttl) const {
    auto command = keyed_command("SET", key, ttl ? 3 : 1, bytes.size() + (ttl ? 22 : 0));
    command.push_back(bytes);
    if (ttl) {
      command.push_back("PX");
      command.push_back(detail::to_decimal(ttl->count()));
    }
    return command;
  }

  // Codec failures, whatever a user's codec throws, become errc::codec_error naming the key.
  // A codec that hands out the bytes by reference (the one for std::string) is not copied here.
  static decltype(auto) encode(const T& value, std::string_view operation, std::string_view key) {
    try {
      if constexpr (std::is_same_v<decltype(Codec::encode(value)), const std::string&>)
        return Codec::encode(value);
      else
        return std::string(Codec::encode(value));
    } catch (const std::exception& e) {
      codec_failure(operation, key, "cannot encode the value", e);
    }
  }

  static T decode(std::string_view bytes, std::string_view operation, std::string_view key) {
    try {
      return Codec::decode(bytes);
    } catch (const std::exception& e) {
      codec_failure(operation, key, "cannot decode the stored value", e);
    }
  }

  // Bytes the caller no longer needs: a codec with a decode(std::string&&) overload (the one for
  // std::string) keeps them instead of copying them; any other sees a string_view.
  static T decode(std::string&& bytes, std::string_view operation, std::string_view key) {
    try {
      return Codec::decode(std::move(bytes));
    } catch (const std::exception& e) {
      codec_failure(operation, key, "cannot decode the stored value", e);
    }
  }

  [[noreturn]] static void codec_failure(std::string_view operation, std::string_view key,
                                         std::string_view what, const std::exception& e) {
    detail::throw_error(errc::codec_error, std::string(operation) + " " +
                                               detail::printable_key(key) + ": " +
                                               std::string(what) + ": " + e.what());
  }

  std::string stored(std::string_view key) const { return prefix_ + std::string(key); }

  // DEL or EXISTS of one key: true when the count is positive.
  asio::awaitable<bool> count_is_positive(std::string_view verb, const char* operation,
                                          std::string key) {
    auto command = keyed_command(verb, key);
    return connection_->execute(std::move(command),
                                [operation, key = std::move(key)](detail::redis_reply&& reply) {
                                  return detail::expect_integer(reply, operation, key) > 0;
                                });
  }

  // SADD or SREM: how many members changed (Result std::size_t), or whether any did (bool).
  template <class Result>
  asio::awaitable<Result> change_set(const char* verb, const char* operation, std::string key,
                                     std::span<const T> members) {
    if (members.empty()) return detail::value_when_awaited(Result{});
    detail::redis_command command;
    try {
      command = keyed_command(verb, key);
      for (const auto& member : members) command.push_back(encode(member, operation, key));
    } catch (...) {
      return detail::rethrow_when_awaited<Result>(std::current_exception());
    }
    return connection_->execute(
        std::move(command), [operation, key = std::move(key)](detail::redis_reply&& reply) {
          const auto changed = detail::expect_integer(reply, operation, key);
          if constexpr (std::is_same_v<Result, bool>) {
            return changed > 0;
          } else {
            return static_cast<Result>(changed);
          }
        });
  }

  static asio::awaitable<bool> cleared(std::shared_ptr<detail::redis_link> connection,
                                       std::string escaped_prefix) {
    co_await detail::unlink_matching(std::move(connection), std::move(escaped_prefix) + "*",
                                     "clear");
    co_return true;
  }

  std::string prefix_;
  bool start_offline_;
  std::shared_ptr<detail::redis_link> connection_;
  // Counted as replies are decoded, once asked for; shared with the reads in flight, which may
  // outlive this.
  std::shared_ptr<detail::read_tally> reads_ = std::make_shared<detail::read_tally>();
  mutable std::atomic<bool> counting_reads_{false};
  std::string script_sha_;
};

}  // namespace corocache
