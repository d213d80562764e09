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
//   errc::shut_down after shutdown(). An operation created before the backend runs checks again
//   when awaited, so one created before initialize() and awaited after it runs; one created
//   while it runs is handed to the backend at once (for Redis it then fails with
//   errc::shut_down if the backend is shut down or destroyed before it completes). Both lifecycle
//   calls are idempotent; a second initialize() while one is in progress waits for its outcome.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "corocache/detail/deferred_error.hpp"
#include "corocache/detail/lifecycle.hpp"
#include "corocache/error.hpp"
#include "corocache/get_or_set.hpp"
#include "corocache/stats.hpp"

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
  /// Operations created earlier and awaited later fail with errc::shut_down.
  virtual ~CacheBackend() { life_->stop(); }

  /// Prepares the backend (connects, for a networked one). Completes at once if already done;
  /// while another initialize() is in progress, waits for it and shares its outcome. A failed
  /// initialize() can be retried; one that ends after shutdown() fails with errc::shut_down.
  [[nodiscard]] asio::awaitable<void> initialize() {
    auto life = life_;  // this coroutine may outlive nothing it does not hold
    int seen = 0;
    if (!life->begin_initialization(seen)) {
      if (seen == detail::lifecycle::running) co_return;
      if (seen == detail::lifecycle::stopped)
        detail::throw_error(errc::shut_down, "initialize: backend was shut down");
      co_await life->wait_for_initialization();
      co_return;
    }
    std::exception_ptr failure;
    try {
      co_await do_initialize();
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) {
      life->abandon_initialization();  // a shutdown() meanwhile stays final
      life->publish(failure);
      std::rethrow_exception(failure);
    }
    if (!life->finish_initialization()) {
      // shutdown() came while initializing: release what do_initialize() acquired.
      co_await do_shutdown();
      auto stopped = detail::lifecycle::make_error(errc::shut_down, "initialize",
                                                   "shutdown() was called meanwhile");
      life->publish(stopped);
      std::rethrow_exception(stopped);
    }
    life->publish(nullptr);
  }

  /// Releases the backend's resources; pending operations fail with errc::shut_down. Final.
  [[nodiscard]] asio::awaitable<void> shutdown() {
    if (life_->stop() == detail::lifecycle::running) co_await do_shutdown();
  }

  /// The value stored under `key`, or an empty optional when it is missing or expired.
  [[nodiscard]] asio::awaitable<std::optional<T>> get(std::string key) {
    // The hot path, written out: one move of the key fewer than through when_running().
    if (life_->is_running()) [[likely]]
      return reader().do_get(std::move(key));
    return when_running<std::optional<T>>(
        "get", [this, key = std::move(key)]() mutable { return do_get(std::move(key)); });
  }

  /// Stores `value` under `key`, replacing any value and expiry. Returns true when stored.
  [[nodiscard]] asio::awaitable<bool> set(std::string key, T value,
                                          optional_ttl ttl = std::nullopt) {
    if (life_->is_running() && (!ttl || ttl->count() > 0)) [[likely]]
      return do_set(std::move(key), std::move(value), ttl);
    return when_running<bool>(
        "set",
        [this, key = std::move(key), value = std::move(value), ttl]() mutable {
          return do_set(std::move(key), std::move(value), ttl);
        },
        ttl);
  }

  /// Removes `key`. Returns true when a (live) key was removed.
  [[nodiscard]] asio::awaitable<bool> erase(std::string key) {
    return when_running<bool>(
        "erase", [this, key = std::move(key)]() mutable { return do_erase(std::move(key)); });
  }

  /// True when `key` holds a value that has not expired.
  [[nodiscard]] asio::awaitable<bool> exists(std::string key) {
    return when_running<bool>(
        "exists", [this, key = std::move(key)]() mutable { return do_exists(std::move(key)); });
  }

  /// Removes every key matching the Redis glob `pattern`; returns how many were removed.
  [[nodiscard]] asio::awaitable<std::size_t> invalidate_pattern(std::string pattern) {
    return when_running<std::size_t>("invalidate_pattern",
                                     [this, pattern = std::move(pattern)]() mutable {
                                       return do_invalidate_pattern(std::move(pattern));
                                     });
  }

  /// Removes every key of this backend (for Redis: every key under its prefix).
  [[nodiscard]] asio::awaitable<bool> clear() {
    return when_running<bool>("clear", [this] { return do_clear(); });
  }

  /// One result per key, in the order of `keys`; duplicates are allowed and each gets a result.
  [[nodiscard]] asio::awaitable<std::vector<std::optional<T>>> get_many(key_list keys) {
    if (life_->is_running()) [[likely]]
      return reader().do_get_many(std::move(keys));
    return when_running<std::vector<std::optional<T>>>(
        "get_many",
        [this, keys = std::move(keys)]() mutable { return do_get_many(std::move(keys)); });
  }

  /// Stores every item with the same TTL; a later duplicate key wins. Returns true when stored.
  [[nodiscard]] asio::awaitable<bool> set_many(item_list items, optional_ttl ttl = std::nullopt) {
    return when_running<bool>(
        "set_many",
        [this, items = std::move(items), ttl]() mutable {
          return do_set_many(std::move(items), ttl);
        },
        ttl);
  }

  /// Removes every listed key; returns how many distinct live keys were removed.
  [[nodiscard]] asio::awaitable<std::size_t> erase_many(key_list keys) {
    return when_running<std::size_t>("erase_many", [this, keys = std::move(keys)]() mutable {
      return do_erase_many(std::move(keys));
    });
  }

  /// Adds `amount` to the counter at `key` (created from `initial` when missing); the new value.
  [[nodiscard]] asio::awaitable<std::int64_t> incr(std::string key, std::int64_t amount = 1,
                                                   std::int64_t initial = 0,
                                                   optional_ttl ttl = std::nullopt) {
    return when_running<std::int64_t>(
        "incr",
        [this, key = std::move(key), amount, initial, ttl]() mutable {
          return do_incr(std::move(key), amount, initial, ttl);
        },
        ttl);
  }

  /// The value under `key`; on a miss, loader()'s value, stored with `ttl`. Concurrent callers
  /// of one key share one load. Semantics and the loader's requirements: get_or_set.hpp.
  template <class Loader>
  requires cache_loader<Loader, T>
  [[nodiscard]] asio::awaitable<T> get_or_set(std::string key, Loader loader,
                                              optional_ttl ttl = std::nullopt) {
    auto refused = life_->is_running() && (!ttl || ttl->count() > 0)
                       ? nullptr
                       : unusable_for_get_or_set(get_or_set_options{.ttl = ttl});
    return detail::get_or_set_with_ttl<T, get_or_set_options>(
        std::move(refused), *this, loads_, get_now(), std::move(key), std::move(loader), ttl);
  }

  /// get_or_set with stale-while-revalidate and the other options of get_or_set.hpp.
  template <class Loader>
  requires cache_loader<Loader, T>
  [[nodiscard]] asio::awaitable<T> get_or_set(std::string key, Loader loader,
                                              get_or_set_options options) {
    return detail::get_or_set<T>(unusable_for_get_or_set(options), *this, loads_, get_now(),
                                 std::move(key), std::move(loader), std::move(options));
  }

  /// Stores `token` under `key` for `ttl` unless `key` exists (Redis: SET NX PX); true when this
  /// call took the lock. With release_lock(), the stampede lock of get_or_set across processes
  /// (get_or_set_options::lock). errc::unsupported on a backend without a lock shared across
  /// processes (memory, null: get_or_set's single-flight already covers their one process).
  [[nodiscard]] asio::awaitable<bool> try_acquire_lock(std::string key, std::string token,
                                                       std::chrono::milliseconds ttl) {
    return when_running<bool>(
        "try_acquire_lock",
        [this, key = std::move(key), token = std::move(token), ttl]() mutable {
          return do_try_acquire_lock(std::move(key), std::move(token), ttl);
        },
        ttl);
  }

  /// Removes `key` only while it holds `token`, in one step on the server (compare-and-delete):
  /// a holder whose lock expired and was taken by another never removes the other's. True when
  /// removed. errc::unsupported where try_acquire_lock() is.
  [[nodiscard]] asio::awaitable<bool> release_lock(std::string key, std::string token) {
    return when_running<bool>("release_lock",
                              [this, key = std::move(key), token = std::move(token)]() mutable {
                                return do_release_lock(std::move(key), std::move(token));
                              });
  }

  /// What get_or_set has done on this backend: loads, shared waits, refreshes.
  [[nodiscard]] load_counters load_stats() const { return loads_.counters(); }

  /// Keys being loaded by get_or_set now.
  [[nodiscard]] std::size_t loads_in_progress() const { return loads_.size(); }

  /// Subtracts `amount` from the counter at `key`; otherwise exactly like incr().
  [[nodiscard]] asio::awaitable<std::int64_t> decr(std::string key, std::int64_t amount = 1,
                                                   std::int64_t initial = 0,
                                                   optional_ttl ttl = std::nullopt) {
    if (amount == std::numeric_limits<std::int64_t>::min()) {
      return detail::rethrow_when_awaited<std::int64_t>(std::make_exception_ptr(cache_error(
          errc::overflow,
          "decr " + detail::printable_key(key) + ": the amount INT64_MIN cannot be negated")));
    }
    return when_running<std::int64_t>(
        "decr",
        [this, key = std::move(key), amount, initial, ttl]() mutable {
          return do_incr(std::move(key), -amount, initial, ttl);
        },
        ttl);
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

  /// Implements try_acquire_lock(); `ttl` is positive. By default: errc::unsupported.
  virtual asio::awaitable<bool> do_try_acquire_lock(std::string key, std::string /*token*/,
                                                    std::chrono::milliseconds /*ttl*/) {
    return no_lock<bool>("try_acquire_lock", key);
  }
  /// Implements release_lock(). By default: errc::unsupported.
  virtual asio::awaitable<bool> do_release_lock(std::string key, std::string /*token*/) {
    return no_lock<bool>("release_lock", key);
  }

  /// What this backend counts of its own reads since it was constructed (see read_counts), when
  /// it keeps such a count; std::nullopt (the default) when it does not. instrumented<T> passes
  /// the reads of a backend that counts them straight through, without a coroutine frame of its
  /// own (the memory and Redis backends count them where they look up or decode the value). A
  /// backend may start counting at the first call, as the Redis backend does so that reads
  /// nobody counts cost nothing: instrumented<T> makes that call when it wraps the backend.
  [[nodiscard]] virtual std::optional<read_counts> own_read_counts() const { return std::nullopt; }

  /// get_or_set's first look at the key: when the backend can read `key` without suspending, it
  /// does (counted as a get), puts the result in `value` and returns true; false (the default,
  /// and when the backend is not running) makes get_or_set await get() instead.
  virtual bool do_get_now(const std::string& /*key*/, std::optional<T>& /*value*/) { return false; }

  /// own_read_counts() of `backend`, for decorators (protected members of another backend are
  /// reachable only through the base class).
  [[nodiscard]] static std::optional<read_counts> read_counts_of(const CacheBackend& backend) {
    return backend.own_read_counts();
  }
  /// do_get_now() of `backend`, for decorators.
  static bool get_now_of(CacheBackend& backend, const std::string& key, std::optional<T>& value) {
    return backend.do_get_now(key, value);
  }

  /// For a decorator that owns `inner`, runs it exactly while it runs itself and does nothing
  /// with its reads (instrumented<T> without an observer): get() and get_many() then call
  /// inner's hooks directly while inner runs, sparing a call through this backend's own.
  void pass_reads_to(CacheBackend& inner) noexcept { reads_to_ = &inner; }

  /// True while the backend is running (initialized, not shut down).
  [[nodiscard]] bool running() const noexcept { return life_->is_running(); }

  /// The error an operation named `operation` would fail with now (errc::not_initialized or
  /// errc::shut_down), or null while the backend is running: for a backend's synchronous calls.
  [[nodiscard]] std::exception_ptr lifecycle_error(const char* operation) const {
    return life_->error_for(operation);
  }

  /// `start()` (which returns the operation's awaitable) right away when the backend is running;
  /// otherwise an awaitable that checks the lifecycle again when awaited, and then fails with
  /// errc::not_initialized or errc::shut_down, or runs `start()` if the backend is running by
  /// then. Backends use it for their own extra operations (e.g. Redis sets). An operation the
  /// backend has begun must hold what it needs, not `this`, if it is to outlive the backend.
  /// A `ttl` <= 0 fails with errc::invalid_argument (after the lifecycle checks).
  template <class R, class Start>
  [[nodiscard]] asio::awaitable<R> when_running(const char* operation, Start&& start,
                                                optional_ttl ttl = std::nullopt) {
    auto bad_ttl = invalid_ttl(operation, ttl);
    if (life_->is_running()) {
      if (bad_ttl) return detail::rethrow_when_awaited<R>(std::move(bad_ttl));
      return start();
    }
    return detail::start_when_running<R>(life_, operation, std::move(bad_ttl),
                                         std::forward<Start>(start));
  }

 private:
  static std::exception_ptr invalid_ttl(const char* operation, optional_ttl ttl) {
    if (!ttl || ttl->count() > 0) return nullptr;
    return std::make_exception_ptr(cache_error(
        errc::invalid_argument, std::string(operation) + ": TTL must be positive, got " +
                                    std::to_string(ttl->count()) + "ms"));
  }

  template <class R>
  static asio::awaitable<R> no_lock(const char* operation, const std::string& key) {
    return detail::rethrow_when_awaited<R>(std::make_exception_ptr(
        cache_error(errc::unsupported, std::string(operation) + " " + detail::printable_key(key) +
                                           ": this backend has no lock shared across processes "
                                           "(get_or_set_options::lock needs one, e.g. Redis)")));
  }

  std::exception_ptr unusable_for_get_or_set(const get_or_set_options& options) const {
    if (auto e = life_->error_for("get_or_set")) return e;
    if (auto e = invalid_ttl("get_or_set", options.ttl)) return e;
    if (options.stale_for.count() < 0 || (options.stale_for.count() > 0 && !options.ttl)) {
      return detail::lifecycle::make_error(
          errc::invalid_argument, "get_or_set",
          "stale_for must be >= 0, and needs a ttl (the fresh window)");
    }
    if (const auto& lock = options.lock;
        lock && (lock->ttl.count() <= 0 || lock->max_wait.count() < 0 ||
                 lock->poll_min.count() <= 0 || lock->poll_max < lock->poll_min)) {
      return detail::lifecycle::make_error(
          errc::invalid_argument, "get_or_set",
          "lock: ttl and poll_min must be > 0, max_wait >= 0 and poll_max >= poll_min");
    }
    return nullptr;
  }

  // get_or_set's first look at the key (do_get_now()).
  auto get_now() {
    return
        [this](const std::string& key, std::optional<T>& value) { return do_get_now(key, value); };
  }

  // The backend whose hooks serve get() and get_many(): see pass_reads_to().
  CacheBackend& reader() noexcept {
    return reads_to_ != nullptr && reads_to_->life_->is_running() ? *reads_to_ : *this;
  }

  std::shared_ptr<detail::lifecycle> life_ = std::make_shared<detail::lifecycle>();
  CacheBackend* reads_to_ = nullptr;
  detail::flight_table<T> loads_;
};

}  // namespace corocache
