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
//   errc::shut_down. They may outlive the backend, since they hold the connection, never `this`,
//   once they have sent their command.
#pragma once

#include "corocache/config.hpp"
#if !COROCACHE_WITH_REDIS
// clang-format off
#error "corocache was built without the Redis backend (COROCACHE_WITH_REDIS=OFF): only the memory and null backends are available"
// clang-format on
#endif

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "corocache/cache_backend.hpp"
#include "corocache/codec.hpp"
#include "corocache/detail/counter.hpp"
#include "corocache/detail/decimal.hpp"
#include "corocache/detail/deferred_error.hpp"
#include "corocache/detail/redis_commands.hpp"
#include "corocache/detail/redis_connection.hpp"
#include "corocache/error.hpp"
#include "corocache/glob.hpp"
#include "corocache/redis_options.hpp"

namespace corocache {

/// The CacheBackend contract on a Redis server, for values that Codec turns into bytes (see the
/// top of this header).
template <class T, class Codec = codec<T>>
class RedisCacheBackend final : public CacheBackend<T> {
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

  /// Checks `options` (errc::invalid_argument, errc::unsupported) but connects only in
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
        connection_(
            detail::redis_connection::create(std::move(executor), connection_options(settings))) {}

  ~RedisCacheBackend() override { connection_->close_now(); }

  /// The prefix in front of every key this backend stores.
  [[nodiscard]] const std::string& prefix() const noexcept { return prefix_; }

  /// The remaining lifetime of `key`: empty when it is missing, corocache::no_expiry when it
  /// never expires.
  [[nodiscard]] asio::awaitable<ttl_result> get_ttl(std::string key) {
    if (auto e = this->unusable("get_ttl")) return detail::rethrow_when_awaited<ttl_result>(e);
    auto stored_key = stored(key);  // before key is moved from
    return ttl_of(std::move(stored_key), std::move(key));
  }

  /// Adds `member` to the set at `key` (created when missing); true when it was not there yet.
  /// errc::wrong_type when `key` holds a value that is not a set.
  [[nodiscard]] asio::awaitable<bool> add_to_set(std::string key, T member) {
    if (auto e = this->unusable("add_to_set")) return detail::rethrow_when_awaited<bool>(e);
    std::vector<T> members;
    members.push_back(std::move(member));
    return changed_any(change_set("SADD", "add_to_set", std::move(key), std::move(members)));
  }

  /// Adds every member to the set at `key`; returns how many were not there yet.
  [[nodiscard]] asio::awaitable<std::size_t> add_many_to_set(std::string key,
                                                             std::vector<T> members) {
    if (auto e = this->unusable("add_many_to_set"))
      return detail::rethrow_when_awaited<std::size_t>(e);
    return change_set("SADD", "add_many_to_set", std::move(key), std::move(members));
  }

  /// The members of the set at `key`, in no particular order; empty when `key` is missing.
  [[nodiscard]] asio::awaitable<std::vector<T>> get_set_members(std::string key) {
    if (auto e = this->unusable("get_set_members"))
      return detail::rethrow_when_awaited<std::vector<T>>(e);
    auto stored_key = stored(key);  // before key is moved from
    return members_of(std::move(stored_key), std::move(key));
  }

  /// Removes `member` from the set at `key`; true when it was there.
  [[nodiscard]] asio::awaitable<bool> remove_from_set(std::string key, T member) {
    if (auto e = this->unusable("remove_from_set")) return detail::rethrow_when_awaited<bool>(e);
    std::vector<T> members;
    members.push_back(std::move(member));
    return changed_any(change_set("SREM", "remove_from_set", std::move(key), std::move(members)));
  }

 protected:
  // Each hook reads the members it needs before its first co_await and only locals after it,
  // which is what lets a pending operation outlive the backend.

  asio::awaitable<void> do_initialize() override {
    auto connection = connection_;
    co_await connection->connect();
    script_sha_ = co_await detail::load_counter_script(connection);
  }

  asio::awaitable<void> do_shutdown() override {
    auto connection = connection_;
    co_await connection->close();
  }

  // get and set, the hot paths, are no coroutines: the reply is decoded by the connection just
  // before the caller resumes (see redis_connection::execute).
  asio::awaitable<std::optional<T>> do_get(std::string key) override {
    auto command = keyed_command("GET", key);
    return connection_->execute(
        std::move(command),
        [key = std::move(key)](detail::redis_reply&& reply) -> std::optional<T> {
          if (reply.type == kind::nil) return std::nullopt;
          detail::expect_reply(reply, kind::string, "get", key);
          return decode(std::move(reply.str), "get", key);
        });
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
    auto connection = connection_;
    auto command = keyed_command("DEL", key);
    const auto reply = co_await connection->execute(std::move(command));
    co_return detail::expect_integer(reply, "erase", key) > 0;
  }

  asio::awaitable<bool> do_exists(std::string key) override {
    auto connection = connection_;
    auto command = keyed_command("EXISTS", key);
    const auto reply = co_await connection->execute(std::move(command));
    co_return detail::expect_integer(reply, "exists", key) > 0;
  }

  asio::awaitable<std::size_t> do_invalidate_pattern(std::string pattern) override {
    return detail::unlink_matching(connection_, glob_escape(prefix_) + pattern,
                                   "invalidate_pattern");
  }

  asio::awaitable<bool> do_clear() override {
    auto connection = connection_;
    co_await detail::unlink_matching(connection, glob_escape(prefix_) + "*", "clear");
    co_return true;
  }

  asio::awaitable<std::vector<std::optional<T>>> do_get_many(key_list keys) override {
    std::vector<std::optional<T>> values;
    if (keys.empty()) co_return values;
    auto connection = connection_;
    detail::redis_command command{"MGET"};
    for (const auto& key : keys) command.push_back(prefix_, key);
    auto reply = co_await connection->execute(std::move(command));
    detail::expect_reply(reply, kind::array, "get_many", keys.front());
    if (reply.elements.size() != keys.size())
      detail::throw_error(errc::protocol_error, "get_many: MGET answered for another key count");
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
    co_return values;
  }

  asio::awaitable<bool> do_set_many(item_list items, optional_ttl ttl) override {
    if (items.empty()) co_return true;
    auto connection = connection_;
    if (!ttl) {
      // MSET applies its pairs in order, so a later duplicate key wins as the contract says.
      detail::redis_command command{"MSET"};
      for (const auto& [key, value] : items) {
        command.push_back(prefix_, key);
        command.push_back(encode(value, "set_many", key));
      }
      const auto reply = co_await connection->execute(std::move(command));
      detail::expect_reply(reply, kind::status, "set_many", items.front().first);
      co_return true;
    }
    // MSET cannot set an expiry: SET ... PX per item, made atomic by MULTI/EXEC.
    std::vector<detail::redis_command> batch;
    batch.reserve(items.size() + 2);
    batch.push_back({"MULTI"});
    for (const auto& [key, value] : items)
      batch.push_back(set_command(key, encode(value, "set_many", key), ttl));
    batch.push_back({"EXEC"});
    const auto replies = co_await connection->execute_batch(std::move(batch));
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

  asio::awaitable<std::size_t> do_erase_many(key_list keys) override {
    if (keys.empty()) co_return 0;
    auto connection = connection_;
    // DEL counts a key listed twice once, as the contract wants.
    detail::redis_command command{"DEL"};
    for (const auto& key : keys) command.push_back(prefix_, key);
    const auto reply = co_await connection->execute(std::move(command));
    co_return static_cast<std::size_t>(detail::expect_integer(reply, "erase_many", keys.front()));
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

 private:
  using kind = detail::redis_reply::kind;

  static detail::redis_connection_options connection_options(const detail::redis_settings& s) {
    detail::redis_connection_options options;
    options.endpoint.host = s.address.host;
    options.endpoint.port = s.address.port;
    options.endpoint.unix_path = s.address.unix_path;
    options.endpoint.user = s.address.user;
    options.endpoint.password = s.address.password;
    options.endpoint.db = s.address.db;
    options.connect_timeout = s.connect_timeout;
    options.command_timeout = s.command_timeout;
    options.reconnect_min = s.reconnect_min;
    options.reconnect_max = s.reconnect_max;
    return options;
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

  asio::awaitable<ttl_result> ttl_of(std::string stored_key, std::string key) {
    auto connection = connection_;
    detail::redis_command command{"PTTL", std::move(stored_key)};
    const auto reply = co_await connection->execute(std::move(command));
    const auto ttl = detail::expect_integer(reply, "get_ttl", key);
    if (ttl == -2) co_return std::nullopt;
    if (ttl == -1) co_return no_expiry;
    co_return std::chrono::milliseconds(ttl);
  }

  asio::awaitable<std::size_t> change_set(const char* verb, const char* operation, std::string key,
                                          std::vector<T> members) {
    if (members.empty()) co_return 0;
    auto connection = connection_;
    auto command = keyed_command(verb, key);
    for (const auto& member : members) command.push_back(encode(member, operation, key));
    const auto reply = co_await connection->execute(std::move(command));
    co_return static_cast<std::size_t>(detail::expect_integer(reply, operation, key));
  }

  static asio::awaitable<bool> changed_any(asio::awaitable<std::size_t> change) {
    co_return co_await std::move(change) > 0;
  }

  asio::awaitable<std::vector<T>> members_of(std::string stored_key, std::string key) {
    auto connection = connection_;
    detail::redis_command command{"SMEMBERS", std::move(stored_key)};
    const auto reply = co_await connection->execute(std::move(command));
    std::vector<T> members;
    for (const auto& element :
         detail::expect_reply(reply, kind::array, "get_set_members", key).elements)
      members.push_back(
          decode(detail::expect_reply(element, kind::string, "get_set_members", key).str,
                 "get_set_members", key));
    co_return members;
  }

  std::string prefix_;
  std::shared_ptr<detail::redis_connection> connection_;
  std::string script_sha_;
};

}  // namespace corocache
