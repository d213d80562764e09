// Many threads on one memory backend: run under the tsan preset to prove there is no data race.
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <atomic>
#include <random>
#include <thread>
#include "support/catch.hpp"

#include "corocache/memory_backend.hpp"

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
