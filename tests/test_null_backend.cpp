#include "corocache/null_backend.hpp"

#include <algorithm>

#include "support/catch.hpp"

#include "support/run_coroutine.hpp"

TEST_CASE("the null backend stores nothing and reports the no-op answers", "[null_backend]") {
  corocache::test::run_coroutine([]() -> asio::awaitable<void> {
    corocache::NullCacheBackend<std::string> cache;
    co_await cache.initialize();
    CHECK(co_await cache.set("k", "v", std::chrono::seconds(5)));
    CHECK_FALSE(co_await cache.get("k"));
    CHECK_FALSE(co_await cache.exists("k"));
    CHECK(co_await cache.erase("k"));
    CHECK(co_await cache.clear());
    CHECK(co_await cache.invalidate_pattern("*") == 0);
    std::vector<std::string> keys{"a", "b", "a"};
    const auto values = co_await cache.get_many(keys);
    CHECK(values.size() == 3);
    CHECK(std::none_of(values.begin(), values.end(), [](const auto& v) { return v.has_value(); }));
    std::vector<std::pair<std::string, std::string>> items{{"a", "1"}};
    CHECK(co_await cache.set_many(items));
    CHECK(co_await cache.erase_many(keys) == 0);
    CHECK(co_await cache.incr("n", 5, 10) == 10);
    CHECK(co_await cache.decr("n", 5, 10) == 10);
    co_await cache.shutdown();
  });
}

TEST_CASE("the null backend still checks arguments and lifecycle like every backend",
          "[null_backend]") {
  corocache::test::run_coroutine([]() -> asio::awaitable<void> {
    corocache::NullCacheBackend<int> cache;
    try {
      co_await cache.get("k");
      FAIL("get before initialize succeeded");
    } catch (const corocache::cache_error& e) {
      CHECK(e.error() == corocache::errc::not_initialized);
    }
    co_await cache.initialize();
    try {
      co_await cache.set("k", 1, std::chrono::milliseconds(-1));
      FAIL("a negative TTL was accepted");
    } catch (const corocache::cache_error& e) {
      CHECK(e.error() == corocache::errc::invalid_argument);
    }
  });
}
