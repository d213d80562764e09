// Many threads on one memory backend: run under the tsan preset to prove there is no data race.
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <atomic>
#include <random>
#include <thread>
#include "support/catch.hpp"

#include "corocache/memory_backend.hpp"
#include "support/manual_clock.hpp"

TEST_CASE("coroutines on four threads share one memory backend safely",
          "[memory_backend][threads]") {
  const auto policy =
      GENERATE(corocache::eviction_policy::lru, corocache::eviction_policy::s3_fifo);
  for (std::size_t shards : {1u, 8u}) {
    corocache::MemoryCacheBackend<std::string> cache(
        corocache::memory_options{.max_size = 500,
                                  .clean_interval = std::chrono::milliseconds(5),
                                  .shards = shards,
                                  .eviction = policy});
    asio::io_context io(4);
    std::atomic<int> started{0};
    std::atomic<long> operations{0};
    std::atomic<long> wrong_values{0};
    std::atomic<bool> ready{false};
    asio::co_spawn(io, cache.initialize(), [&](std::exception_ptr) { ready = true; });
    io.run();
    io.restart();
    constexpr int workers = 32;
    constexpr int operations_per_worker = 4000;  // 128k operations per shard setting
    for (int w = 0; w < workers; ++w) {
      asio::co_spawn(
          io,
          [&, w]() -> asio::awaitable<void> {
            ++started;
            std::mt19937 random(static_cast<unsigned>(w));
            for (int i = 0; i < operations_per_worker; ++i) {
              const auto id = random() % 1000;
              const auto key = "key" + std::to_string(id);
              switch (random() % 6) {
                case 0:
                  co_await cache.set(key, key, std::chrono::milliseconds(1 + random() % 10));
                  break;
                case 1:
                  co_await cache.set(key, key);
                  break;
                case 2:
                  co_await cache.erase(key);
                  break;
                case 3:
                  co_await cache.incr("counter" + std::to_string(id % 10));
                  break;
                case 4:
                  co_await cache.invalidate_pattern("key1?");
                  break;
                default: {
                  const auto value = co_await cache.get(key);
                  if (value && *value != key) ++wrong_values;  // a value always names its key
                }
              }
              ++operations;
            }
          },
          asio::detached);
    }
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) threads.emplace_back([&] { io.run(); });
    for (auto& t : threads) t.join();
    CHECK(ready);
    CHECK(started == workers);
    CHECK(operations == workers * operations_per_worker);
    CHECK(wrong_values == 0);
    CHECK(cache.stats().size <= 500);
  }
}

namespace {

// Runs `body(thread_index)` on `threads` threads at once and waits for them.
template <class Body>
void on_threads(int threads, Body body) {
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back([&body, t] { body(t); });
  for (auto& thread : pool) thread.join();
}

template <class Make>
void run_on_own_context(Make make) {
  asio::io_context io;
  std::exception_ptr failure;
  asio::co_spawn(io, make(), [&](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) std::rethrow_exception(failure);
}

std::string long_value(const std::string& key, int version) {
  // Past the small-string buffer, so a copy made while a writer frees it would be caught (by
  // TSan or ASan, or by the content check).
  std::string value = key + "#" + std::to_string(version) + ":";
  while (value.size() < 100) value += key;
  return value;
}

bool names_its_key(const std::string& value, const std::string& key) {
  const auto hash = value.find('#');
  const auto colon = value.find(':');
  if (hash == std::string::npos || colon == std::string::npos) return false;
  const auto version = value.substr(hash + 1, colon - hash - 1);
  return value.substr(0, hash) == key && value == long_value(key, std::stoi(version));
}

}  // namespace

TEST_CASE("readers copy whole values (get and get_now) while writers replace and evict them",
          "[memory_backend][threads]") {
  const auto policy =
      GENERATE(corocache::eviction_policy::lru, corocache::eviction_policy::s3_fifo);
  const std::size_t shards = GENERATE(1u, 4u);
  constexpr std::size_t max_size = 64;
  corocache::MemoryCacheBackend<std::string> cache(
      corocache::memory_options{.max_size = max_size, .shards = shards, .eviction = policy});
  run_on_own_context([&] { return cache.initialize(); });
  std::atomic<long> wrong{0};
  std::atomic<long> hits{0};
  std::atomic<long> gets{0};
  std::atomic<bool> oversized{false};
  std::atomic<int> writers_left{2};
  constexpr int rounds = 3000;
  on_threads(6, [&](int t) {
    run_on_own_context([&]() -> asio::awaitable<void> {
      std::mt19937 random(static_cast<unsigned>(t));
      if (t < 2) {  // writers: 256 keys into 64 places, so every set may evict
        for (int i = 0; i < rounds; ++i) {
          const auto key = "k" + std::to_string(random() % 256);
          co_await cache.set(key, long_value(key, i));
          if (i % 8 == 0) co_await cache.erase("k" + std::to_string(random() % 256));
          if (cache.stats().size > max_size) oversized = true;
        }
        --writers_left;
      } else {  // readers, until the writers are done
        while (writers_left > 0) {
          const auto key = "k" + std::to_string(random() % 256);
          // Half the readers use the synchronous lookup, which must be as safe.
          std::optional<std::string> value;
          if (t % 2 == 0) {
            value = co_await cache.get(key);
          } else {
            value = cache.get_now(key);
          }
          ++gets;
          if (value) {
            ++hits;
            if (!names_its_key(*value, key)) ++wrong;
          }
          if (co_await cache.exists("never-set")) ++wrong;
        }
      }
    });
  });
  CHECK(wrong == 0);
  CHECK_FALSE(oversized);
  CHECK(cache.stats().size <= max_size);
  CHECK(cache.stats().hits == static_cast<std::uint64_t>(hits.load()));
  CHECK(cache.stats().hits + cache.stats().misses == static_cast<std::uint64_t>(gets.load()));
}

TEST_CASE("hits and misses are counted exactly when more threads than read slots count them",
          "[memory_backend][threads]") {
  corocache::MemoryCacheBackend<std::string> cache(
      corocache::memory_options{.max_size = 1000, .shards = 2});
  run_on_own_context([&]() -> asio::awaitable<void> {
    co_await cache.initialize();
    for (int i = 0; i < 100; ++i) co_await cache.set("k" + std::to_string(i), "v");
  });
  constexpr int threads = 80;  // beyond the 64 slots a shard ever has, so slots are shared
  constexpr int gets_per_thread = 500;
  on_threads(threads, [&](int t) {
    run_on_own_context([&]() -> asio::awaitable<void> {
      for (int i = 0; i < gets_per_thread; ++i) {
        // Even i: a present key; odd i: an absent one.
        co_await cache.get((i % 2 == 0 ? "k" : "absent") + std::to_string((t + i) % 100));
      }
    });
  });
  const auto stats = cache.stats();
  CHECK(stats.hits == threads * gets_per_thread / 2);
  CHECK(stats.misses == threads * gets_per_thread / 2);
}

TEST_CASE("an entry is never returned after its deadline, whatever the threads do",
          "[memory_backend][threads]") {
  const auto policy =
      GENERATE(corocache::eviction_policy::lru, corocache::eviction_policy::s3_fifo);
  corocache::test::manual_clock clock;
  corocache::MemoryCacheBackend<std::int64_t> cache(
      corocache::memory_options{.max_size = 200,
                                .clean_interval = std::chrono::milliseconds(3),
                                .shards = 4,
                                .clock = clock.source(),
                                .eviction = policy});
  run_on_own_context([&] { return cache.initialize(); });
  const auto ticks = [&] { return clock.now().time_since_epoch().count(); };
  std::atomic<long> late{0};
  std::atomic<long> found{0};
  std::atomic<bool> writing{true};
  on_threads(4, [&](int t) {
    run_on_own_context([&]() -> asio::awaitable<void> {
      std::mt19937 random(static_cast<unsigned>(t));
      if (t == 0) {
        // The one writer also moves the clock, between its sets, so that each value is exactly
        // the deadline the cache computed for it.
        for (int i = 0; i < 8000; ++i) {
          const auto ttl = std::chrono::milliseconds(1 + random() % 3);
          const auto deadline = ticks() + std::chrono::nanoseconds(ttl).count();
          co_await cache.set("k" + std::to_string(random() % 300), deadline, ttl);
          clock.advance(std::chrono::microseconds(50));
        }
        writing = false;
      } else {  // readers: a value whose deadline had passed before the get started is late
        while (writing) {
          const auto before = ticks();
          const auto value = co_await cache.get("k" + std::to_string(random() % 300));
          if (value) ++found;
          if (value && *value <= before) ++late;
        }
      }
    });
  });
  CHECK(late == 0);
  CHECK(found > 0);  // the readers did see live entries: the check above was exercised
  CHECK(cache.stats().size <= 200);
}
