// The cache layer's costs, each against a baseline run in the same process:
// 1. get_or_set on a hit vs a plain get on the memory backend (target: <= 1.1x the time);
// 2. instrumented<T> (the counting decorator) get-hit vs a plain get-hit;
// 3. 1,000 concurrent callers of one cold key on two io threads: how often the loader runs;
// 4. stale-while-revalidate: latency of reads in the stale window vs the loader's duration.
// With --redis-port (bench/run passes its private redis-server), on Redis as well:
// 5. GET at depth 64 on one connection through instrumented<T> vs bare (the counting cost);
// 6. the stampede lock: 1,000 callers spread over 4 backend objects (4 connections, as 4
//    processes would have) on one cold key: loader runs and the time until all are served.
// Times are medians over rounds that alternate between the variants, so load from other
// processes hits both alike.
//
//   get_or_set_bench [--smoke] [--redis-port=P]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "corocache/config.hpp"
#include "corocache/instrumented.hpp"
#include "corocache/memory_backend.hpp"
#if COROCACHE_WITH_REDIS
#include "corocache/redis_backend.hpp"
#endif

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using string_cache = corocache::CacheBackend<std::string>;

namespace {

constexpr std::size_t key_count = 1000;

std::vector<std::string> make_keys() {
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < key_count; ++i) keys.push_back("key:" + std::to_string(i));
  return keys;
}

template <class Body>
void run(Body body) {
  asio::io_context io;
  asio::co_spawn(io, body(), asio::detached);
  io.run();
}

asio::awaitable<std::string> never_called() {
  std::fprintf(stderr, "a hit ran the loader\n");
  std::abort();
  co_return "";
}

// Nanoseconds per operation of `operations` gets (or get_or_sets) on warm keys.
double ns_per_get(string_cache& cache, const std::vector<std::string>& keys, long operations,
                  bool through_get_or_set) {
  double result = 0;
  run([&]() -> asio::awaitable<void> {
    auto loader = [] { return never_called(); };
    std::size_t found = 0;
    const auto start = clock_type::now();
    for (long i = 0; i < operations; ++i) {
      const auto& key = keys[static_cast<std::size_t>(i) % keys.size()];
      if (through_get_or_set) {
        found += (co_await cache.get_or_set(key, loader)).size();
      } else {
        found += (co_await cache.get(key))->size();
      }
    }
    const auto elapsed = std::chrono::duration<double, std::nano>(clock_type::now() - start);
    result = elapsed.count() / static_cast<double>(operations);
    if (found == 0) std::fprintf(stderr, "nothing found\n");
  });
  return result;
}

// One function per variant, so that a profile (callgrind_annotate --inclusive=yes, as bench/run
// does) gives each one's instructions apart.
[[gnu::noipa]] double plain_get_ns(string_cache& cache, const std::vector<std::string>& keys,
                                   long operations) {
  return ns_per_get(cache, keys, operations, false);
}
[[gnu::noipa]] double get_or_set_ns(string_cache& cache, const std::vector<std::string>& keys,
                                    long operations) {
  return ns_per_get(cache, keys, operations, true);
}
[[gnu::noipa]] double instrumented_get_ns(string_cache& cache, const std::vector<std::string>& keys,
                                          long operations) {
  return ns_per_get(cache, keys, operations, false);
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

void warm(string_cache& cache, const std::vector<std::string>& keys) {
  run([&]() -> asio::awaitable<void> {
    co_await cache.initialize();
    for (const auto& key : keys) co_await cache.set(key, "value of " + key);
  });
}

void hit_path(int rounds, long operations) {
  const auto keys = make_keys();
  corocache::MemoryCacheBackend<std::string> plain(key_count * 2);
  corocache::instrumented<std::string> counted(
      std::make_unique<corocache::MemoryCacheBackend<std::string>>(key_count * 2), "memory");
  warm(plain, keys);
  warm(counted, keys);
  std::vector<double> get, get_or_set, instrumented_get;
  for (int r = 0; r < rounds; ++r) {
    get.push_back(plain_get_ns(plain, keys, operations));
    get_or_set.push_back(get_or_set_ns(plain, keys, operations));
    instrumented_get.push_back(instrumented_get_ns(counted, keys, operations));
  }
  std::printf("hit path, memory backend, %d rounds x %ld operations (median ns/op)\n", rounds,
              operations);
  std::printf("  get                  %8.1f ns\n", median(get));
  std::printf("  get_or_set           %8.1f ns   ratio to get: %.3f\n", median(get_or_set),
              median(get_or_set) / median(get));
  std::printf("  instrumented get     %8.1f ns   ratio to get: %.3f\n", median(instrumented_get),
              median(instrumented_get) / median(get));
}

asio::awaitable<std::string> slow_load(std::atomic<int>& runs, std::chrono::milliseconds delay) {
  ++runs;
  asio::steady_timer timer(co_await asio::this_coro::executor, delay);
  co_await timer.async_wait(asio::use_awaitable);
  co_return "loaded";
}

void cold_key_stampede(int callers) {
  corocache::MemoryCacheBackend<std::string> cache(100);
  asio::io_context io(2);
  std::atomic<int> runs{0};
  std::atomic<int> served{0};
  asio::co_spawn(io, cache.initialize(), asio::detached);
  io.run();
  io.restart();
  auto loader = [&runs] { return slow_load(runs, 50ms); };
  for (int i = 0; i < callers; ++i) {
    auto caller = [&]() -> asio::awaitable<void> {
      if (co_await cache.get_or_set("cold", loader) == "loaded") ++served;
    };
    asio::co_spawn(io, caller(), asio::detached);
  }
  std::thread second([&] { io.run(); });
  io.run();
  second.join();
  std::printf(
      "%d concurrent callers, one cold key, 2 io threads: loader runs %d, callers served %d\n",
      callers, runs.load(), served.load());
}

void stale_window(int reads) {
  const auto loader_delay = 50ms;
  std::vector<double> latencies;
  std::atomic<int> runs{0};
  run([&]() -> asio::awaitable<void> {
    corocache::MemoryCacheBackend<std::string> cache(100);
    co_await cache.initialize();
    corocache::get_or_set_options options;
    options.ttl = 20ms;
    options.stale_for = 60s;
    auto loader = [&runs, loader_delay] { return slow_load(runs, loader_delay); };
    co_await cache.get_or_set("k", loader, options);
    asio::steady_timer pause(co_await asio::this_coro::executor);
    for (int i = 0; i < reads; ++i) {
      // Wait out the fresh window now and then, so many reads land in the stale window.
      if (i % 50 == 0) {
        pause.expires_after(options.ttl.value() + 5ms);
        co_await pause.async_wait(asio::use_awaitable);
      }
      const auto start = clock_type::now();
      co_await cache.get_or_set("k", loader, options);
      latencies.push_back(
          std::chrono::duration<double, std::micro>(clock_type::now() - start).count());
    }
    pause.expires_after(loader_delay * 2);
    co_await pause.async_wait(asio::use_awaitable);  // let the last refresh end
  });
  std::sort(latencies.begin(), latencies.end());
  const auto at = [&](double q) {
    return latencies[std::min(latencies.size() - 1,
                              static_cast<std::size_t>(q * latencies.size()))];
  };
  std::printf(
      "stale-while-revalidate, %d reads (fresh and stale), loader %lld ms, %d loader runs\n", reads,
      static_cast<long long>(loader_delay.count()), runs.load());
  std::printf("  read latency p50 %.1f us, p99 %.1f us, max %.1f us (loader: %.0f us)\n", at(0.5),
              at(0.99), latencies.back(),
              std::chrono::duration<double, std::micro>(loader_delay).count());
}

#if COROCACHE_WITH_REDIS
using redis_cache = corocache::RedisCacheBackend<std::string>;

std::string redis_url(int port) {
  return "redis://127.0.0.1:" + std::to_string(port) + "/0";
}

// Runs `spawn(done)` and waits until `count` calls of done() have happened.
template <class Spawn>
asio::awaitable<void> wait_for_all(int count, Spawn spawn) {
  asio::steady_timer finished(co_await asio::this_coro::executor,
                              asio::steady_timer::time_point::max());
  int left = count;
  auto done = [&] {
    if (--left == 0) finished.cancel();
  };
  spawn(done);
  asio::error_code ignored;
  if (left > 0) co_await finished.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

// Seconds for `operations` GETs of warm keys by `depth` concurrent callers on one connection.
asio::awaitable<double> redis_get_seconds(string_cache& cache, const std::vector<std::string>& keys,
                                          long operations, int depth) {
  const auto executor = co_await asio::this_coro::executor;
  long issued = 0;
  auto caller = [&]() -> asio::awaitable<void> {
    while (issued < operations) {
      const auto& key = keys[static_cast<std::size_t>(issued++) % keys.size()];
      if (!co_await cache.get(key)) std::abort();  // the keys were stored: a miss is a bug
    }
  };
  const auto start = clock_type::now();
  auto spawn = [&](auto& done) {
    for (int i = 0; i < depth; ++i)
      asio::co_spawn(executor, caller(), [&done](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
        done();
      });
  };
  co_await wait_for_all(depth, spawn);
  co_return std::chrono::duration<double>(clock_type::now() - start).count();
}

asio::awaitable<void> redis_counting_cost(int port, int rounds, long operations) {
  constexpr int depth = 64;
  const auto executor = co_await asio::this_coro::executor;
  const auto keys = make_keys();
  redis_cache bare(executor, redis_url(port), "bench:gos:");
  corocache::instrumented<std::string> counted(
      std::make_unique<redis_cache>(executor, redis_url(port), "bench:gos:"), "redis");
  co_await bare.initialize();
  co_await counted.initialize();
  for (const auto& key : keys) co_await bare.set(key, "value of " + key);
  std::vector<double> plain_s, counted_s;
  for (int r = 0; r < rounds; ++r) {
    plain_s.push_back(co_await redis_get_seconds(bare, keys, operations, depth));
    counted_s.push_back(co_await redis_get_seconds(counted, keys, operations, depth));
  }
  const double plain = median(plain_s), instr = median(counted_s);
  std::printf("Redis GET, depth %d on one connection, %d rounds x %ld GETs (median)\n", depth,
              rounds, operations);
  std::printf("  bare                 %8.0f GET/s\n", static_cast<double>(operations) / plain);
  std::printf("  instrumented         %8.0f GET/s   time ratio to bare: %.3f\n",
              static_cast<double>(operations) / instr, instr / plain);
  co_await bare.shutdown();
  co_await counted.shutdown();
}

// 1,000 callers over `objects` backend objects (one connection each, as separate processes
// would have) on one cold key, with the stampede lock.
asio::awaitable<void> redis_lock_stampede(int port, int callers, int objects) {
  const auto executor = co_await asio::this_coro::executor;
  const auto loader_delay = 50ms;
  std::vector<std::unique_ptr<redis_cache>> caches;
  for (int i = 0; i < objects; ++i) {
    caches.push_back(std::make_unique<redis_cache>(executor, redis_url(port), "bench:lock:"));
    co_await caches.back()->initialize();
  }
  co_await caches.front()->erase("cold");
  std::atomic<int> runs{0};
  int served = 0;
  auto loader = [&runs, loader_delay] { return slow_load(runs, loader_delay); };
  corocache::get_or_set_options options;
  options.ttl = 60s;
  options.lock = corocache::stampede_lock_options{};
  const auto start = clock_type::now();
  auto spawn = [&](auto& done) {
    for (int i = 0; i < callers; ++i) {
      auto& cache = *caches[static_cast<std::size_t>(i % objects)];
      asio::co_spawn(executor, cache.get_or_set("cold", loader, options),
                     [&done, &served](std::exception_ptr e, std::string value) {
                       if (e) std::rethrow_exception(e);
                       if (value == "loaded") ++served;
                       done();
                     });
    }
  };
  co_await wait_for_all(callers, spawn);
  const double ms = std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
  std::uint64_t waits = 0;
  for (auto& cache : caches) {
    waits += cache->load_stats().lock_waits;
    co_await cache->shutdown();
  }
  std::printf(
      "stampede lock on Redis: %d callers over %d backend objects (connections), one cold "
      "key\n",
      callers, objects);
  std::printf(
      "  loader runs %d, callers served %d, lock waits %llu, all served after %.1f ms "
      "(loader: %lld ms, polls from 10 ms)\n",
      runs.load(), served, static_cast<unsigned long long>(waits), ms,
      static_cast<long long>(loader_delay.count()));
}

void redis_rows(int port, bool smoke) {
  asio::io_context io(1);
  auto body = [&]() -> asio::awaitable<void> {
    co_await redis_counting_cost(port, smoke ? 3 : 9, smoke ? 2000 : 200000);
    co_await redis_lock_stampede(port, 1000, 4);
  };
  std::exception_ptr failure;
  asio::co_spawn(io, body(), [&](std::exception_ptr e) {
    failure = e;
    io.stop();  // the connections' timers must not keep the benchmark alive
  });
  io.run();
  if (failure) std::rethrow_exception(failure);
}
#endif

}  // namespace

int main(int argc, char** argv) {
  bool smoke = false;
  int redis_port = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--smoke") == 0) {
      smoke = true;
    } else if (std::strncmp(argv[i], "--redis-port=", 13) == 0) {
      redis_port = std::atoi(argv[i] + 13);
    } else {
      std::fprintf(stderr, "usage: get_or_set_bench [--smoke] [--redis-port=P]\n");
      return 2;
    }
  }
  std::printf("get_or_set_bench on %u hardware threads%s\n", std::thread::hardware_concurrency(),
              smoke ? " (smoke run: numbers mean nothing)" : "");
  hit_path(smoke ? 3 : 15, smoke ? 1000 : 200000);
  cold_key_stampede(1000);
  stale_window(smoke ? 100 : 1000);
#if COROCACHE_WITH_REDIS
  if (redis_port != 0) redis_rows(redis_port, smoke);
#endif
}
