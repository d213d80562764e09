// The CacheBackend<T> contract: the coroutine interface every corocache backend implements.
//
// Semantics shared by every backend (the conformance suite in tests/ checks each of them):
// - Keys are arbitrary byte strings: empty keys and keys holding NUL, CR or LF bytes are valid.
// - Every operation is an asio::awaitable and starts only when awaited. Arguments are taken by
//   value, so an awaitable never refers to a caller's temporaries.
// - A miss (missing or expired key) is an empty std::optional, never an exception. Failures throw
//   corocache::cache_error with an errc code.
// - A TTL is optional_ttl: std::nullopt means "never expires"; set() without a TTL removes any
//   earlier expiry. A TTL <= 0 is rejected with errc::invalid_argument.
// - incr/decr: a missing or expired key starts from `initial`, so the first call returns
//   initial + amount (initial - amount for decr). The TTL applies only when the counter is created;
//   an existing counter keeps its expiry (fixed-window semantics). A stored value that is not an
//   integer gives errc::not_a_counter, a result outside std::int64_t (or T) gives errc::overflow;
//   the stored value is unchanged in both cases. get() on a counter returns it through T: decimal
//   text for string types, the number for arithmetic types.
// - invalidate_pattern(glob) removes the keys matching a Redis glob (see glob.hpp).
// - Operations need initialize() to have completed (errc::not_initialized before) and fail with
//   errc::shut_down after shutdown(). Both lifecycle calls are idempotent.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "corocache/detail/deferred_error.hpp"
#include "corocache/error.hpp"
#include "corocache/get_or_set.hpp"

namespace corocache {

/// How long an entry lives; std::nullopt means it never expires.
using optional_ttl = std::optional<std::chrono::milliseconds>;

/// What get_ttl() reports for a key that exists but never expires.
inline constexpr std::chrono::milliseconds no_expiry{-1};

/// The interface every backend implements, for values of type T (the contract is described at the
/// top of this header). A backend of one's own derives from it and implements the do_ hooks.
template <class T>
class CacheBackend {
 public:
  /// The type of the cached values.
  using value_type = T;
  /// Keys for the bulk operations.
  using key_list = std::vector<std::string>;
  /// Key and value pairs for set_many().
  using item_list = std::vector<std::pair<std::string, T>>;

  CacheBackend() = default;
  CacheBackend(const CacheBackend&) = delete;
  CacheBackend& operator=(const CacheBackend&) = delete;
  virtual ~CacheBackend() = default;

  /// Prepares the backend (connects, for a networked one). Completes at once if already done.
  [[nodiscard]] asio::awaitable<void> initialize() {
    int expected = created;
    if (!state_.compare_exchange_strong(expected, initializing)) {
      if (expected == running) co_return;
      if (expected == initializing)
        detail::throw_error(errc::not_initialized, "initialize: already in progress");
      detail::throw_error(errc::shut_down, "initialize: backend was shut down");
    }
    try {
      co_await do_initialize();
    } catch (...) {
      state_.store(created);
      throw;
    }
    int still_initializing = initializing;
    if (!state_.compare_exchange_strong(still_initializing, running)) co_await do_shutdown();
  }

  /// Releases the backend's resources; pending operations fail with errc::shut_down. Final.
  [[nodiscard]] asio::awaitable<void> shutdown() {
    const int previous = state_.exchange(stopped);
    if (previous == running) co_await do_shutdown();
  }

  /// The value stored under `key`, or an empty optional when it is missing or expired.
  [[nodiscard]] asio::awaitable<std::optional<T>> get(std::string key) {
    if (auto e = unusable("get")) return detail::rethrow_when_awaited<std::optional<T>>(e);
    return do_get(std::move(key));
  }

  /// Stores `value` under `key`, replacing any value and expiry. Returns true when stored.
  [[nodiscard]] asio::awaitable<bool> set(std::string key, T value,
                                          optional_ttl ttl = std::nullopt) {
    if (auto e = unusable("set", ttl)) return detail::rethrow_when_awaited<bool>(e);
    return do_set(std::move(key), std::move(value), ttl);
  }

  /// Removes `key`. Returns true when a (live) key was removed.
  [[nodiscard]] asio::awaitable<bool> erase(std::string key) {
    if (auto e = unusable("erase")) return detail::rethrow_when_awaited<bool>(e);
    return do_erase(std::move(key));
  }

  /// True when `key` holds a value that has not expired.
  [[nodiscard]] asio::awaitable<bool> exists(std::string key) {
    if (auto e = unusable("exists")) return detail::rethrow_when_awaited<bool>(e);
    return do_exists(std::move(key));
  }

  /// Removes every key matching the Redis glob `pattern`; returns how many were removed.
  [[nodiscard]] asio::awaitable<std::size_t> invalidate_pattern(std::string pattern) {
    if (auto e = unusable("invalidate_pattern"))
      return detail::rethrow_when_awaited<std::size_t>(e);
    return do_invalidate_pattern(std::move(pattern));
  }

  /// Removes every key of this backend (for Redis: every key under its prefix).
  [[nodiscard]] asio::awaitable<bool> clear() {
    if (auto e = unusable("clear")) return detail::rethrow_when_awaited<bool>(e);
    return do_clear();
  }

  /// One result per key, in the order of `keys`; duplicates are allowed and each gets a result.
  [[nodiscard]] asio::awaitable<std::vector<std::optional<T>>> get_many(key_list keys) {
    using result = std::vector<std::optional<T>>;
    if (auto e = unusable("get_many")) return detail::rethrow_when_awaited<result>(e);
    return do_get_many(std::move(keys));
  }

  /// Stores every item with the same TTL; a later duplicate key wins. Returns true when stored.
  [[nodiscard]] asio::awaitable<bool> set_many(item_list items, optional_ttl ttl = std::nullopt) {
    if (auto e = unusable("set_many", ttl)) return detail::rethrow_when_awaited<bool>(e);
    return do_set_many(std::move(items), ttl);
  }

  /// Removes every listed key; returns how many distinct live keys were removed.
  [[nodiscard]] asio::awaitable<std::size_t> erase_many(key_list keys) {
    if (auto e = unusable("erase_many")) return detail::rethrow_when_awaited<std::size_t>(e);
    return do_erase_many(std::move(keys));
  }

  /// Adds `amount` to the counter at `key` (created from `initial` when missing); the new value.
  [[nodiscard]] asio::awaitable<std::int64_t> incr(std::string key, std::int64_t amount = 1,
                                                   std::int64_t initial = 0,
                                                   optional_ttl ttl = std::nullopt) {
    if (auto e = unusable("incr", ttl)) return detail::rethrow_when_awaited<std::int64_t>(e);
    return do_incr(std::move(key), amount, initial, ttl);
  }

  /// The value under `key`; on a miss, loader()'s value, stored with `ttl`. Concurrent callers
  /// of one key share one load. Semantics and the loader's requirements: get_or_set.hpp.
  template <class Loader>
  requires cache_loader<Loader, T>
  [[nodiscard]] asio::awaitable<T> get_or_set(std::string key, Loader loader,
                                              optional_ttl ttl = std::nullopt) {
    return get_or_set(std::move(key), std::move(loader), get_or_set_options{.ttl = ttl});
  }

  /// get_or_set with stale-while-revalidate and the other options of get_or_set.hpp.
  template <class Loader>
  requires cache_loader<Loader, T>
  [[nodiscard]] asio::awaitable<T> get_or_set(std::string key, Loader loader,
                                              get_or_set_options options) {
    return detail::get_or_set<T>(unusable_for_get_or_set(options), *this, loads_, std::move(key),
                                 std::move(loader), std::move(options));
  }

  /// What get_or_set has done on this backend: loads, shared waits, refreshes.
  [[nodiscard]] load_counters load_stats() const { return loads_.counters(); }

  /// Keys being loaded by get_or_set now.
  [[nodiscard]] std::size_t loads_in_progress() const { return loads_.size(); }

  /// Subtracts `amount` from the counter at `key`; otherwise exactly like incr().
  [[nodiscard]] asio::awaitable<std::int64_t> decr(std::string key, std::int64_t amount = 1,
                                                   std::int64_t initial = 0,
                                                   optional_ttl ttl = std::nullopt) {
    if (auto e = unusable("decr", ttl)) return detail::rethrow_when_awaited<std::int64_t>(e);
    if (amount == std::numeric_limits<std::int64_t>::min()) {
      return detail::rethrow_when_awaited<std::int64_t>(std::make_exception_ptr(cache_error(
          errc::overflow,
          "decr " + detail::printable_key(key) + ": the amount INT64_MIN cannot be negated")));
    }
    return do_incr(std::move(key), -amount, initial, ttl);
  }

 protected:
  // The hooks backends implement. Arguments are already checked and the backend is running.
  /// Implements initialize(); runs once.
  virtual asio::awaitable<void> do_initialize() = 0;
  /// Implements shutdown(); runs once, after a successful initialize().
  virtual asio::awaitable<void> do_shutdown() = 0;
  /// Implements get().
  virtual asio::awaitable<std::optional<T>> do_get(std::string key) = 0;
  /// Implements set(); `ttl` is empty or positive.
  virtual asio::awaitable<bool> do_set(std::string key, T value, optional_ttl ttl) = 0;
  /// Implements erase().
  virtual asio::awaitable<bool> do_erase(std::string key) = 0;
  /// Implements exists().
  virtual asio::awaitable<bool> do_exists(std::string key) = 0;
  /// Implements invalidate_pattern().
  virtual asio::awaitable<std::size_t> do_invalidate_pattern(std::string pattern) = 0;
  /// Implements clear().
  virtual asio::awaitable<bool> do_clear() = 0;
  /// Implements get_many().
  virtual asio::awaitable<std::vector<std::optional<T>>> do_get_many(key_list keys) = 0;
  /// Implements set_many(); `ttl` is empty or positive.
  virtual asio::awaitable<bool> do_set_many(item_list items, optional_ttl ttl) = 0;
  /// Implements erase_many().
  virtual asio::awaitable<std::size_t> do_erase_many(key_list keys) = 0;
  /// Implements incr() and decr() (with `delta` negated).
  virtual asio::awaitable<std::int64_t> do_incr(std::string key, std::int64_t delta,
                                                std::int64_t initial, optional_ttl ttl) = 0;

  /// The error an operation named `operation` must fail with now, or null when it may run.
  /// Backends use it for their own extra operations (e.g. Redis sets).
  [[nodiscard]] std::exception_ptr unusable(const char* operation,
                                            optional_ttl ttl = std::nullopt) const {
    const int state = state_.load(std::memory_order_acquire);
    if (state != running) {
      return state == stopped
                 ? make_error(errc::shut_down, operation, "the backend was shut down")
                 : make_error(errc::not_initialized, operation, "call initialize() first");
    }
    if (ttl && ttl->count() <= 0) {
      return make_error(errc::invalid_argument, operation,
                        "TTL must be positive, got " + std::to_string(ttl->count()) + "ms");
    }
    return nullptr;
  }

 private:
  enum lifecycle : int { created, initializing, running, stopped };

  static std::exception_ptr make_error(errc code, const char* operation, const std::string& why) {
    return std::make_exception_ptr(cache_error(code, std::string(operation) + ": " + why));
  }

  std::exception_ptr unusable_for_get_or_set(const get_or_set_options& options) const {
    if (auto e = unusable("get_or_set", options.ttl)) return e;
    if (options.stale_for.count() < 0 || (options.stale_for.count() > 0 && !options.ttl))
      return make_error(errc::invalid_argument, "get_or_set",
                        "stale_for must be >= 0, and needs a ttl (the fresh window)");
    return nullptr;
  }

  std::atomic<int> state_{created};
  detail::flight_table<T> loads_;
};

}  // namespace corocache
