// Hostile input at the API of the Redis backend, each case on its own redis-server: the shared
// cases of hostile_input_cases.hpp, plus prefix isolation between backends whose prefixes hold
// glob metacharacters or nest ("a:" and "a:*"), checked against the server's own view.
#include <chrono>
#include <cstddef>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "corocache/glob.hpp"
#include "corocache/redis_backend.hpp"
#include "reliability/hostile_input_cases.hpp"
#include "support/catch.hpp"
#include "support/redis_server.hpp"
#include "support/run_coroutine.hpp"

using corocache::redis_options;
using corocache::RedisCacheBackend;
using corocache::test::redis_server;
using corocache::test::run_coroutine;
namespace hostile = corocache::test::hostile;
using namespace std::string_literals;

namespace {

using redis_cache = RedisCacheBackend<std::string>;

// Generous: these cases test what the backend does with odd input, not how fast it is.
redis_options options_for(const redis_server& server, std::string prefix) {
  return redis_options{.url = "redis://127.0.0.1:" + std::to_string(server.port()),
                       .prefix = std::move(prefix),
                       .command_timeout = std::chrono::seconds(20)};
}

// Runs `check(cache)` on a fresh, initialized Redis backend with its own server.
template <class Check>
void with_redis_cache(Check check) {
  redis_server server;
  run_coroutine(
      [&](asio::any_io_executor ex) -> asio::awaitable<void> {
        redis_cache cache(ex, options_for(server, "hostile:"));
        co_await cache.initialize();
        co_await check(cache);
        co_await cache.shutdown();
      },
      std::chrono::seconds(60));
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::use_awaitable);
}

// Prefixes that nest, hold glob metacharacters, or hold protocol bytes.
std::vector<std::string> awkward_prefixes() {
  return {"a:"s, "a:*"s, "a:["s, "a?"s, "ab"s, "a\\"s, "a:\r\n"s, "a\0"s, "a:[^"s};
}

// Each backend stores value_for(prefix + key), so two backends that share a stored key (e.g.
// "a:" + "*x" and "a:*" + "x") agree on its value.
asio::awaitable<void> store_everywhere(std::vector<std::unique_ptr<redis_cache>>& caches) {
  for (auto& cache : caches) {
    redis_cache::item_list items;
    for (const auto& key : hostile::awkward_keys())
      items.emplace_back(key, hostile::value_for(cache->prefix() + key));
    CHECK(co_await cache->set_many(std::move(items)));
  }
}

// Checks every backend's keys: a stored key is gone exactly when `removed(stored key)`.
template <class Removed>
asio::awaitable<void> check_everywhere(std::vector<std::unique_ptr<redis_cache>>& caches,
                                       Removed removed) {
  for (auto& cache : caches) {
    auto keys = hostile::awkward_keys();
    const auto values = co_await cache->get_many(keys);
    REQUIRE(values.size() == keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const auto stored = cache->prefix() + keys[i];
      INFO("stored key " << corocache::detail::printable_key(stored));
      if (removed(stored)) {
        CHECK_FALSE(values[i].has_value());
      } else {
        CHECK(values[i] == hostile::value_for(stored));
      }
    }
  }
}

}  // namespace

TEST_CASE("awkward keys round-trip through Redis and erasing one leaves the others",
          "[hostile_input][redis]") {
  with_redis_cache([](auto& cache) { return hostile::check_awkward_keys_round_trip(cache); });
}

TEST_CASE("a pattern removes exactly the keys it matches in Redis, however it is built",
          "[hostile_input][redis]") {
  with_redis_cache(
      [](auto& cache) { return hostile::check_patterns_remove_exactly_their_matches(cache); });
}

TEST_CASE("patterns built to backtrack finish in Redis and match nothing",
          "[hostile_input][redis]") {
  with_redis_cache([](auto& cache) { return hostile::check_backtracking_patterns_finish(cache); });
}

TEST_CASE("1 MiB keys work for every Redis operation", "[hostile_input][redis]") {
  with_redis_cache([](auto& cache) { return hostile::check_huge_keys(cache); });
}

TEST_CASE("get_many over 100k keys answers every key in order from Redis",
          "[hostile_input][redis]") {
  with_redis_cache([](auto& cache) { return hostile::check_huge_key_lists(cache); });
}

TEST_CASE("TTLs of 1 ms and of a century give the correct result in Redis",
          "[hostile_input][redis]") {
  with_redis_cache([](auto& cache) { return hostile::check_extreme_ttls(cache, sleep_for); });
}

TEST_CASE("TTLs near the largest duration keep the value in Redis or fail clearly",
          "[hostile_input][redis]") {
  with_redis_cache([](auto& cache) { return hostile::check_largest_ttls(cache, sleep_for); });
}

TEST_CASE("Redis counters at the ends of int64 overflow cleanly and keep their value",
          "[hostile_input][redis]") {
  with_redis_cache([](auto& cache) { return hostile::check_counter_limits(cache); });
}

// The prefixes are "a:", "a:*" and "a:[" (test names must not hold brackets: CTest's discovery
// would merge this test with the next one).
TEST_CASE(
    "invalidating everything under a prefix ending in a star or bracket spares the shorter prefix",
    "[hostile_input][redis]") {
  redis_server server;
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    redis_cache plain(ex, options_for(server, "a:"));
    redis_cache star(ex, options_for(server, "a:*"));
    redis_cache bracket(ex, options_for(server, "a:["));
    co_await plain.initialize();
    co_await star.initialize();
    co_await bracket.initialize();
    CHECK(co_await plain.set("x", "plain"));
    CHECK(co_await plain.set("", "plain, empty key"));
    CHECK(co_await star.set("x", "star"));
    CHECK(co_await bracket.set("x", "bracket"));
    CHECK(server.command("SET a 1") == "+OK");  // outside every prefix

    CHECK(co_await star.invalidate_pattern("*") == 1);
    CHECK(co_await bracket.invalidate_pattern("*") == 1);
    CHECK(co_await plain.get("x") == "plain");
    CHECK(co_await plain.get("") == "plain, empty key");
    CHECK_FALSE(co_await star.get("x"));
    CHECK_FALSE(co_await bracket.get("x"));

    CHECK(co_await star.set("x", "star"));
    CHECK(co_await star.clear());
    CHECK(co_await bracket.clear());
    CHECK(co_await plain.get("x") == "plain");
    // "a:" is a prefix of "a:*": what "a:*" stores is under "a:" too, so "a:" removes it.
    CHECK(co_await star.set("x", "star"));
    CHECK(co_await plain.invalidate_pattern("*") == 3);
    CHECK_FALSE(co_await star.get("x"));
    CHECK(server.command("GET a") == "$1");
    co_await plain.shutdown();
    co_await star.shutdown();
    co_await bracket.shutdown();
  });
}

TEST_CASE("every pattern on every prefix removes exactly the stored keys it selects",
          "[hostile_input][redis]") {
  redis_server server;
  run_coroutine(
      [&](asio::any_io_executor ex) -> asio::awaitable<void> {
        std::vector<std::unique_ptr<redis_cache>> caches;
        for (const auto& prefix : awkward_prefixes()) {
          caches.push_back(std::make_unique<redis_cache>(ex, options_for(server, prefix)));
          co_await caches.back()->initialize();
        }
        CHECK(server.command("SET outside 1") == "+OK");
        const std::vector<std::string> patterns = {"*"s, "?*"s,    "["s,   "\\"s,  "*]"s, "[^a]*"s,
                                                   ""s,  "*\r\n"s, "\0*"s, "[a-"s, "x*"s};
        for (auto& cache : caches) {
          for (const auto& pattern : patterns) {
            INFO("prefix " << corocache::detail::printable_key(cache->prefix()) << ", pattern "
                           << corocache::detail::printable_key(pattern));
            co_await store_everywhere(caches);
            const auto& prefix = cache->prefix();
            auto selected = [&](const std::string& stored) {
              return stored.compare(0, prefix.size(), prefix) == 0 &&
                     corocache::glob_match(pattern, stored.substr(prefix.size()));
            };
            std::set<std::string> expected;
            for (const auto& other : caches)
              for (const auto& key : hostile::awkward_keys())
                if (selected(other->prefix() + key)) expected.insert(other->prefix() + key);
            CHECK(co_await cache->invalidate_pattern(pattern) == expected.size());
            co_await check_everywhere(caches, selected);
          }
          co_await store_everywhere(caches);
          CHECK(co_await cache->clear());
          const auto& prefix = cache->prefix();
          co_await check_everywhere(caches, [&](const std::string& stored) {
            return stored.compare(0, prefix.size(), prefix) == 0;
          });
        }
        CHECK(server.command("GET outside") == "$1");
        for (auto& cache : caches) co_await cache->shutdown();
      },
      std::chrono::seconds(120));
}
