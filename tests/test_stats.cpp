// instrumented<T> and cache_stats: the counts match the operations that ran.
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "corocache/instrumented.hpp"
#include "corocache/memory_backend.hpp"
#include "corocache/null_backend.hpp"
#include "corocache/redis_connection_stats.hpp"
#include "support/catch.hpp"
#include "support/error_of.hpp"
#include "support/run_coroutine.hpp"

namespace {

using corocache::errc;
using corocache::instrumented;
using corocache::operation;
using corocache::outcome;

struct observed {
  operation op;
  outcome result;
  std::optional<errc> error;
};

struct recording_observer final : corocache::operation_observer {
  std::vector<observed> seen;
  void observe(operation op, outcome result, std::optional<errc> error,
               std::chrono::nanoseconds duration) noexcept override {
    if (duration.count() >= 0) seen.push_back({op, result, error});
  }
};

}  // namespace

// One shape: what RedisCacheBackend::connection_stats() returns is what cache_stats carries.
static_assert(std::is_same_v<corocache::redis_connection_stats, corocache::connection_stats>);
static_assert(std::is_same_v<decltype(corocache::cache_stats::connection),
                             std::optional<corocache::connection_stats>>);

TEST_CASE("instrumented counts hits, misses, sets, errors and memory evictions", "[stats]") {
  auto observer = std::make_shared<recording_observer>();
  instrumented<std::string> cache(std::make_unique<corocache::MemoryCacheBackend<std::string>>(2),
                                  "memory", observer);
  corocache::test::run_coroutine([&]() -> asio::awaitable<void> {
    co_await cache.initialize();
    CHECK(co_await cache.set("a", "1"));
    CHECK(co_await cache.get("a"));
    CHECK_FALSE(co_await cache.get("b"));
    std::vector<std::string> keys{"a", "b", "a"};
    CHECK((co_await cache.get_many(keys)).size() == 3);  // 2 hits, 1 miss
    std::vector<std::pair<std::string, std::string>> items{{"c", "3"}, {"d", "4"}};
    CHECK(co_await cache.set_many(items));  // 2 sets; a full cache of 2 evicts one
    CHECK(co_await corocache::test::error_of(cache.incr("c")) == std::nullopt);
    CHECK(co_await corocache::test::error_of(cache.set("e", "5", std::chrono::milliseconds(-1))) ==
          errc::invalid_argument);  // refused before it reaches the backend: not counted
    auto load = []() -> asio::awaitable<std::string> { co_return "loaded"; };
    CHECK(co_await cache.get_or_set("f", load) == "loaded");  // a miss, a load, a set
    co_await cache.shutdown();
  });
  const auto stats = cache.stats();
  CHECK(stats.backend == "memory");
  CHECK(stats.hits == 3);
  CHECK(stats.misses == 4);  // get b, get_many b, get_or_set f twice (the caller and the load)
  CHECK(stats.sets == 4);
  CHECK(stats.errors_total() == 0);
  REQUIRE(stats.evictions);
  CHECK(*stats.evictions >= 1);
  CHECK(stats.expirations == std::optional<std::uint64_t>(0));
  CHECK_FALSE(stats.connection);  // a memory backend has no connection
  CHECK(stats.loads.loads == 1);
  REQUIRE(observer->seen.size() >= 7);
  CHECK(observer->seen[0].op == operation::set);
  CHECK(observer->seen[0].result == outcome::ok);
  CHECK(observer->seen[1].op == operation::get);
  CHECK(observer->seen[1].result == outcome::hit);
  CHECK(observer->seen[2].result == outcome::miss);
  CHECK(observer->seen[3].op == operation::get_many);
}

TEST_CASE("instrumented counts failures by errc and rethrows them", "[stats]") {
  // A counter operation on a stored non-number fails with not_a_counter.
  instrumented<std::string> cache(std::make_unique<corocache::MemoryCacheBackend<std::string>>(),
                                  "memory");
  corocache::test::run_coroutine([&]() -> asio::awaitable<void> {
    co_await cache.initialize();
    co_await cache.set("word", "hello");
    CHECK(co_await corocache::test::error_of(cache.incr("word")) == errc::not_a_counter);
    CHECK(co_await corocache::test::error_of(cache.decr("word")) == errc::not_a_counter);
    co_await cache.shutdown();
  });
  const auto stats = cache.stats();
  CHECK(stats.errors[corocache::errc_slot(errc::not_a_counter)] == 2);
  CHECK(stats.errors_total() == 2);
}

TEST_CASE("a backend that is not a memory backend reports no evictions", "[stats]") {
  instrumented<std::string> cache(std::make_unique<corocache::NullCacheBackend<std::string>>(),
                                  "null");
  corocache::test::run_coroutine([&]() -> asio::awaitable<void> {
    co_await cache.initialize();
    CHECK_FALSE(co_await cache.get("a"));
    co_await cache.shutdown();
  });
  const auto stats = cache.stats();
  CHECK(stats.misses == 1);
  CHECK_FALSE(stats.evictions);
  CHECK_FALSE(stats.expirations);
}

namespace {

// The same reads through an instrumented memory backend, with or without an observer: with
// one, instrumented counts them itself; without, it takes the memory backend's own counts.
corocache::cache_stats stats_after_reads(std::shared_ptr<corocache::operation_observer> observer) {
  auto memory = std::make_unique<corocache::MemoryCacheBackend<std::string>>(100);
  auto* below = memory.get();
  corocache::test::run_coroutine([&]() -> asio::awaitable<void> {
    // Reads made before wrapping are not the decorator's to count.
    co_await below->initialize();
    co_await below->set("before", "x");
    CHECK(co_await below->get("before"));
    CHECK_FALSE(co_await below->get("nothing"));
  });
  instrumented<std::string> cache(std::move(memory), "memory", std::move(observer));
  corocache::test::run_coroutine([&]() -> asio::awaitable<void> {
    co_await cache.initialize();
    CHECK(co_await cache.set("a", "1"));
    CHECK(co_await cache.get("a"));
    CHECK_FALSE(co_await cache.get("b"));
    std::vector<std::string> keys{"a", "b", "a", "c"};
    CHECK((co_await cache.get_many(keys)).size() == 4);  // 2 hits, 2 misses
    auto load = []() -> asio::awaitable<std::string> { co_return "loaded"; };
    CHECK(co_await cache.get_or_set("a", load) == "1");       // a hit
    CHECK(co_await cache.get_or_set("f", load) == "loaded");  // a miss, then one more look
    CHECK(co_await cache.get_or_set("f", load) == "loaded");  // a hit
    CHECK(below->get_now("a"));  // the backend's own read, after wrapping: counted
    co_await cache.shutdown();
  });
  return cache.stats();
}

}  // namespace

TEST_CASE("instrumented counts the same reads with or without an observer", "[stats]") {
  const auto observed = stats_after_reads(std::make_shared<recording_observer>());
  const auto passed_through = stats_after_reads(nullptr);
  // The observed decorator cannot see the get_now made on the backend below it.
  CHECK(observed.hits == 5);
  CHECK(observed.misses == 5);
  CHECK(passed_through.hits == observed.hits + 1);
  CHECK(passed_through.misses == observed.misses);
  CHECK(passed_through.sets == observed.sets);
  CHECK(passed_through.errors_total() == 0);
}

TEST_CASE("get_or_set through instrumented fails as get does once the backend is shut down",
          "[stats][get_or_set]") {
  // The hit path reads without a coroutine of get()'s; a shut-down backend still refuses it.
  instrumented<std::string> cache(std::make_unique<corocache::MemoryCacheBackend<std::string>>(),
                                  "memory");
  corocache::test::run_coroutine([&]() -> asio::awaitable<void> {
    co_await cache.initialize();
    co_await cache.set("k", "v");
    auto load = []() -> asio::awaitable<std::string> { co_return "loaded"; };
    auto late = cache.get_or_set("k", load);  // created while running, awaited after shutdown
    co_await cache.shutdown();
    CHECK(co_await corocache::test::error_of(std::move(late)) == errc::shut_down);
  });
  CHECK(cache.stats().hits == 0);
}
