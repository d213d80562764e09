// The checks CacheBackend<T> makes once for every backend: lifecycle and argument errors, and how
// they reach the caller.
#include "corocache/cache_backend.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
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
