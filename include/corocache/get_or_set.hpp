// get_or_set: read a key, or load it once and store it, for every CacheBackend<T>.
//
//   auto load = [id] { return fetch_user(id); };  // named first: see "g++ 12" below
//   auto user = co_await cache.get_or_set("user:" + id, load, 10min);
//
// - A hit returns the stored value. A miss calls loader() once, stores its value with the TTL
//   and returns it. get_or_set uses only the backend's public get, set, exists and incr (and
//   try_acquire_lock/release_lock with options.lock), so it works on every backend, a user's own
//   included, and through decorators such as fail_open.
// - Single-flight: concurrent callers of one key on one backend object share one loader run,
//   whatever threads they run on. The others wait without polling and resume on their own
//   executors. A loader that throws fails every caller waiting for it with its exception and
//   stores nothing; the next call loads again. Before loading, the first caller reads the key
//   once more, so a caller that missed just before another load stored the value does not load
//   it again.
// - The load runs detached, on the executor of the caller that started it, and is never
//   cancelled: a caller cancelled through its asio cancellation slot (an awaitable operator, a
//   parallel group) completes alone with errc::cancelled; the load goes on, stores its value and
//   serves every other caller. The backend must outlive the loads it started.
// - At most flight_table::default_limit keys (10,000) load at once per backend; a caller for
//   another cold key while that many are loading runs its loader alone (counted in
//   load_stats().unshared_loads). The table drops a key as soon as its load ends.
// - A failure of the backend itself (get or set) fails the callers with its cache_error, like
//   any operation; wrap the backend in fail_open (fail_open.hpp) to load through an outage.
//
// The loader: any callable that can be called as `loader()` and returns asio::awaitable<U>, U
// convertible to T: a function object, a lambda (a coroutine lambda too: the library keeps the
// loader object alive until its awaitable has finished, so its captures stay valid), a
// std::function. It is moved into the call; only the first caller's loader runs, the others
// are destroyed unused. It runs on the first caller's executor and may throw.
//
// - With options.lock, the load is also single-flight across processes: the one that takes the
//   lock reads the key once more and loads; the others poll the key with backoff until the value
//   is there, taking the lock themselves if it is released without one (the loader threw) or
//   expires (its holder died), and load without it after lock.max_wait. A refresh that finds the
//   lock taken leaves the refresh to its holder. See stampede_lock_options for the defaults.
//
// g++ 12: a capturing lambda written inside the co_await expression,
//   co_await cache.get_or_set(key, [id, owner] { return load(id); });   // crashes on g++ 12
// is destroyed twice by a g++ 12 bug, whatever get_or_set's signature (tests/test_get_or_set.cpp
// pins the safe form). Name the loader first, as above; g++ 13 and clang do not need this.
#pragma once

#include <chrono>
#include <concepts>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <asio/awaitable.hpp>

namespace corocache {

/// The stampede lock across processes (get_or_set_options::lock): while one process loads a
/// key, the others sharing the cache wait for its value instead of loading it too.
struct stampede_lock_options {
  /// How long the lock lives unless released. Make it longer than the loader's slowest run: a
  /// holder whose lock expires mid-load lets one more process load. A holder that dies keeps
  /// the others waiting this long at most (then one of them takes the lock and loads).
  std::chrono::milliseconds ttl{10'000};
  /// How long a caller waits for another process's load before loading itself without the lock
  /// (counted in load_counters::lock_timeouts). Longer than `ttl` by default, so that a dead
  /// holder's lock expires while the others still wait.
  std::chrono::milliseconds max_wait{15'000};
  /// The first pause between two looks at the key while waiting; each pause doubles up to
  /// poll_max, and is shortened at random by up to half so that waiting processes spread out.
  std::chrono::milliseconds poll_min{10};
  /// The longest pause between two looks at the key.
  std::chrono::milliseconds poll_max{200};
};

/// How get_or_set stores what it loads, beyond the TTL of the short form.
struct get_or_set_options {
  /// How long a loaded value lives; std::nullopt: forever. With stale_for, how long it is fresh.
  std::optional<std::chrono::milliseconds> ttl = std::nullopt;
  /// Stale-while-revalidate (0: off; then ttl is required): after `ttl` the value is stale for
  /// this long more; a get_or_set then returns it at once and refreshes it in the background
  /// (one refresh per key at a time). After both windows it is a miss. See the README for the
  /// stored format (the value as it is, plus a marker key "<key>\x1Ffresh" that lives `ttl`).
  std::chrono::milliseconds stale_for{0};
  /// Called when a background refresh fails (the stale value stays until its window ends); the
  /// caller was already served, so nothing is thrown at it. Runs on the refresh's executor.
  std::function<void(const std::string& key, std::exception_ptr error)> on_refresh_error = {};
  /// Set: at most one loader per key runs across every process sharing the cache, not just in
  /// this backend object (a lock key "<key>\x1Flock" holding a random token, taken with SET NX
  /// PX and released by compare-and-delete). Needs a backend with try_acquire_lock() (Redis);
  /// on one without it (memory, null) get_or_set fails with errc::unsupported when it would
  /// load, rather than silently loading without the lock.
  std::optional<stampede_lock_options> lock = std::nullopt;
};

/// A callable get_or_set can run for T: `loader()` returns asio::awaitable<U>, U convertible to T.
template <class Loader, class T>
concept cache_loader = std::invocable<Loader&> && requires(Loader& loader) {
  typename std::invoke_result_t<Loader&>::value_type;
  requires std::same_as<std::invoke_result_t<Loader&>,
                        asio::awaitable<typename std::invoke_result_t<Loader&>::value_type>>;
  requires std::convertible_to<typename std::invoke_result_t<Loader&>::value_type, T>;
};

}  // namespace corocache

#include "corocache/detail/get_or_set.hpp"
