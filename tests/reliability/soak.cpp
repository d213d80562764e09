// soak: one backend under sustained load from many coroutines, to show that nothing accumulates.
//
// Runs --operations random operations (get, set with and without TTL, incr, get_many, set_many,
// erase, exists, now and then invalidate_pattern) from --coroutines coroutines over --keys keys,
// against a memory backend at --max-size (constant eviction churn: keys > max-size; --eviction
// s3_fifo, the default, or lru) or a
// RedisCacheBackend on a redis-server the program starts itself. Every --operations/--intervals
// operations it samples resident memory and throughput, and prints them as a table.
//
// Checks (exit 1 when one fails): no operation failed; every value read belongs to the key it was
// read from; the memory backend never held more than --max-size entries; resident memory after
// the first --warmup intervals grew by at most --max-growth over its level at the end of warm-up
// (not checked under ASan/TSan, whose allocators hold freed memory on purpose). Throughput is
// reported, never checked. scripts/soak runs it with the documented long-run defaults.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "corocache/memory_backend.hpp"
#include "reliability/program_support.hpp"
#ifdef COROCACHE_RELIABILITY_REDIS
#include "corocache/redis_backend.hpp"
#include "support/redis_server.hpp"
#endif

namespace {

using namespace corocache;
using namespace std::chrono_literals;
using string_cache = CacheBackend<std::string>;
using clock_type = std::chrono::steady_clock;

struct soak_settings {
  std::string backend;
  std::uint64_t operations;
  std::uint64_t coroutines;
  std::uint64_t keys;
  std::uint64_t max_size;
  std::uint64_t intervals;
  std::uint64_t warmup;
  double max_growth;
  unsigned threads;
  eviction_policy eviction;
};

struct sample {
  std::uint64_t operations = 0;
  double seconds = 0;
  std::size_t resident = 0;
  std::size_t entries = 0;  // memory backend only
};

class soak_run {
 public:
  explicit soak_run(const soak_settings& settings)
      : settings_(settings),
        per_interval_(std::max<std::uint64_t>(1, settings.operations / settings.intervals)) {}

  /// Runs every worker to completion on this coroutine's executor.
  asio::awaitable<void> run(string_cache& cache, std::function<std::size_t()> entries) {
    entries_ = std::move(entries);
    auto executor = co_await asio::this_coro::executor;
    start_ = clock_type::now();
    record(0);
    std::atomic<std::uint64_t> running{settings_.coroutines};
    for (std::uint64_t i = 0; i < settings_.coroutines; ++i) {
      asio::co_spawn(executor, worker(cache, i), [&](std::exception_ptr e) {
        if (e) note_error("worker stopped by an exception");
        running.fetch_sub(1);
      });
    }
    // Polling keeps this simple and correct with several threads; 10 ms is nothing here.
    asio::steady_timer poll(executor);
    while (running.load() > 0) {
      poll.expires_after(10ms);
      co_await poll.async_wait(asio::use_awaitable);
    }
  }

  /// Prints the curve and the counts; true when every check passed.
  bool report() {
    std::sort(samples_.begin(), samples_.end(),
              [](const sample& a, const sample& b) { return a.operations < b.operations; });
    std::printf("%8s %12s %9s %11s %10s %9s\n", "interval", "operations", "seconds", "ops/s",
                "rss_MiB", "entries");
    for (std::size_t i = 1; i < samples_.size(); ++i) {
      const auto& s = samples_[i];
      const double dt = s.seconds - samples_[i - 1].seconds;
      const double rate =
          dt > 0 ? static_cast<double>(s.operations - samples_[i - 1].operations) / dt : 0;
      const auto entries = entries_ ? std::to_string(s.entries) : "-";
      std::printf("%8zu %12llu %9.2f %11.0f %10.1f %9s%s\n", i,
                  static_cast<unsigned long long>(s.operations), s.seconds, rate,
                  static_cast<double>(s.resident) / (1 << 20), entries.c_str(),
                  i == settings_.warmup ? "  <- end of warm-up" : "");
    }
    bool ok = true;
    const double total_seconds = samples_.back().seconds;
    std::printf("operations %llu in %.1f s (%.0f ops/s), errors %llu, wrong values %llu\n",
                static_cast<unsigned long long>(samples_.back().operations), total_seconds,
                static_cast<double>(samples_.back().operations) / total_seconds,
                static_cast<unsigned long long>(errors_.load()),
                static_cast<unsigned long long>(wrong_values_.load()));
    if (errors_ > 0 || wrong_values_ > 0) ok = false;
    if (samples_.back().operations != settings_.operations) {
      std::printf("FAIL: %llu operations completed, %llu expected\n",
                  static_cast<unsigned long long>(samples_.back().operations),
                  static_cast<unsigned long long>(settings_.operations));
      ok = false;
    }
    if (settings_.backend == "memory") {
      std::size_t most = 0;
      for (const auto& s : samples_) most = std::max(most, s.entries);
      std::printf("memory backend: at most %zu entries held (max_size %llu)\n", most,
                  static_cast<unsigned long long>(settings_.max_size));
      if (most > settings_.max_size) ok = false;
    }
    return check_memory_growth() && ok;
  }

 private:
  bool check_memory_growth() const {
    if (settings_.warmup >= samples_.size() - 1) {
      std::printf("memory growth: not checked (no interval after warm-up)\n");
      return true;
    }
    const double base = static_cast<double>(samples_[settings_.warmup].resident);
    std::size_t highest = 0;
    for (std::size_t i = settings_.warmup; i < samples_.size(); ++i)
      highest = std::max(highest, samples_[i].resident);
    const double growth = (static_cast<double>(highest) - base) / base;
    std::printf(
        "resident memory after warm-up: %.1f MiB, highest later %.1f MiB, growth %.1f%% "
        "(bound %.1f%%)",
        base / (1 << 20), static_cast<double>(highest) / (1 << 20), growth * 100,
        settings_.max_growth * 100);
    if (!test::resident_memory_is_meaningful()) {
      std::printf(": not checked in a sanitizer build\n");
      return true;
    }
    std::printf(growth <= settings_.max_growth ? ": ok\n" : ": FAIL\n");
    return growth <= settings_.max_growth;
  }

  asio::awaitable<void> worker(string_cache& cache, std::uint64_t index) {
    std::mt19937_64 random(index * 7919 + 17);
    for (;;) {
      const std::uint64_t op = next_.fetch_add(1);
      if (op >= settings_.operations) co_return;
      try {
        co_await one_operation(cache, random, op);
      } catch (const std::exception& e) {
        note_error(e.what());
      }
      const std::uint64_t finished = done_.fetch_add(1) + 1;
      if (finished % per_interval_ == 0 || finished == settings_.operations) record(finished);
    }
  }

  asio::awaitable<void> one_operation(string_cache& cache, std::mt19937_64& random,
                                      std::uint64_t op) {
    auto key = [&] { return "k" + std::to_string(random() % settings_.keys); };
    const auto roll = random() % 100;
    if (roll < 45) {
      auto k = key();
      check_value(k, co_await cache.get(k));
    } else if (roll < 75) {
      auto k = key();
      optional_ttl ttl;
      if (random() % 4 == 0) ttl = std::chrono::milliseconds(100 + random() % 2000);
      auto value = k + "#" + std::to_string(op);
      co_await cache.set(std::move(k), std::move(value), ttl);
    } else if (roll < 85) {
      co_await cache.incr("c" + std::to_string(random() % 1000));
    } else if (roll < 92) {
      std::vector<std::string> keys;
      for (int i = 0; i < 16; ++i) keys.push_back(key());
      auto asked = keys;
      const auto values = co_await cache.get_many(std::move(asked));
      if (values.size() != keys.size()) note_wrong_value("get_many: wrong result count");
      for (std::size_t i = 0; i < keys.size() && i < values.size(); ++i)
        check_value(keys[i], values[i]);
    } else if (roll < 97) {
      co_await cache.erase(key());
    } else if (roll < 99) {
      string_cache::item_list items;
      for (int i = 0; i < 8; ++i) {
        auto k = key();
        items.emplace_back(k, k + "#" + std::to_string(op));
      }
      co_await cache.set_many(std::move(items));
    } else {
      co_await cache.exists(key());
    }
    // About 1% of the keys: those starting with one digit and ending with 7.
    if (op % 50'000 == 49'999)
      co_await cache.invalidate_pattern("k" + std::to_string(random() % 10) + "*7");
  }

  void check_value(const std::string& key, const std::optional<std::string>& value) {
    if (!value) return;
    if (value->size() <= key.size() + 1 || value->compare(0, key.size(), key) != 0 ||
        (*value)[key.size()] != '#' ||
        value->find_first_not_of("0123456789", key.size() + 1) != std::string::npos)
      note_wrong_value("key " + key + " held " + *value);
  }

  void record(std::uint64_t operations) {
    sample s;
    s.operations = operations;
    s.seconds = std::chrono::duration<double>(clock_type::now() - start_).count();
    s.resident = test::resident_bytes();
    s.entries = entries_ ? entries_() : 0;
    std::lock_guard lock(mutex_);
    samples_.push_back(s);
  }

  void note_error(const std::string& what) {
    if (errors_.fetch_add(1) < 5) std::cerr << "soak: operation failed: " << what << '\n';
  }

  void note_wrong_value(const std::string& what) {
    if (wrong_values_.fetch_add(1) < 5) std::cerr << "soak: wrong value: " << what << '\n';
  }

  soak_settings settings_;
  std::uint64_t per_interval_;
  std::function<std::size_t()> entries_;
  clock_type::time_point start_;
  std::atomic<std::uint64_t> next_{0};
  std::atomic<std::uint64_t> done_{0};
  std::atomic<std::uint64_t> errors_{0};
  std::atomic<std::uint64_t> wrong_values_{0};
  std::mutex mutex_;
  std::vector<sample> samples_;
};

bool soak_memory(const soak_settings& settings) {
  soak_run run(settings);
  MemoryCacheBackend<std::string> cache(memory_options{
      .max_size = settings.max_size, .clean_interval = 1s, .eviction = settings.eviction});
  test::run_on_threads(settings.threads, [&](asio::any_io_executor) -> asio::awaitable<void> {
    co_await cache.initialize();
    co_await run.run(cache, [&cache] { return cache.stats().size; });
    co_await cache.shutdown();
  });
  return run.report();
}

#ifdef COROCACHE_RELIABILITY_REDIS
bool soak_redis(const soak_settings& settings) {
  // A memory ceiling keeps the server bounded whatever --keys says.
  test::redis_server server(
      test::redis_server::options{.config = {"maxmemory 512mb", "maxmemory-policy allkeys-lru"}});
  std::printf("redis-server on 127.0.0.1:%u\n", static_cast<unsigned>(server.port()));
  soak_run run(settings);
  test::run_on_threads(settings.threads, [&](asio::any_io_executor ex) -> asio::awaitable<void> {
    RedisCacheBackend<std::string> cache(
        ex, redis_options{.url = "redis://127.0.0.1:" + std::to_string(server.port()) + "/0",
                          .prefix = "soak:"});
    co_await cache.initialize();
    co_await run.run(cache, {});
    co_await cache.shutdown();
  });
  return run.report();
}
#endif

}  // namespace

int main(int argc, char** argv) {
  try {
    const test::program_flags flags(argc, argv,
                                    {{"backend", "memory"},
                                     {"operations", "5000000"},
                                     {"coroutines", "64"},
                                     {"keys", "400000"},
                                     {"max-size", "100000"},
                                     {"intervals", "20"},
                                     {"warmup", "4"},
                                     {"max-growth", "0.10"},
                                     {"threads", "1"},
                                     {"eviction", "s3_fifo"}});
    if (flags.help()) {
      std::cout << "soak: sustained load on one backend; see tests/reliability/soak.cpp\n"
                << flags.usage();
      return 0;
    }
    const soak_settings settings{
        flags.text("backend"),
        flags.number("operations"),
        flags.number("coroutines"),
        flags.number("keys"),
        flags.number("max-size"),
        flags.number("intervals"),
        flags.number("warmup"),
        flags.real("max-growth"),
        static_cast<unsigned>(flags.number("threads")),
        flags.text("eviction") == "s3_fifo" ? eviction_policy::s3_fifo : eviction_policy::lru};
    if (flags.text("eviction") != "lru" && flags.text("eviction") != "s3_fifo")
      throw std::invalid_argument("--eviction takes lru or s3_fifo");
    if (settings.operations == 0 || settings.coroutines == 0 || settings.keys == 0 ||
        settings.max_size == 0 || settings.intervals == 0 || settings.threads == 0)
      throw std::invalid_argument("counts must be positive");
    std::printf("soak%s\n", flags.summary().c_str());
    bool ok = false;
    if (settings.backend == "memory") {
      ok = soak_memory(settings);
#ifdef COROCACHE_RELIABILITY_REDIS
    } else if (settings.backend == "redis") {
      ok = soak_redis(settings);
#endif
    } else {
      throw std::invalid_argument("unknown --backend " + settings.backend);
    }
    std::printf("soak: %s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
  } catch (const std::invalid_argument& e) {
    std::cerr << "soak: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "soak: " << e.what() << '\n';
    return 1;
  }
}
