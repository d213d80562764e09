// fail_open<T>: a CacheBackend<T> that wraps another one and turns infrastructure failures into
// misses, so that a cache outage slows a service down instead of failing its requests.
//
// What it absorbs (each is reported to the failure hook with the errc, the operation and the key,
// and counted in failures()):
// - errc::connection_error, errc::timeout, errc::server_error, errc::protocol_error: the cache
//   is down, slow, refusing or talking nonsense.
// - errc::not_initialized from the wrapped backend while its initialize() has not succeeded yet:
//   fail_open's own initialize() succeeds even when the server is down, and retries the wrapped
//   initialize() on use, at most once per retry_interval.
// Then: get -> empty, set/erase/exists/clear/set_many -> false, invalidate_pattern/erase_many ->
// 0, get_many -> all empty, try_acquire_lock -> true (the caller loads, as without a cache),
// release_lock -> false. get_or_set through fail_open therefore runs the loader when the cache
// is down (and returns its value; storing it fails open too).
//
// What it never hides, because a miss would be a lie or would hide a bug: invalid_argument,
// codec_error (a stored value T cannot decode), not_a_counter, overflow, wrong_type, unsupported,
// shut_down (fail_open was shut down), cancelled (the caller asked to stop: a miss would make
// get_or_set load for a caller that has gone), and every exception that is not a cache_error.
// incr/decr propagate every failure: a counter has no "miss", and an invented value would let a
// rate limiter through.
//
// From configuration: prefix any backend URL with "fail-open+" (make_backend in registry.hpp),
// e.g. "fail-open+redis://cache:6379/0?prefix=app:" or "fail-open+memory://?max_size=100".
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "corocache/cache_backend.hpp"
#include "corocache/error.hpp"
#include "corocache/stats.hpp"

namespace corocache {

/// One failure fail_open absorbed.
struct absorbed_failure {
  errc code;                   ///< why the operation failed
  std::string_view operation;  ///< "get", "set", "initialize", ...
  std::string_view key;        ///< the key, the first key of a bulk operation, or the pattern
};

/// Called for every absorbed failure, on the thread of the operation; must not throw.
using failure_hook = std::function<void(const absorbed_failure&)>;

/// True for the errc values fail_open turns into a miss.
[[nodiscard]] constexpr bool absorbed_by_fail_open(errc code) noexcept {
  return code == errc::connection_error || code == errc::timeout || code == errc::server_error ||
         code == errc::protocol_error;
}

namespace detail {
/// The URL after a "fail-open+" prefix (any case), or nothing when `url` has none.
[[nodiscard]] inline std::optional<std::string_view> fail_open_target(std::string_view url) {
  constexpr std::string_view prefix = "fail-open+";
  if (url.size() < prefix.size()) return std::nullopt;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    const char c = url[i] >= 'A' && url[i] <= 'Z' ? static_cast<char>(url[i] - 'A' + 'a') : url[i];
    if (c != prefix[i]) return std::nullopt;
  }
  return url.substr(prefix.size());
}
}  // namespace detail

/// A CacheBackend<T> over another one that turns its outages into misses (see above).
template <class T>
class fail_open final : public CacheBackend<T> {
 public:
  using typename CacheBackend<T>::key_list;
  using typename CacheBackend<T>::item_list;

  /// Wraps `inner` (which fail_open initializes and shuts down).
  explicit fail_open(std::unique_ptr<CacheBackend<T>> inner, failure_hook hook = {},
                     std::chrono::milliseconds retry_interval = std::chrono::seconds(1))
      : inner_(std::move(inner)), hook_(std::move(hook)), retry_interval_(retry_interval) {
    if (!inner_) detail::throw_error(errc::invalid_argument, "fail_open: no backend to wrap");
  }

  /// The wrapped backend.
  [[nodiscard]] CacheBackend<T>& inner() noexcept { return *inner_; }

  /// Replaces the failure hook; call it before the backend is used from several threads.
  void on_failure(failure_hook hook) { hook_ = std::move(hook); }

  /// How many failures were absorbed, per errc (indexed by errc_slot()).
  [[nodiscard]] errc_counts failures() const {
    errc_counts out{};
    for (std::size_t i = 0; i < out.size(); ++i)
      out[i] = failures_[i].load(std::memory_order_relaxed);
    return out;
  }

  /// How many failures with `code` were absorbed.
  [[nodiscard]] std::uint64_t failures(errc code) const {
    return failures_[errc_slot(code)].load(std::memory_order_relaxed);
  }

 protected:
  asio::awaitable<void> do_initialize() override { co_await try_initialize(); }

  asio::awaitable<void> do_shutdown() override { co_await inner_->shutdown(); }

  asio::awaitable<std::optional<T>> do_get(std::string key) override {
    std::optional<T> value;
    if (co_await ready()) {
      try {
        value = co_await inner_->get(key);
      } catch (const cache_error& e) {
        absorb(e, "get", key);
      }
    }
    co_return value;
  }

  asio::awaitable<bool> do_set(std::string key, T value, optional_ttl ttl) override {
    auto op = [&] { return inner_->set(key, std::move(value), ttl); };
    co_return co_await guarded(op, "set", key, false);
  }
  asio::awaitable<bool> do_erase(std::string key) override {
    auto op = [&] { return inner_->erase(key); };
    co_return co_await guarded(op, "erase", key, false);
  }
  asio::awaitable<bool> do_exists(std::string key) override {
    auto op = [&] { return inner_->exists(key); };
    co_return co_await guarded(op, "exists", key, false);
  }
  asio::awaitable<std::size_t> do_invalidate_pattern(std::string pattern) override {
    auto op = [&] { return inner_->invalidate_pattern(pattern); };
    co_return co_await guarded(op, "invalidate_pattern", pattern, std::size_t{0});
  }
  asio::awaitable<bool> do_clear() override {
    auto op = [&] { return inner_->clear(); };
    co_return co_await guarded(op, "clear", "", false);
  }
  asio::awaitable<std::vector<std::optional<T>>> do_get_many(key_list keys) override {
    const auto first = keys.empty() ? std::string() : keys.front();
    std::vector<std::optional<T>> misses(keys.size());
    auto op = [&] { return inner_->get_many(std::move(keys)); };
    co_return co_await guarded(op, "get_many", first, std::move(misses));
  }
  asio::awaitable<bool> do_set_many(item_list items, optional_ttl ttl) override {
    const auto first = items.empty() ? std::string() : items.front().first;
    auto op = [&] { return inner_->set_many(std::move(items), ttl); };
    co_return co_await guarded(op, "set_many", first, false);
  }
  asio::awaitable<std::size_t> do_erase_many(key_list keys) override {
    const auto first = keys.empty() ? std::string() : keys.front();
    auto op = [&] { return inner_->erase_many(std::move(keys)); };
    co_return co_await guarded(op, "erase_many", first, std::size_t{0});
  }
  asio::awaitable<std::int64_t> do_incr(std::string key, std::int64_t delta, std::int64_t initial,
                                        optional_ttl ttl) override {
    co_await ready();
    co_return co_await inner_->incr(std::move(key), delta, initial, ttl);
  }
  // An absorbed failure counts as taking the lock, so get_or_set loads through the outage as it
  // does without the lock.
  asio::awaitable<bool> do_try_acquire_lock(std::string key, std::string token,
                                            std::chrono::milliseconds ttl) override {
    auto op = [&] { return inner_->try_acquire_lock(key, std::move(token), ttl); };
    co_return co_await guarded(op, "try_acquire_lock", key, true);
  }
  asio::awaitable<bool> do_release_lock(std::string key, std::string token) override {
    auto op = [&] { return inner_->release_lock(key, std::move(token)); };
    co_return co_await guarded(op, "release_lock", key, false);
  }

 private:
  // Runs make() when the wrapped backend is ready; an absorbed failure gives `fallback`. The
  // operation is made only then: made earlier, it would carry a stale "not initialized".
  template <class Make, class R>
  asio::awaitable<R> guarded(Make& make, const char* operation, std::string_view key, R fallback) {
    if (!co_await ready()) co_return fallback;
    try {
      co_return co_await make();
    } catch (const cache_error& e) {
      absorb(e, operation, key);
    }
    co_return fallback;
  }

  // Rethrows what fail_open must not hide; reports and counts the rest.
  void absorb(const cache_error& e, const char* operation, std::string_view key) {
    const bool not_up_yet = e.error() == errc::not_initialized && !initialized_.load();
    if (!absorbed_by_fail_open(e.error()) && !not_up_yet) throw;
    report(e.error(), operation, key);
  }

  void report(errc code, const char* operation, std::string_view key) {
    failures_[errc_slot(code)].fetch_add(1, std::memory_order_relaxed);
    if (!hook_) return;
    try {
      hook_(absorbed_failure{code, operation, key});
    } catch (...) {  // a reporting hook must not turn a miss back into a failure
    }
  }

  // True when the wrapped backend is initialized (trying again when the retry interval passed).
  asio::awaitable<bool> ready() {
    if (initialized_.load(std::memory_order_acquire)) co_return true;
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    auto due = next_attempt_.load();
    if (now < due || !next_attempt_.compare_exchange_strong(due, now + retry_ns())) {
      report(errc::not_initialized, "initialize", "");
      co_return false;
    }
    co_return co_await try_initialize();
  }

  asio::awaitable<bool> try_initialize() {
    try {
      co_await inner_->initialize();
      initialized_.store(true, std::memory_order_release);
    } catch (const cache_error& e) {
      if (!absorbed_by_fail_open(e.error())) throw;
      next_attempt_.store(std::chrono::steady_clock::now().time_since_epoch().count() + retry_ns());
      report(e.error(), "initialize", "");
    }
    co_return initialized_.load();
  }

  std::int64_t retry_ns() const {
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(retry_interval_).count();
  }

  std::unique_ptr<CacheBackend<T>> inner_;
  failure_hook hook_;
  std::chrono::milliseconds retry_interval_;
  std::atomic<bool> initialized_{false};
  std::atomic<std::int64_t> next_attempt_{0};
  std::array<std::atomic<std::uint64_t>, errc_slots> failures_{};
};

}  // namespace corocache
