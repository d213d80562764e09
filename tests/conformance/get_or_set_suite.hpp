// get_or_set as tests, written once and run against every backend (memory, null, a user's own
// backend in tests/test_get_or_set.cpp; Redis in tests/redis/test_redis_get_or_set.cpp).
//
// Each case takes a factory `make(executor) -> std::unique_ptr<CacheBackend<std::string>>` and
// runs on an io_context with two threads, so waiters and loads really cross threads.
#pragma once

#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "corocache/cache_backend.hpp"
#include "support/catch.hpp"

namespace corocache::test {

using string_cache = CacheBackend<std::string>;

/// Runs `body(executor)` on an io_context served by `threads` threads; rethrows what it throws
/// and fails when it does not finish within `timeout`.
template <class Body>
void run_threaded(Body body, int threads = 2,
                  std::chrono::seconds timeout = std::chrono::seconds(60)) {
  asio::io_context io(threads);
  std::atomic<bool> done{false};
  std::exception_ptr error;
  auto work = body(asio::any_io_executor(io.get_executor()));
  asio::co_spawn(io, std::move(work), [&](std::exception_ptr e) {
    error = e;
    done = true;
  });
  asio::steady_timer deadline(io, timeout);
  deadline.async_wait([&](asio::error_code ec) {
    if (!ec) io.stop();
  });
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&] { io.run(); });
  // The deadline timer keeps run() going: stop once the body has finished.
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer poll(io);
        while (!done) {
          poll.expires_after(std::chrono::milliseconds(1));
          co_await poll.async_wait(asio::use_awaitable);
        }
        deadline.cancel();
      },
      [](std::exception_ptr) {});
  io.run();
  for (auto& t : pool) t.join();
  if (!done) throw std::runtime_error("run_threaded: the test did not finish in time");
  if (error) std::rethrow_exception(error);
}

/// Waits (bounded: 20s) until `ready()` holds, polling every millisecond.
template <class Ready>
asio::awaitable<void> wait_until(Ready ready, const char* what) {
  asio::steady_timer poll(co_await asio::this_coro::executor);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!ready()) {
    if (std::chrono::steady_clock::now() > give_up)
      throw std::runtime_error(std::string("gave up waiting until ") + what);
    poll.expires_after(std::chrono::milliseconds(1));
    co_await poll.async_wait(asio::use_awaitable);
  }
}

/// Spawns `n` coroutines from make(i) on `executor` and waits until every one has finished.
template <class Make>
asio::awaitable<void> spawn_all(asio::any_io_executor executor, int n, Make make) {
  auto finished = std::make_shared<std::atomic<int>>(0);
  for (int i = 0; i < n; ++i) {
    auto job = make(i);
    asio::co_spawn(executor, std::move(job), [finished](std::exception_ptr) { ++*finished; });
  }
  co_await wait_until([&] { return finished->load() == n; }, "every caller finished");
}

/// A loader that counts its runs and waits until `open` is set before answering.
struct gated_loader {
  std::shared_ptr<std::atomic<int>> runs = std::make_shared<std::atomic<int>>(0);
  std::shared_ptr<std::atomic<bool>> open = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<std::atomic<bool>> fail = std::make_shared<std::atomic<bool>>(false);
  std::string value = "loaded";

  asio::awaitable<std::string> operator()() const {
    ++*runs;
    // Named first: g++ 12 destroys a capturing lambda written inside co_await twice.
    auto is_open = [open = open] { return open->load(); };
    co_await wait_until(is_open, "the loader's gate opens");
    if (*fail) throw std::runtime_error("the source is down");
    co_return value;
  }
};

template <class Make>
void get_or_set_suite(const char* backend_name, Make make, bool stores_values = true) {
  SECTION(std::string(backend_name) + ": a miss loads and stores, a hit does not load") {
    run_threaded([&](asio::any_io_executor ex) -> asio::awaitable<void> {
      auto cache = make(ex);
      co_await cache->initialize();
      gated_loader loader;
      *loader.open = true;
      auto first = co_await cache->get_or_set("k", loader, std::chrono::minutes(1));
      CHECK(first == "loaded");
      CHECK(*loader.runs == 1);
      auto stored = co_await cache->get("k");
      auto second = co_await cache->get_or_set("k", loader);
      CHECK(second == "loaded");
      if (stores_values) {
        CHECK(stored == std::optional<std::string>("loaded"));
        CHECK(*loader.runs == 1);
      } else {
        CHECK(*loader.runs == 2);
      }
      CHECK(cache->loads_in_progress() == 0);
      co_await cache->shutdown();
    });
  }

  SECTION(std::string(backend_name) + ": 200 callers on two threads share one load") {
    run_threaded([&](asio::any_io_executor ex) -> asio::awaitable<void> {
      auto cache = make(ex);
      co_await cache->initialize();
      constexpr int callers = 200;
      gated_loader loader;
      std::atomic<int> right{0};
      auto caller = [&](int) -> asio::awaitable<void> {
        auto value = co_await cache->get_or_set("cold", loader, std::chrono::minutes(1));
        if (value == "loaded") ++right;
      };
      auto all = spawn_all(ex, callers, caller);
      auto open_gate = [&]() -> asio::awaitable<void> {
        // Every other caller has joined the one load before it may finish.
        co_await wait_until([&] { return cache->load_stats().shared_waits == callers - 1; },
                            "every caller joined the load");
        *loader.open = true;
      };
      using namespace asio::experimental::awaitable_operators;
      co_await (std::move(all) && open_gate());
      CHECK(*loader.runs == 1);
      CHECK(right == callers);
      CHECK(cache->load_stats().loads == 1);
      CHECK(cache->loads_in_progress() == 0);
      co_await cache->shutdown();
    });
  }

  SECTION(std::string(backend_name) + ": a loader that throws fails every waiter, stores nothing") {
    run_threaded([&](asio::any_io_executor ex) -> asio::awaitable<void> {
      auto cache = make(ex);
      co_await cache->initialize();
      constexpr int callers = 20;
      gated_loader loader;
      *loader.fail = true;
      std::atomic<int> failed_with_loader_error{0};
      auto caller = [&](int) -> asio::awaitable<void> {
        try {
          co_await cache->get_or_set("bad", loader);
        } catch (const std::runtime_error& e) {
          if (std::string(e.what()) == "the source is down") ++failed_with_loader_error;
        }
      };
      auto all = spawn_all(ex, callers, caller);
      auto open_gate = [&]() -> asio::awaitable<void> {
        co_await wait_until([&] { return cache->load_stats().shared_waits == callers - 1; },
                            "every caller joined the load");
        *loader.open = true;
      };
      using namespace asio::experimental::awaitable_operators;
      co_await (std::move(all) && open_gate());
      CHECK(failed_with_loader_error == callers);
      CHECK(*loader.runs == 1);
      CHECK(cache->load_stats().load_failures == 1);
      CHECK_FALSE(co_await cache->exists("bad"));
      CHECK(cache->loads_in_progress() == 0);
      // The next call loads again, and this time succeeds.
      *loader.fail = false;
      CHECK(co_await cache->get_or_set("bad", loader) == "loaded");
      CHECK(*loader.runs == 2);
      co_await cache->shutdown();
    });
  }

  SECTION(std::string(backend_name) + ": a cancelled waiter does not cancel the load") {
    run_threaded([&](asio::any_io_executor ex) -> asio::awaitable<void> {
      auto cache = make(ex);
      co_await cache->initialize();
      gated_loader loader;
      // The caller that starts the load is the one cancelled: the load must not depend on it.
      asio::cancellation_signal signal;
      std::atomic<bool> first_done{false};
      std::optional<errc> first_error;
      auto first = cache->get_or_set("shared", loader);
      asio::co_spawn(
          ex, std::move(first),
          asio::bind_cancellation_slot(signal.slot(), [&](std::exception_ptr e, std::string) {
            try {
              if (e) std::rethrow_exception(e);
            } catch (const cache_error& error) {
              first_error = error.error();
            } catch (...) {
            }
            first_done = true;
          }));
      co_await wait_until([&] { return *loader.runs == 1; }, "the load started");
      // A second caller races the same key against a short timer, the natural asio form.
      using namespace asio::experimental::awaitable_operators;
      asio::steady_timer short_timer(ex, std::chrono::milliseconds(20));
      auto raced = co_await (cache->get_or_set("shared", loader) ||
                             short_timer.async_wait(asio::use_awaitable));
      CHECK(raced.index() == 1);  // the timer won; the get_or_set branch was cancelled
      // Cancel the first caller from its own executor's thread of control.
      asio::post(ex, [&] { signal.emit(asio::cancellation_type::terminal); });
      co_await wait_until([&] { return first_done.load(); }, "the cancelled caller completed");
      CHECK(first_error == errc::cancelled);
      CHECK(*loader.runs == 1);
      // A third caller still gets the value of the same load once it ends.
      std::string third;
      auto third_caller = [&]() -> asio::awaitable<void> {
        third = co_await cache->get_or_set("shared", loader);
      };
      // The raced caller may or may not have joined before its cancellation (a slow get).
      const auto joined_before = cache->load_stats().shared_waits;
      auto open_gate = [&]() -> asio::awaitable<void> {
        co_await wait_until([&] { return cache->load_stats().shared_waits == joined_before + 1; },
                            "the third caller joined");
        *loader.open = true;
      };
      co_await (third_caller() && open_gate());
      CHECK(third == "loaded");
      CHECK(*loader.runs == 1);
      CHECK(cache->loads_in_progress() == 0);
      co_await cache->shutdown();
    });
  }

  SECTION(std::string(backend_name) + ": argument and lifecycle errors come before any load") {
    run_threaded([&](asio::any_io_executor ex) -> asio::awaitable<void> {
      auto cache = make(ex);
      gated_loader loader;
      *loader.open = true;
      std::optional<errc> before_init;
      try {
        co_await cache->get_or_set("k", loader);
      } catch (const cache_error& e) {
        before_init = e.error();
      }
      CHECK(before_init == errc::not_initialized);
      co_await cache->initialize();
      std::optional<errc> bad_ttl;
      try {
        co_await cache->get_or_set("k", loader, std::chrono::milliseconds(0));
      } catch (const cache_error& e) {
        bad_ttl = e.error();
      }
      CHECK(bad_ttl == errc::invalid_argument);
      std::optional<errc> stale_without_ttl;
      try {
        get_or_set_options options;
        options.stale_for = std::chrono::seconds(1);
        co_await cache->get_or_set("k", loader, options);
      } catch (const cache_error& e) {
        stale_without_ttl = e.error();
      }
      CHECK(stale_without_ttl == errc::invalid_argument);
      CHECK(*loader.runs == 0);

      // A stored key is no hit once the backend is shut down, for a call created before the
      // shutdown and awaited after it as for one made after it.
      co_await cache->set("stored", "v");
      auto late = cache->get_or_set("stored", loader);
      co_await cache->shutdown();
      std::optional<errc> awaited_late, after_shutdown;
      try {
        co_await std::move(late);
      } catch (const cache_error& e) {
        awaited_late = e.error();
      }
      try {
        co_await cache->get_or_set("stored", loader);
      } catch (const cache_error& e) {
        after_shutdown = e.error();
      }
      CHECK(awaited_late == errc::shut_down);
      CHECK(after_shutdown == errc::shut_down);
      CHECK(*loader.runs == 0);
    });
  }
}

}  // namespace corocache::test
