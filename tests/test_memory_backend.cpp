// What only the memory backend promises: S3-FIFO eviction by default and LRU on request, a hard
// max_size, sweeps that visit only expired entries, counters through arithmetic value types.
#include "corocache/memory_backend.hpp"

#include <random>
#include "support/catch.hpp"

#include "support/manual_clock.hpp"
#include "support/run_coroutine.hpp"

using corocache::errc;
using corocache::memory_options;
using corocache::MemoryCacheBackend;
using corocache::test::manual_clock;
using corocache::test::run_coroutine;
using namespace std::chrono_literals;

namespace {
template <class T>
memory_options options_with(const manual_clock& clock, std::size_t max_size, std::size_t shards = 1,
                            std::chrono::milliseconds clean_interval = 60s,
                            corocache::eviction_policy eviction = corocache::eviction_policy::lru) {
  return memory_options{max_size, clean_interval, shards, clock.source(), eviction};
}
}  // namespace

TEST_CASE("a full cache evicts the least recently used key; get and set count as use",
          "[memory_backend]") {
  run_coroutine([]() -> asio::awaitable<void> {
    manual_clock clock;
    MemoryCacheBackend<std::string> cache(options_with<std::string>(clock, 3));
    co_await cache.initialize();
    co_await cache.set("a", "1");
    co_await cache.set("b", "2");
    co_await cache.set("c", "3");
    co_await cache.get("a");       // order, oldest first: b c a
    co_await cache.set("d", "4");  // evicts b
    CHECK_FALSE(co_await cache.exists("b"));
    co_await cache.set("c", "3'");  // order: a d c
    co_await cache.set("e", "5");   // evicts a
    CHECK_FALSE(co_await cache.exists("a"));
    CHECK(co_await cache.exists("c"));
    CHECK(co_await cache.exists("d"));
    CHECK(co_await cache.exists("e"));
    CHECK(cache.size() == 3);
    CHECK(cache.stats().evictions == 2);
  });
}

TEST_CASE("by default a key that was read survives a stream of keys set once (S3-FIFO)",
          "[memory_backend]") {
  run_coroutine([]() -> asio::awaitable<void> {
    CHECK(memory_options{}.eviction == corocache::eviction_policy::s3_fifo);
    MemoryCacheBackend<std::string> cache(10);  // default options
    co_await cache.initialize();
    co_await cache.set("hot", "1");
    CHECK(co_await cache.get("hot") == "1");
    for (int i = 0; i < 100; ++i) co_await cache.set("scan:" + std::to_string(i), "x");
    // LRU would have evicted "hot" after 10 of these keys.
    CHECK(co_await cache.get("hot") == "1");
    CHECK(cache.size() == 10);
    CHECK(cache.stats().evictions == 91);
  });
}

TEST_CASE("a full cache drops expired entries before evicting a live one", "[memory_backend]") {
  run_coroutine([]() -> asio::awaitable<void> {
    manual_clock clock;
    MemoryCacheBackend<std::string> cache(options_with<std::string>(clock, 3));
    co_await cache.initialize();
    co_await cache.set("old", "1");
    co_await cache.set("short", "2", 1s);
    co_await cache.set("new", "3");
    clock.advance(2s);
    co_await cache.set("another", "4");
    CHECK(co_await cache.exists("old"));  // the LRU entry survives: the expired one made room
    CHECK(co_await cache.exists("new"));
    CHECK(co_await cache.exists("another"));
    CHECK(cache.stats().evictions == 0);
    CHECK(cache.stats().expirations == 1);
  });
}

TEST_CASE("max_size is never exceeded, whatever the mix of operations", "[memory_backend]") {
  const auto policy =
      GENERATE(corocache::eviction_policy::lru, corocache::eviction_policy::s3_fifo);
  run_coroutine([policy]() -> asio::awaitable<void> {
    manual_clock clock;
    for (std::size_t shards : {1u, 4u}) {
      MemoryCacheBackend<std::string> cache(
          options_with<std::string>(clock, 50, shards, 60s, policy));
      co_await cache.initialize();
      std::mt19937 random(42);
      for (int i = 0; i < 5000; ++i) {
        const auto key = "k" + std::to_string(random() % 200);
        switch (random() % 5) {
          case 0:
            co_await cache.set(key, "v", std::chrono::milliseconds(1 + random() % 1000));
            break;
          case 1:
            co_await cache.incr(key + "#n");
            break;
          case 2: {
            std::vector<std::pair<std::string, std::string>> items{{key, "a"}, {key + "x", "b"}};
            co_await cache.set_many(items);
            break;
          }
          case 3:
            co_await cache.erase(key);
            break;
          default:
            co_await cache.set(key, "v");
            break;
        }
        clock.advance(std::chrono::milliseconds(random() % 20));
        REQUIRE(cache.stats().size <= 50);
      }
    }
  });
}

TEST_CASE("a sweep visits only the entries that expired", "[memory_backend]") {
  run_coroutine([]() -> asio::awaitable<void> {
    manual_clock clock;
    MemoryCacheBackend<std::string> cache(options_with<std::string>(clock, 100000, 1, 10s));
    co_await cache.initialize();
    for (int i = 0; i < 10000; ++i) co_await cache.set("forever" + std::to_string(i), "v");
    for (int i = 0; i < 25; ++i) co_await cache.set("brief" + std::to_string(i), "v", 1s);
    clock.advance(2s);
    co_await cache.get("forever1");  // before clean_interval: no sweep yet
    CHECK(cache.stats().sweep_visits == 0);
    CHECK(cache.stats().size == 10025);            // expired entries wait for the sweep...
    CHECK_FALSE(co_await cache.exists("brief3"));  // ...but are never returned
    clock.advance(10s);
    co_await cache.get("forever1");  // the first operation after the interval sweeps
    const auto stats = cache.stats();
    CHECK(stats.sweep_visits == 24);  // brief3 was already removed on access
    CHECK(stats.size == 10000);
  });
}

TEST_CASE("counters read back as numbers through arithmetic value types", "[memory_backend]") {
  run_coroutine([]() -> asio::awaitable<void> {
    MemoryCacheBackend<std::int64_t> numbers;
    co_await numbers.initialize();
    CHECK(co_await numbers.incr("n", 41, 1) == 42);
    CHECK(co_await numbers.get("n") == 42);
    co_await numbers.set("n", 7);
    CHECK(co_await numbers.decr("n") == 6);

    MemoryCacheBackend<std::int8_t> small;
    co_await small.initialize();
    CHECK(co_await small.incr("n", 127) == 127);
    try {
      co_await small.incr("n");
      FAIL("int8 counter went past 127");
    } catch (const corocache::cache_error& e) {
      CHECK(e.error() == errc::overflow);
    }
    CHECK(co_await small.get("n") == 127);

    MemoryCacheBackend<double> reals;
    co_await reals.initialize();
    co_await reals.set("x", 1.5);
    try {
      co_await reals.incr("x");
      FAIL("1.5 was used as a counter");
    } catch (const corocache::cache_error& e) {
      CHECK(e.error() == errc::not_a_counter);
    }
    co_await reals.set("y", 2.0);
    CHECK(co_await reals.incr("y") == 3);
  });
}

namespace {
struct no_codec {
  int value = 0;
};
}  // namespace

TEST_CASE("a value type that cannot hold an integer gives not_a_counter", "[memory_backend]") {
  run_coroutine([]() -> asio::awaitable<void> {
    MemoryCacheBackend<no_codec> cache;
    co_await cache.initialize();
    co_await cache.set("k", no_codec{3});
    CHECK((co_await cache.get("k"))->value == 3);
    try {
      co_await cache.incr("n");
      FAIL("incr created a counter in a type without one");
    } catch (const corocache::cache_error& e) {
      CHECK(e.error() == errc::not_a_counter);
    }
    CHECK_FALSE(co_await cache.exists("n"));
  });
}

TEST_CASE("bad options are rejected and shards follow the cache size", "[memory_backend]") {
  CHECK_THROWS_AS(MemoryCacheBackend<int>(0), corocache::cache_error);
  CHECK_THROWS_AS(MemoryCacheBackend<int>(10, 0ms), corocache::cache_error);
  CHECK(MemoryCacheBackend<int>(1000).shard_count() == 1);
  CHECK(MemoryCacheBackend<int>(memory_options{100000, 60s, 0, {}}).shard_count() > 1);
  CHECK(MemoryCacheBackend<int>(memory_options{3, 60s, 16, {}}).shard_count() == 3);
  CHECK(MemoryCacheBackend<int>(8191).shard_count() == 1);  // one shard per 4096 entries
}

TEST_CASE("hits and misses are counted", "[memory_backend]") {
  run_coroutine([]() -> asio::awaitable<void> {
    MemoryCacheBackend<std::string> cache;
    co_await cache.initialize();
    co_await cache.set("k", "v");
    co_await cache.get("k");
    co_await cache.get("k");
    co_await cache.get("nope");
    CHECK(cache.stats().hits == 2);
    CHECK(cache.stats().misses == 1);
  });
}

TEST_CASE("s3_fifo keeps keys in use while a scan of one-time keys streams through",
          "[memory_backend]") {
  run_coroutine([]() -> asio::awaitable<void> {
    for (const auto policy :
         {corocache::eviction_policy::lru, corocache::eviction_policy::s3_fifo}) {
      manual_clock clock;
      MemoryCacheBackend<std::string> cache(options_with<std::string>(clock, 100, 1, 60s, policy));
      co_await cache.initialize();
      for (int i = 0; i < 50; ++i) co_await cache.set("hot" + std::to_string(i), "v");
      for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 50; ++i) co_await cache.get("hot" + std::to_string(i));
      }
      for (int i = 0; i < 1000; ++i) co_await cache.set("scan" + std::to_string(i), "v");
      std::size_t hot_left = 0;
      for (int i = 0; i < 50; ++i)
        hot_left += co_await cache.exists("hot" + std::to_string(i)) ? 1 : 0;
      INFO("policy " << static_cast<int>(policy));
      if (policy == corocache::eviction_policy::lru) {
        CHECK(hot_left == 0);  // recency alone: the scan pushes every hot key out
      } else {
        CHECK(hot_left == 50);  // used keys live in the main queue; the scan cycles the small one
      }
      CHECK(cache.size() == 100);
    }
  });
}

TEST_CASE("s3_fifo admits a recently evicted key straight to its main queue", "[memory_backend]") {
  run_coroutine([]() -> asio::awaitable<void> {
    manual_clock clock;
    MemoryCacheBackend<std::string> cache(
        options_with<std::string>(clock, 20, 1, 60s, corocache::eviction_policy::s3_fifo));
    co_await cache.initialize();
    for (int i = 0; i < 20; ++i) co_await cache.set("k" + std::to_string(i), "v");
    co_await cache.set("new", "v");  // k0 leaves the small queue unused: remembered as a ghost
    CHECK_FALSE(co_await cache.exists("k0"));
    co_await cache.set("k0", "again");  // back from the ghost: into the main queue
    for (int i = 0; i < 40; ++i) co_await cache.set("stream" + std::to_string(i), "v");
    const auto value = co_await cache.get("k0");
    CHECK(value == "again");
  });
}

TEST_CASE("a float counter stops where float stops being exact, and get agrees with incr",
          "[memory_backend]") {
  run_coroutine([]() -> asio::awaitable<void> {
    MemoryCacheBackend<float> floats;
    co_await floats.initialize();
    CHECK(co_await floats.incr("n", 16777216) == 16777216);  // 2^24: still exact
    CHECK(co_await floats.get("n") == 16777216.0f);
    try {
      co_await floats.incr("n");  // 2^24 + 1 has no float
      FAIL("a float counter went past 2^24");
    } catch (const corocache::cache_error& e) {
      CHECK(e.error() == errc::overflow);
    }
    CHECK(co_await floats.get("n") == 16777216.0f);  // unchanged
    CHECK(co_await floats.decr("n", 16777216) == 0);
    try {
      co_await floats.incr("m", 16777217);
      FAIL("incr created a counter a float cannot hold");
    } catch (const corocache::cache_error& e) {
      CHECK(e.error() == errc::overflow);
    }
    CHECK_FALSE(co_await floats.exists("m"));
    co_await floats.set("big", 3e7f);  // a whole float, but past the exact range
    try {
      co_await floats.incr("big");
      FAIL("a float past 2^24 was used as a counter");
    } catch (const corocache::cache_error& e) {
      CHECK(e.error() == errc::not_a_counter);
    }

    MemoryCacheBackend<double> doubles;
    co_await doubles.initialize();
    CHECK(co_await doubles.incr("n", std::int64_t{1} << 53) == std::int64_t{1} << 53);
    try {
      co_await doubles.incr("n");
      FAIL("a double counter went past 2^53");
    } catch (const corocache::cache_error& e) {
      CHECK(e.error() == errc::overflow);
    }

    if constexpr (std::numeric_limits<long double>::digits >= 63) {  // x86's 80-bit long double
      MemoryCacheBackend<long double> longs;
      co_await longs.initialize();
      const std::int64_t past_double = (std::int64_t{1} << 53) + 1;
      CHECK(co_await longs.incr("n", past_double) == past_double);
      CHECK(co_await longs.get("n") == static_cast<long double>(past_double));
      CHECK(co_await longs.incr("n") == past_double + 1);
    }
  });
}

TEST_CASE("a clean_interval too long for the clock never comes due instead of overflowing",
          "[memory_backend]") {
  for (const auto interval : {std::chrono::milliseconds(std::chrono::hours(100000000)),
                              std::chrono::milliseconds::max()}) {
    run_coroutine([interval]() -> asio::awaitable<void> {
      manual_clock clock;
      MemoryCacheBackend<std::string> cache(options_with<std::string>(clock, 100, 1, interval));
      co_await cache.initialize();
      co_await cache.set("brief", "v", 1s);
      co_await cache.set("other", "v", 1s);
      clock.advance(std::chrono::hours(24 * 365));
      CHECK_FALSE(co_await cache.get("brief"));  // expired entries are still never returned
      co_await cache.set("k", "v");
      CHECK(cache.stats().sweep_visits == 0);  // and the interval never came due
      CHECK(cache.stats().size == 2);          // "other" waits for a sweep that is not due
    });
  }
}

TEST_CASE("a shard count past the bound is refused, naming the bound", "[memory_backend]") {
  CHECK(MemoryCacheBackend<int>(memory_options{.max_size = 1'000'000, .shards = 1024})
            .shard_count() == 1024);
  try {
    MemoryCacheBackend<int> cache(memory_options{.max_size = 1'000'000, .shards = 1'000'000});
    FAIL("a million shards were allocated");
  } catch (const corocache::cache_error& e) {
    CHECK(e.error() == errc::invalid_argument);
    CHECK(std::string(e.what()).find("at most 1024") != std::string::npos);
  }
}

TEST_CASE("no operation does more than one bounded sweep step, and the steps reclaim everything",
          "[memory_backend]") {
  const auto policy =
      GENERATE(corocache::eviction_policy::lru, corocache::eviction_policy::s3_fifo);
  const std::size_t shards = GENERATE(1u, 8u);
  run_coroutine([policy, shards]() -> asio::awaitable<void> {
    constexpr int expiring = 20000;
    constexpr int lasting = 100;
    constexpr std::size_t step = memory_options::sweep_step;
    manual_clock clock;
    MemoryCacheBackend<std::string> cache(
        options_with<std::string>(clock, 2 * expiring, shards, 10s, policy));
    co_await cache.initialize();
    for (int i = 0; i < expiring; ++i) co_await cache.set("brief" + std::to_string(i), "v", 1s);
    for (int i = 0; i < lasting; ++i) co_await cache.set("kept" + std::to_string(i), "v");
    clock.advance(11s);  // every brief entry expires and the sweep comes due, at once

    // The most steps a full reclaim may take: each removes `step` entries or finishes a shard.
    const std::size_t step_budget = expiring / step + 2 * shards + 2;
    std::size_t operations = 0;
    auto before = cache.stats();
    while (before.size > static_cast<std::size_t>(lasting)) {
      REQUIRE(operations < step_budget);
      const auto i = static_cast<int>(operations);
      switch (i % 4) {
        case 0:
          CHECK(co_await cache.get("kept" + std::to_string(i % lasting)) == "v");
          break;
        case 1:
          CHECK_FALSE(co_await cache.get("brief" + std::to_string(i)));  // never returned
          break;
        case 2:
          CHECK_FALSE(co_await cache.exists("brief" + std::to_string(expiring - i)));
          break;
        default:
          co_await cache.set("kept" + std::to_string(i % lasting), "v");
      }
      ++operations;
      const auto after = cache.stats();
      // The sweep step, plus the expired key this operation read itself.
      REQUIRE(after.sweep_visits - before.sweep_visits <= step);
      REQUIRE(after.expirations - before.expirations <= step + 1);
      before = after;
    }
    CHECK(before.expirations == static_cast<std::size_t>(expiring));
    CHECK(cache.size() == static_cast<std::size_t>(lasting));
    // The pass is complete: the next sweep waits for the next interval.
    co_await cache.set("late", "v", 1s);
    clock.advance(2s);
    co_await cache.get("kept1");
    CHECK(cache.stats().sweep_visits == before.sweep_visits);
    clock.advance(10s);
    co_await cache.get("kept1");
    CHECK(cache.stats().sweep_visits == before.sweep_visits + 1);
  });
}

TEST_CASE("an insert into a full shard of expired entries removes one of them, not all",
          "[memory_backend]") {
  run_coroutine([]() -> asio::awaitable<void> {
    manual_clock clock;
    MemoryCacheBackend<std::string> cache(options_with<std::string>(clock, 1000, 1, 1h));
    co_await cache.initialize();
    for (int i = 0; i < 1000; ++i) co_await cache.set("brief" + std::to_string(i), "v", 1s);
    clock.advance(2s);  // all expired, and no sweep due for an hour
    for (int i = 0; i < 10; ++i) co_await cache.set("new" + std::to_string(i), "v");
    const auto stats = cache.stats();
    CHECK(stats.evictions == 0);  // every insert found an expired entry to replace
    CHECK(stats.expirations == 10);
    CHECK(stats.sweep_visits == 10);
    CHECK(stats.size == 1000);
  });
}

namespace {
// The errc get_now throws, or nothing when it returns.
std::optional<errc> get_now_error(MemoryCacheBackend<std::string>& cache, std::string_view key) {
  try {
    (void)cache.get_now(key);
  } catch (const corocache::cache_error& e) {
    return e.error();
  }
  return std::nullopt;
}
}  // namespace

TEST_CASE("get_now returns what get returns, expiry and counters included", "[memory_backend]") {
  for (const auto eviction :
       {corocache::eviction_policy::s3_fifo, corocache::eviction_policy::lru}) {
    run_coroutine([eviction]() -> asio::awaitable<void> {
      manual_clock clock;
      MemoryCacheBackend<std::string> cache(
          options_with<std::string>(clock, 100, 4, 60s, eviction));
      CHECK(get_now_error(cache, "k") == errc::not_initialized);
      co_await cache.initialize();
      co_await cache.set("k", "value");
      co_await cache.set("brief", "gone soon", 1s);
      CHECK(cache.get_now("k") == std::optional<std::string>("value"));
      CHECK(cache.get_now("brief") == std::optional<std::string>("gone soon"));
      CHECK_FALSE(cache.get_now("absent"));
      clock.advance(2s);
      CHECK_FALSE(cache.get_now("brief"));  // expired: never returned, and removed
      CHECK_FALSE(co_await cache.get("brief"));
      CHECK(cache.stats().size == 1);
      CHECK(cache.stats().hits == 2);
      CHECK(cache.stats().misses == 3);
      co_await cache.shutdown();
      CHECK(get_now_error(cache, "k") == errc::shut_down);
    });
  }
}

TEST_CASE("get_now takes part in the bounded sweep steps", "[memory_backend]") {
  run_coroutine([]() -> asio::awaitable<void> {
    manual_clock clock;
    const std::size_t expiring = 3 * memory_options::sweep_step + 5;
    MemoryCacheBackend<std::string> cache(options_with<std::string>(
        clock, expiring + 10, 1, 10s, corocache::eviction_policy::s3_fifo));
    co_await cache.initialize();
    for (std::size_t i = 0; i < expiring; ++i) co_await cache.set("e" + std::to_string(i), "v", 1s);
    co_await cache.set("live", "v");
    clock.advance(11s);  // every TTL is past and a sweep is due
    std::uint64_t visited = 0;
    for (int step = 0; step < 4; ++step) {
      CHECK(cache.get_now("live") == std::optional<std::string>("v"));
      const auto now_visited = cache.stats().sweep_visits;
      CHECK(now_visited - visited <= memory_options::sweep_step);
      visited = now_visited;
    }
    CHECK(cache.stats().expirations == expiring);  // four steps reclaimed every expired entry
  });
}

// With the real clock, a read asks for the precise time only when the entry it found has a TTL,
// and checks whether a sweep is due on the coarse clock (detail/read_clock.hpp). Neither may let
// an expired entry through or keep a sweep from starting.
TEST_CASE("with the real clock, a key read after its TTL is never returned", "[memory_backend]") {
  run_coroutine([]() -> asio::awaitable<void> {
    MemoryCacheBackend<std::string> cache(100);
    co_await cache.initialize();
    co_await cache.set("forever", "f");
    int expired_seen = 0;
    for (int round = 0; round < 20 && expired_seen < 3; ++round) {
      co_await cache.set("short", "s", 2ms);
      // The backend's deadline is its own now() plus the TTL, taken after this point.
      const auto set_at = std::chrono::steady_clock::now();
      const auto give_up = set_at + 2s;  // bounds the loop
      for (;;) {
        CHECK(cache.get_now("forever") == "f");  // a hit that reads no precise clock
        const auto before = std::chrono::steady_clock::now();
        const auto value = co_await cache.get("short");
        const auto value_now = cache.get_now("short");
        if (value || value_now) {
          // Both reads took their time after `before`, and the deadline is before set_at + 2ms.
          if (before >= set_at + 2ms) FAIL("an entry was returned after its TTL had passed");
          if (before > give_up) FAIL("the entry never expired");
          continue;
        }
        CHECK_FALSE(co_await cache.exists("short"));  // once gone, gone
        ++expired_seen;
        break;
      }
    }
    CHECK(expired_seen == 3);
  });
}

TEST_CASE("with the real clock, reads of keys without a TTL still start sweeps",
          "[memory_backend]") {
  run_coroutine([]() -> asio::awaitable<void> {
    MemoryCacheBackend<std::string> cache(
        memory_options{.max_size = 1000, .clean_interval = 5ms, .shards = 1});
    co_await cache.initialize();
    co_await cache.set("forever", "f");
    for (int i = 0; i < 100; ++i) co_await cache.set("short:" + std::to_string(i), "s", 1ms);
    // Only reads of "forever" from here: only the sweeps they start can reclaim the others.
    const auto give_up = std::chrono::steady_clock::now() + 5s;  // bounds the loop
    while (cache.stats().expirations < 100 && std::chrono::steady_clock::now() < give_up)
      CHECK(co_await cache.get("forever") == "f");
    CHECK(cache.stats().expirations == 100);
    CHECK(cache.stats().size == 1);
  });
}
