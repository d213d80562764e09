// The stampede lock of get_or_set across processes (get_or_set_options::lock): the lock key and
// token, the Redis compare-and-delete script, and the load that holds or waits for the lock.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <random>
#include <string>
#include <utility>

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "corocache/error.hpp"
#include "corocache/stats.hpp"

namespace corocache::detail {

/// The key that holds the stampede lock of `key`.
[[nodiscard]] inline std::string lock_key(const std::string& key) {
  return key +
         "\x1F"
         "lock";
}

/// Deletes KEYS[1] only while it holds ARGV[1], in one step on the server: a holder whose lock
/// expired and was taken by another process never removes the other's lock.
inline constexpr const char* release_lock_script =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
    "return 0";

inline std::mt19937_64& lock_random() {
  thread_local std::mt19937_64 engine{[] {
    std::random_device device;
    return (static_cast<std::uint64_t>(device()) << 32) ^ device();
  }()};
  return engine;
}

/// A token no other holder uses: 128 random bits in hex.
[[nodiscard]] inline std::string make_lock_token() {
  static constexpr char digits[] = "0123456789abcdef";
  std::string token;
  token.reserve(32);
  for (int half = 0; half < 2; ++half) {
    auto bits = lock_random()();
    for (int i = 0; i < 16; ++i, bits >>= 4) token.push_back(digits[bits & 0xF]);
  }
  return token;
}

/// `pause` shortened at random by up to half, so that waiting processes do not poll in step.
[[nodiscard]] inline std::chrono::milliseconds jittered(std::chrono::milliseconds pause) {
  if (pause.count() < 2) return pause;
  std::uniform_int_distribution<std::int64_t> cut(0, pause.count() / 2);
  return pause - std::chrono::milliseconds(cut(lock_random()));
}

// Loads while holding the lock, then releases it. The holder before this one may have stored
// the value and released the lock since this caller missed: read it once more first.
template <class T, class Backend, class Recheck, class Load>
asio::awaitable<T> load_holding_lock(Backend& backend, const std::string& name,
                                     const std::string& token, Recheck& recheck, Load& load) {
  std::optional<T> value;
  std::exception_ptr error;
  try {
    value = co_await recheck();
    if (!value) value = co_await load();
  } catch (...) {
    error = std::current_exception();
  }
  try {
    co_await backend.release_lock(name, token);
  } catch (const cache_error&) {
    // The lock then expires by its TTL; the value, if any, is stored and the callers served.
  }
  if (error) std::rethrow_exception(error);
  co_return std::move(*value);
}

// The load of one flight with the lock: `recheck()` reads what another process may have stored
// (an awaitable optional<T>), `load()` runs the loader and stores its value.
template <class T, class Backend, class Table, class Options, class Recheck, class Load>
asio::awaitable<T> locked_load(Backend& backend, Table& table, const std::string& key,
                               const Options& options, bool refresh, Recheck recheck, Load load) {
  using clock = std::chrono::steady_clock;
  const auto& lock = *options.lock;
  const auto name = lock_key(key);
  const auto token = make_lock_token();
  const auto deadline = clock::now() + lock.max_wait;
  auto pause = lock.poll_min;
  std::optional<asio::steady_timer> timer;
  bool waiting = false;
  for (;;) {
    if (co_await backend.try_acquire_lock(name, token, lock.ttl)) {
      co_return co_await load_holding_lock<T>(backend, name, token, recheck, load);
    }
    // Another process loads. A refresh leaves it to that process and serves what is stored.
    if (refresh) {
      refresh = false;
      if (auto stored = co_await backend.get(key)) co_return std::move(*stored);
    }
    if (!waiting) {
      waiting = true;
      table.count(&load_counters::lock_waits);
      timer.emplace(co_await asio::this_coro::executor);
    }
    const auto now = clock::now();
    if (now >= deadline) {
      table.count(&load_counters::lock_timeouts);
      co_return co_await load();
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    timer->expires_after(std::min(jittered(pause), left));
    co_await timer->async_wait(asio::use_awaitable);
    pause = std::min(pause * 2, lock.poll_max);
    if (auto stored = co_await backend.get(key)) co_return std::move(*stored);
  }
}

}  // namespace corocache::detail
