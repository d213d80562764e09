// Hostile input at the API of the memory backend: the shared cases of hostile_input_cases.hpp on a
// cache large enough that eviction never hides a wrong answer, with a manual clock for the TTLs.
#include <chrono>
#include <memory>
#include <string>

#include "corocache/memory_backend.hpp"
#include "reliability/hostile_input_cases.hpp"
#include "support/catch.hpp"
#include "support/manual_clock.hpp"
#include "support/run_coroutine.hpp"

using corocache::memory_options;
using corocache::MemoryCacheBackend;
using corocache::test::manual_clock;
using corocache::test::run_coroutine;
namespace hostile = corocache::test::hostile;

namespace {

// Runs `check(cache, clock)` on a fresh, initialized memory cache holding up to 200k entries,
// once per eviction policy.
template <class Check>
void with_memory_cache(Check check, std::size_t shards = 1) {
  for (const auto policy : {corocache::eviction_policy::lru, corocache::eviction_policy::s3_fifo}) {
    INFO("eviction policy " << static_cast<int>(policy));
    run_coroutine([&]() -> asio::awaitable<void> {
      manual_clock clock;
      MemoryCacheBackend<std::string> cache(memory_options{
          .max_size = 200'000, .shards = shards, .clock = clock.source(), .eviction = policy});
      co_await cache.initialize();
      co_await check(cache, clock);
      co_await cache.shutdown();
    });
  }
}

hostile::let_time_pass advancing(manual_clock& clock) {
  return [&clock](std::chrono::milliseconds d) -> asio::awaitable<void> {
    clock.advance(d);
    co_return;
  };
}

}  // namespace

TEST_CASE("awkward keys round-trip and erasing one leaves the others", "[hostile_input][memory]") {
  for (const std::size_t shards : {1, 8}) {
    with_memory_cache(
        [](auto& cache, auto&) { return hostile::check_awkward_keys_round_trip(cache); }, shards);
  }
}

TEST_CASE("a pattern removes exactly the keys it matches, however it is built",
          "[hostile_input][memory]") {
  with_memory_cache([](auto& cache, auto&) {
    return hostile::check_patterns_remove_exactly_their_matches(cache);
  });
}

TEST_CASE("patterns built to backtrack finish and match nothing", "[hostile_input][memory]") {
  with_memory_cache(
      [](auto& cache, auto&) { return hostile::check_backtracking_patterns_finish(cache); });
}

TEST_CASE("1 MiB keys work for every operation", "[hostile_input][memory]") {
  with_memory_cache([](auto& cache, auto&) { return hostile::check_huge_keys(cache); });
}

TEST_CASE("get_many over 100k keys answers every key in order", "[hostile_input][memory]") {
  with_memory_cache([](auto& cache, auto&) { return hostile::check_huge_key_lists(cache); });
}

TEST_CASE("TTLs of 1 ms and of a century give the correct result", "[hostile_input][memory]") {
  with_memory_cache([](auto& cache, manual_clock& clock) {
    return hostile::check_extreme_ttls(cache, advancing(clock));
  });
}

// A TTL too long for the clock saturates: the value stays.
TEST_CASE("TTLs near the largest duration keep the value or fail clearly",
          "[hostile_input][memory]") {
  with_memory_cache([](auto& cache, manual_clock& clock) {
    return hostile::check_largest_ttls(cache, advancing(clock));
  });
}

TEST_CASE("counters at the ends of int64 overflow cleanly and keep their value",
          "[hostile_input][memory]") {
  with_memory_cache([](auto& cache, auto&) { return hostile::check_counter_limits(cache); });
}

TEST_CASE("a full cache of one entry survives the same hostile keys", "[hostile_input][memory]") {
  const auto policy =
      GENERATE(corocache::eviction_policy::lru, corocache::eviction_policy::s3_fifo);
  run_coroutine([policy]() -> asio::awaitable<void> {
    MemoryCacheBackend<std::string> cache(memory_options{.max_size = 1, .eviction = policy});
    co_await cache.initialize();
    for (const auto& key : hostile::awkward_keys()) {
      CHECK(co_await cache.set(key, hostile::value_for(key)));
      CHECK(co_await cache.get(key) == hostile::value_for(key));
      CHECK(cache.size() == 1);
    }
    CHECK(co_await cache.invalidate_pattern("*") == 1);
    CHECK(cache.size() == 0);
  });
}
