// The get_or_set algorithm over a backend's public operations (see corocache/get_or_set.hpp).
// Templated on the backend so that cache_backend.hpp can include it before CacheBackend exists.
#pragma once

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/error.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "corocache/detail/single_flight.hpp"
#include "corocache/detail/stampede_lock.hpp"

namespace corocache::detail {

/// The key whose presence marks a stale-while-revalidate value as fresh.
[[nodiscard]] inline std::string freshness_marker(const std::string& key) {
  return key +
         "\x1F"
         "fresh";
}

// Loads `key` and stores the value (with its freshness marker for stale-while-revalidate).
template <class T, class Backend, class Loader, class Options>
asio::awaitable<T> load_and_store(Backend& backend, const std::string& key, Loader& loader,
                                  const Options& options) {
  auto loaded = co_await loader();
  T value(std::move(loaded));
  if (options.stale_for.count() > 0) {
    const auto lifetime = *options.ttl + options.stale_for;
    // A value that was not stored (fail_open over a down cache) gets no marker either.
    if (co_await backend.set(key, value, lifetime)) {
      auto marker = freshness_marker(key);
      co_await backend.incr(std::move(marker), 0, 1, options.ttl);
    }
  } else {
    co_await backend.set(key, value, options.ttl);
  }
  co_return value;
}

// Whether the value `key` holds is fresh: always without stale-while-revalidate.
template <class Backend>
asio::awaitable<bool> is_fresh(Backend& backend, const std::string& key, bool refresh) {
  if (!refresh) co_return true;
  auto marker = freshness_marker(key);
  co_return co_await backend.exists(std::move(marker));
}

// Loads and stores `key`, with the stampede lock across processes when the options ask for it.
template <class T, class Backend, class Loader, class Options>
asio::awaitable<T> load(Backend& backend, flight_table<T>& table, const std::string& key,
                        Loader& loader, const Options& options, bool refresh) {
  if (!options.lock) co_return co_await load_and_store<T>(backend, key, loader, options);
  auto recheck = [&]() -> asio::awaitable<std::optional<T>> {
    if (!co_await is_fresh(backend, key, refresh)) co_return std::nullopt;
    co_return co_await backend.get(key);
  };
  auto store = [&] { return load_and_store<T>(backend, key, loader, options); };
  co_return co_await locked_load<T>(backend, table, key, options, refresh, recheck, store);
}

// The load of one flight, detached from every caller: nobody's cancellation stops it.
template <class T, class Backend, class Loader, class Options>
asio::awaitable<void> run_flight(Backend& backend, flight_table<T>& table,
                                 std::shared_ptr<load_flight<T>> flight, std::string key,
                                 Loader loader, Options options, bool refresh) {
  std::exception_ptr error;
  std::optional<T> value;
  try {
    // Another caller (or process) may have stored the value since this one missed.
    if (co_await is_fresh(backend, key, refresh)) value = co_await backend.get(key);
    if (!value) value = co_await load<T>(backend, table, key, loader, options, refresh);
  } catch (...) {
    error = std::current_exception();
    value.reset();
  }
  // Leave the table before waking the waiters: a caller arriving now finds the stored value, or
  // after a failure starts a new load.
  table.leave(key, flight);
  if (error)
    table.count(refresh ? &load_counters::refresh_failures : &load_counters::load_failures);
  if (error && refresh && options.on_refresh_error) {
    try {
      options.on_refresh_error(key, error);
    } catch (...) {  // a reporting hook must not take the refresh's executor down
    }
  }
  flight->complete(error, std::move(value));
}

// Starts the load of a flight this caller leads, on the caller's executor.
template <class T, class Backend, class Loader, class Options>
void start_flight(const asio::any_io_executor& executor, Backend& backend, flight_table<T>& table,
                  const std::shared_ptr<load_flight<T>>& flight, const std::string& key,
                  Loader loader, const Options& options, bool refresh) {
  table.count(refresh ? &load_counters::refreshes : &load_counters::loads);
  auto load = run_flight<T>(backend, table, flight, key, std::move(loader), options, refresh);
  asio::co_spawn(executor, std::move(load), asio::detached);
}

// After a miss (or a stale hit being served): joins or starts the key's load and waits for it.
template <class T, class Backend, class Loader, class Options>
asio::awaitable<T> load_missed(Backend& backend, flight_table<T>& table, std::string key,
                               Loader loader, Options options) {
  auto joined = table.join(key);
  if (!joined.flight) {
    table.count(&load_counters::unshared_loads);
    co_return co_await load<T>(backend, table, key, loader, options, false);
  }
  if (joined.leader) {
    auto executor = co_await asio::this_coro::executor;
    start_flight<T>(executor, backend, table, joined.flight, key, std::move(loader), options,
                    false);
  } else {
    table.count(&load_counters::shared_waits);
  }
  // A cancellation (of the wait, or signalled before it starts) is errc::cancelled, as for
  // every corocache operation; the load goes on for the others.
  try {
    auto result = co_await joined.flight->async_wait(asio::use_awaitable);
    co_return std::move(*result);
  } catch (const std::system_error& e) {
    if (e.code() != asio::error::operation_aborted) throw;
  }
  throw_error(errc::cancelled, "get_or_set " + printable_key(key) + ": cancelled while waiting");
}

// `get_now(key, value)` reads without suspending when the backend can (false otherwise): a hit
// then costs this one coroutine frame, not a second one for get().
template <class T, class Backend, class GetNow, class Loader, class Options>
asio::awaitable<T> get_or_set(std::exception_ptr refused, Backend& backend, flight_table<T>& table,
                              GetNow get_now, std::string key, Loader loader, Options options) {
  if (refused) std::rethrow_exception(refused);  // argument errors surface when awaited
  std::optional<T> hit;
  if (!get_now(key, hit)) hit = co_await backend.get(key);
  if (hit && options.stale_for.count() > 0) {
    auto marker = freshness_marker(key);
    if (!co_await backend.exists(std::move(marker))) {
      // Stale: serve it now and refresh once in the background.
      auto joined = table.join(key);
      if (joined.leader) {
        auto executor = co_await asio::this_coro::executor;
        start_flight<T>(executor, backend, table, joined.flight, key, std::move(loader), options,
                        true);
      }
    }
  }
  if (hit) co_return std::move(*hit);
  co_return co_await load_missed<T>(backend, table, std::move(key), std::move(loader),
                                    std::move(options));
}

// The short form (a TTL, no other option): a smaller frame for the hit, the options built only
// after a miss.
template <class T, class Options, class Backend, class GetNow, class Loader>
asio::awaitable<T> get_or_set_with_ttl(std::exception_ptr refused, Backend& backend,
                                       flight_table<T>& table, GetNow get_now, std::string key,
                                       Loader loader,
                                       std::optional<std::chrono::milliseconds> ttl) {
  if (refused) std::rethrow_exception(refused);  // argument errors surface when awaited
  std::optional<T> hit;
  if (!get_now(key, hit)) hit = co_await backend.get(key);
  if (hit) co_return std::move(*hit);
  Options options;
  options.ttl = ttl;
  co_return co_await load_missed<T>(backend, table, std::move(key), std::move(loader),
                                    std::move(options));
}

}  // namespace corocache::detail
