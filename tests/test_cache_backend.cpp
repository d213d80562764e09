// The checks CacheBackend<T> makes once for every backend: lifecycle and argument errors, and how
// they reach the caller.
#include "corocache/cache_backend.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <memory>
#include <optional>
#include <utility>
#include <vector>
#include "support/catch.hpp"

#include "corocache/memory_backend.hpp"
#include "support/run_coroutine.hpp"

using corocache::errc;

namespace {

// A backend whose initialize() fails the first time, to show a failed start can be retried.
class flaky_start : public corocache::CacheBackend<int> {
 public:
  int initialize_calls = 0;

 protected:
  asio::awaitable<void> do_initialize() override {
    if (++initialize_calls == 1) corocache::detail::throw_error(errc::connection_error, "down");
    co_return;
  }
  asio::awaitable<void> do_shutdown() override { co_return; }
  asio::awaitable<std::optional<int>> do_get(std::string) override { co_return 7; }
  asio::awaitable<bool> do_set(std::string, int, corocache::optional_ttl) override {
    co_return true;
  }
  asio::awaitable<bool> do_erase(std::string) override { co_return false; }
  asio::awaitable<bool> do_exists(std::string) override { co_return false; }
  asio::awaitable<std::size_t> do_invalidate_pattern(std::string) override { co_return 0; }
  asio::awaitable<bool> do_clear() override { co_return true; }
  asio::awaitable<std::vector<std::optional<int>>> do_get_many(key_list) override {
    co_return std::vector<std::optional<int>>();
  }
  asio::awaitable<bool> do_set_many(item_list, corocache::optional_ttl) override { co_return true; }
  asio::awaitable<std::size_t> do_erase_many(key_list) override { co_return 0; }
  asio::awaitable<std::int64_t> do_incr(std::string, std::int64_t, std::int64_t,
                                        corocache::optional_ttl) override {
    co_return 0;
  }
};

}  // namespace

TEST_CASE("an argument error reaches a co_spawn completion handler, not the caller",
          "[cache_backend]") {
  corocache::MemoryCacheBackend<std::string> cache;
  asio::io_context io;
  std::exception_ptr error;
  // Building the awaitable must not throw; the error arrives through the handler.
  auto operation = cache.set("k", "v", std::chrono::milliseconds(0));
  asio::co_spawn(io, std::move(operation), [&](std::exception_ptr e, bool) { error = e; });
  io.run();
  REQUIRE(error);
  try {
    std::rethrow_exception(error);
  } catch (const corocache::cache_error& e) {
    // not_initialized is checked before the TTL: the backend was never started.
    CHECK(e.error() == errc::not_initialized);
    CHECK(std::string(e.what()).find("set") != std::string::npos);
  }
}

TEST_CASE("decr by INT64_MIN is an overflow, not undefined behaviour", "[cache_backend]") {
  corocache::test::run_coroutine([]() -> asio::awaitable<void> {
    corocache::MemoryCacheBackend<std::string> cache;
    co_await cache.initialize();
    try {
      co_await cache.decr("n", std::numeric_limits<std::int64_t>::min());
      FAIL("decr by INT64_MIN succeeded");
    } catch (const corocache::cache_error& e) {
      CHECK(e.error() == errc::overflow);
    }
    CHECK_FALSE(co_await cache.exists("n"));
  });
}

TEST_CASE("a failed initialize() can be retried", "[cache_backend]") {
  corocache::test::run_coroutine([]() -> asio::awaitable<void> {
    flaky_start backend;
    try {
      co_await backend.initialize();
      FAIL("first initialize succeeded");
    } catch (const corocache::cache_error& e) {
      CHECK(e.error() == errc::connection_error);
    }
    try {
      co_await backend.get("k");
      FAIL("get before a successful initialize succeeded");
    } catch (const corocache::cache_error& e) {
      CHECK(e.error() == errc::not_initialized);
    }
    co_await backend.initialize();
    CHECK(backend.initialize_calls == 2);
    CHECK(co_await backend.get("k") == 7);
  });
}

namespace {

// A backend whose initialize() waits for the test to open a gate, then succeeds or fails.
class gated_start : public flaky_start {
 public:
  explicit gated_start(asio::any_io_executor executor)
      : gate_(executor, asio::steady_timer::time_point::max()) {}
  void open_gate(bool succeed) {
    succeed_ = succeed;
    gate_.expires_at(
        asio::steady_timer::time_point::min());  // wakes the waiting start, and later ones
    succeed_next_ = true;
  }
  int shutdowns = 0;

 protected:
  asio::awaitable<void> do_initialize() override {
    ++initialize_calls;
    asio::error_code ignored;
    co_await gate_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    const bool succeed = std::exchange(succeed_, succeed_next_);
    if (!succeed) corocache::detail::throw_error(errc::connection_error, "down");
  }
  asio::awaitable<void> do_shutdown() override {
    ++shutdowns;
    co_return;
  }

 private:
  asio::steady_timer gate_;
  bool succeed_ = true;
  bool succeed_next_ = true;
};

template <class R>
asio::awaitable<std::optional<errc>> outcome_of(asio::awaitable<R> operation) {
  try {
    co_await std::move(operation);
  } catch (const corocache::cache_error& e) {
    co_return e.error();
  }
  co_return std::nullopt;
}

}  // namespace

TEST_CASE("an operation created before initialize() and awaited after it runs", "[cache_backend]") {
  corocache::test::run_coroutine([]() -> asio::awaitable<void> {
    corocache::MemoryCacheBackend<std::string> cache;
    auto set = cache.set("k", "v");  // created while not initialized
    co_await cache.initialize();
    CHECK(co_await std::move(set));
    CHECK(co_await cache.get("k") == "v");
  });
}

TEST_CASE("an operation created before initialize() and still unstarted fails when awaited",
          "[cache_backend]") {
  corocache::test::run_coroutine([]() -> asio::awaitable<void> {
    corocache::MemoryCacheBackend<std::string> cache;
    auto get = cache.get("k");
    CHECK(co_await outcome_of(std::move(get)) == errc::not_initialized);
  });
}

TEST_CASE("an operation created before a backend that never started is destroyed fails cleanly",
          "[cache_backend]") {
  corocache::test::run_coroutine([]() -> asio::awaitable<void> {
    auto cache = std::make_unique<corocache::MemoryCacheBackend<std::string>>();
    auto get = cache->get("k");
    cache.reset();
    CHECK(co_await outcome_of(std::move(get)) == errc::shut_down);
  });
}

TEST_CASE("a second initialize() waits for the first one and shares its outcome",
          "[cache_backend]") {
  corocache::test::run_coroutine([](asio::any_io_executor executor) -> asio::awaitable<void> {
    gated_start backend(executor);
    std::vector<std::optional<std::optional<errc>>> outcomes(3);
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
      asio::co_spawn(
          executor, outcome_of(backend.initialize()),
          [&outcomes, i](std::exception_ptr, std::optional<errc> e) { outcomes[i] = e; });
    }
    asio::steady_timer pause(executor, std::chrono::milliseconds(20));
    co_await pause.async_wait(asio::use_awaitable);
    CHECK(backend.initialize_calls == 1);
    CHECK_FALSE(outcomes[1].has_value());  // waiting, not "already in progress"
    backend.open_gate(false);
    for (int i = 0; i < 100 && !outcomes[2]; ++i) {
      pause.expires_after(std::chrono::milliseconds(5));
      co_await pause.async_wait(asio::use_awaitable);
    }
    for (const auto& outcome : outcomes)
      CHECK(outcome == std::optional<errc>(errc::connection_error));
    // A failed start can be retried, and the waiters of the retry see its success.
    co_await backend.initialize();
    CHECK(co_await backend.get("k") == 7);
  });
}

TEST_CASE("shutdown() during an initialize() that then fails stays final", "[cache_backend]") {
  corocache::test::run_coroutine([](asio::any_io_executor executor) -> asio::awaitable<void> {
    gated_start backend(executor);
    std::optional<std::optional<errc>> first;
    asio::co_spawn(executor, outcome_of(backend.initialize()),
                   [&](std::exception_ptr, std::optional<errc> e) { first = e; });
    asio::steady_timer pause(executor, std::chrono::milliseconds(10));
    co_await pause.async_wait(asio::use_awaitable);
    co_await backend.shutdown();
    backend.open_gate(false);
    for (int i = 0; i < 100 && !first; ++i) {
      pause.expires_after(std::chrono::milliseconds(5));
      co_await pause.async_wait(asio::use_awaitable);
    }
    CHECK(first == std::optional<errc>(errc::connection_error));
    CHECK(co_await outcome_of(backend.initialize()) == errc::shut_down);
    CHECK(co_await outcome_of(backend.get("k")) == errc::shut_down);
  });
}

TEST_CASE("shutdown() during an initialize() that then succeeds releases the backend",
          "[cache_backend]") {
  corocache::test::run_coroutine([](asio::any_io_executor executor) -> asio::awaitable<void> {
    gated_start backend(executor);
    std::optional<std::optional<errc>> first;
    asio::co_spawn(executor, outcome_of(backend.initialize()),
                   [&](std::exception_ptr, std::optional<errc> e) { first = e; });
    asio::steady_timer pause(executor, std::chrono::milliseconds(10));
    co_await pause.async_wait(asio::use_awaitable);
    co_await backend.shutdown();
    backend.open_gate(true);
    for (int i = 0; i < 100 && !first; ++i) {
      pause.expires_after(std::chrono::milliseconds(5));
      co_await pause.async_wait(asio::use_awaitable);
    }
    CHECK(first == std::optional<errc>(errc::shut_down));
    CHECK(backend.shutdowns == 1);
    CHECK(co_await outcome_of(backend.get("k")) == errc::shut_down);
  });
}
