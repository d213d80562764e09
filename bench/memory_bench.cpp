// Memory backend throughput (Google Benchmark): get-hit, get-miss, set, incr and a 75% get / 25%
// set mix, keys drawn from Zipf(0.99) over a cache pre-filled with 100k entries, at 1 and 2
// threads. And what a mass expiry costs the requests that run into it: 1,000,000 entries expire
// at once under a steady load of get-hits; the slowest single get and the time until their
// memory is reclaimed (memory/corocache/mass_expiry).
//
// corocache runs its loop inside one coroutine per thread, on an io_context per thread, so every
// operation pays what a caller pays: `co_await backend.get(key)`. The baseline in the same binary
// is a std::unordered_map behind one std::mutex, called directly. memory/corocache_get_now calls
// the synchronous lookup (MemoryCacheBackend::get_now) from a plain loop, like the baseline.
// bench/run reads the items_per_second of both and reports their ratio.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "corocache/memory_backend.hpp"
#include "corocache/null_backend.hpp"
#include "zipf.hpp"

namespace {

constexpr std::size_t key_count = 100'000;
constexpr std::size_t trace_length = std::size_t{1} << 20;  // per thread, a power of two
constexpr double zipf_exponent = 0.99;
// Every value is a 16-digit integer: 16 bytes (past the small-string buffer, as a real value
// would be) that incr can also add to.
const std::string initial_value = "1000000000000000";

enum class workload { get_hit, get_miss, set, incr, mixed };

const char* name_of(workload w) {
  switch (w) {
    case workload::get_hit:
      return "get_hit";
    case workload::get_miss:
      return "get_miss";
    case workload::set:
      return "set";
    case workload::incr:
      return "incr";
    case workload::mixed:
      return "mixed_75get_25set";
  }
  return "?";
}

std::vector<std::string> make_keys(const char* format) {
  std::vector<std::string> keys;
  keys.reserve(key_count);
  char buffer[32];
  for (std::size_t i = 0; i < key_count; ++i) {
    std::snprintf(buffer, sizeof buffer, format, i);
    keys.emplace_back(buffer);
  }
  return keys;
}

const std::vector<std::string>& present_keys() {
  static const auto keys = make_keys("key:%06zu");
  return keys;
}

const std::vector<std::string>& absent_keys() {
  static const auto keys = make_keys("miss:%06zu");
  return keys;
}

// Drawn before timing starts, so the sampler's cost is not measured. One trace per thread index.
const std::vector<std::uint32_t>& trace_for(int thread_index) {
  static const std::vector<std::uint32_t> traces[2] = {
      bench::zipf_trace(key_count, zipf_exponent, trace_length, 1),
      bench::zipf_trace(key_count, zipf_exponent, trace_length, 2)};
  return traces[thread_index % 2];
}

// What each iteration does: the key it uses and whether a mixed-workload step is a set.
struct step {
  const std::string& key;
  bool is_set;
};

class steps {
 public:
  steps(workload w, int thread_index)
      : keys_(w == workload::get_miss ? absent_keys() : present_keys()),
        trace_(trace_for(thread_index)),
        workload_(w) {}

  step next() {
    const std::size_t i = position_++ & (trace_length - 1);
    const bool is_set = workload_ == workload::set || (workload_ == workload::mixed && i % 4 == 3);
    return {keys_[trace_[i]], is_set};
  }

 private:
  const std::vector<std::string>& keys_;
  const std::vector<std::uint32_t>& trace_;
  workload workload_;
  std::size_t position_ = 0;
};

// ---- the baseline: one mutex around one unordered_map, called directly

class locked_map {
 public:
  locked_map() {
    for (const auto& key : present_keys()) map_.emplace(key, initial_value);
  }

  std::optional<std::string> get(const std::string& key) {
    std::lock_guard lock(mutex_);
    auto it = map_.find(key);
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }

  void set(const std::string& key, std::string value) {
    std::lock_guard lock(mutex_);
    map_.insert_or_assign(key, std::move(value));
  }

  // Parses and formats decimal text as the memory backend does for a string-valued counter.
  std::int64_t incr(const std::string& key, std::int64_t amount) {
    std::lock_guard lock(mutex_);
    auto& text = map_.try_emplace(key, "0").first->second;
    std::int64_t value = 0;
    std::from_chars(text.data(), text.data() + text.size(), value);
    value += amount;
    char buffer[24];
    const auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
    text.assign(buffer, end);
    return value;
  }

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, std::string> map_;
};

locked_map& shared_map() {
  static locked_map map;
  return map;
}

void baseline(benchmark::State& state, workload w) {
  auto& map = shared_map();
  steps next(w, state.thread_index());
  for (auto _ : state) {
    const step s = next.next();
    if (s.is_set) {
      map.set(s.key, initial_value);
    } else if (w == workload::incr) {
      benchmark::DoNotOptimize(map.incr(s.key, 1));
    } else {
      auto value = map.get(s.key);
      benchmark::DoNotOptimize(value);
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// ---- corocache: the same operations through CacheBackend<std::string>

using memory_backend = corocache::MemoryCacheBackend<std::string>;

template <class Awaitable>
void run_coroutine(Awaitable&& body) {
  asio::io_context io;
  std::exception_ptr failure;
  asio::co_spawn(io, std::forward<Awaitable>(body), [&](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) std::rethrow_exception(failure);
}

// The backend with default options (S3-FIFO, sharded for this size), with one shard (what
// sharding costs a single thread and gains two), with LRU eviction (whose hits reorder a list), or
// with default options and a TTL on every entry (whose hits read the clock).
enum class variant { sharded, one_shard, lru, with_ttl };

memory_backend& shared_backend(variant v) {
  const auto make = [](std::size_t shards, corocache::eviction_policy eviction,
                       corocache::optional_ttl ttl = std::nullopt) {
    auto* b =
        new memory_backend(corocache::memory_options{.max_size = key_count,
                                                     .clean_interval = std::chrono::seconds(60),
                                                     .shards = shards,
                                                     .eviction = eviction});
    run_coroutine([b, ttl]() -> asio::awaitable<void> {
      co_await b->initialize();
      for (const auto& key : present_keys()) co_await b->set(key, initial_value, ttl);
    });
    return b;
  };
  const auto default_policy = corocache::memory_options{}.eviction;
  static memory_backend* sharded = make(0, default_policy);
  static memory_backend* single = make(1, default_policy);
  static memory_backend* lru = make(0, corocache::eviction_policy::lru);
  static memory_backend* with_ttl = make(0, default_policy, std::chrono::hours(24));
  switch (v) {
    case variant::sharded:
      return *sharded;
    case variant::one_shard:
      return *single;
    case variant::lru:
      return *lru;
    case variant::with_ttl:
      return *with_ttl;
  }
  return *sharded;
}

template <class Backend>
void run_backend(benchmark::State& state, workload w, Backend& backend) {
  steps next(w, state.thread_index());
  run_coroutine([&]() -> asio::awaitable<void> {
    for (auto _ : state) {
      const step s = next.next();
      if (s.is_set) {
        benchmark::DoNotOptimize(co_await backend.set(s.key, initial_value));
      } else if (w == workload::incr) {
        benchmark::DoNotOptimize(co_await backend.incr(s.key, 1));
      } else {
        auto value = co_await backend.get(s.key);
        benchmark::DoNotOptimize(value);
      }
    }
  });
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void corocache_memory(benchmark::State& state, workload w) {
  run_backend(state, w, shared_backend(variant::sharded));
}

void corocache_memory_one_shard(benchmark::State& state, workload w) {
  run_backend(state, w, shared_backend(variant::one_shard));
}

void corocache_memory_lru(benchmark::State& state, workload w) {
  run_backend(state, w, shared_backend(variant::lru));
}

void corocache_memory_with_ttl(benchmark::State& state, workload w) {
  run_backend(state, w, shared_backend(variant::with_ttl));
}

// The coroutine interface alone: the null backend's get is a coroutine that returns at once, so
// its cost is the floor of any `co_await backend.get(key)` (a frame, asio's awaitable machinery,
// the key's copy). Profiled by bench/run beside the memory get.
void corocache_null(benchmark::State& state, workload w) {
  static auto* backend = [] {
    auto* b = new corocache::NullCacheBackend<std::string>;
    run_coroutine([b]() -> asio::awaitable<void> { co_await b->initialize(); });
    return b;
  }();
  run_backend(state, w, *backend);
}

// get_now: the same lookups on the default backend, without a coroutine per call (the loop runs
// outside any coroutine, as the mutex map's does).
void corocache_memory_get_now(benchmark::State& state, workload w) {
  auto& backend = shared_backend(variant::sharded);
  steps next(w, state.thread_index());
  for (auto _ : state) {
    auto value = backend.get_now(next.next().key);
    benchmark::DoNotOptimize(value);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// ---- mass expiry: the worst single operation when a million entries expire at once

constexpr std::size_t expiring_count = 1'000'000;

// steady_clock plus an offset the benchmark advances, so that a million entries can expire at
// one instant without waiting for them.
struct jumping_clock {
  std::shared_ptr<std::atomic<std::int64_t>> offset =
      std::make_shared<std::atomic<std::int64_t>>(0);
  std::chrono::steady_clock::time_point operator()() const {
    return std::chrono::steady_clock::now() + std::chrono::nanoseconds(offset->load());
  }
  void jump(std::chrono::nanoseconds by) const { offset->fetch_add(by.count()); }
};

std::chrono::nanoseconds thread_cpu_time() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
}

template <class Duration>
double microseconds(Duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

void mass_expiry(benchmark::State& state) {
  const auto& trace = trace_for(0);
  const auto& keys = present_keys();
  for (auto _ : state) {
    state.PauseTiming();
    jumping_clock clock;
    // Default shards for this size; a clean_interval of 1 s, so "a few intervals" is seconds.
    auto backend = std::make_unique<memory_backend>(
        corocache::memory_options{.max_size = expiring_count + key_count,
                                  .clean_interval = std::chrono::seconds(1),
                                  .clock = clock});
    double slowest_us = 0;
    double slowest_cpu_us = 0;
    double reclaim_ms = -1;
    std::size_t operations = 0;
    run_coroutine([&]() -> asio::awaitable<void> {
      co_await backend->initialize();
      for (const auto& key : keys) co_await backend->set(key, initial_value);
      char buffer[32];
      for (std::size_t i = 0; i < expiring_count; ++i) {
        std::snprintf(buffer, sizeof buffer, "expiring:%07zu", i);
        co_await backend->set(buffer, initial_value, std::chrono::hours(1));
      }
      clock.jump(std::chrono::hours(2));  // every expiring entry expires; a sweep is due
      state.ResumeTiming();
      const auto start = std::chrono::steady_clock::now();
      // Steady get-hits until the expired entries are gone (checked every 1024 gets), or 30 s.
      // Wall time includes any preemption by other processes on a shared machine; the thread's
      // CPU time does not, so both are reported.
      for (;; ++operations) {
        const auto before = std::chrono::steady_clock::now();
        const auto cpu_before = thread_cpu_time();
        auto value = co_await backend->get(keys[trace[operations & (trace_length - 1)]]);
        benchmark::DoNotOptimize(value);
        const auto cpu_after = thread_cpu_time();
        const auto after = std::chrono::steady_clock::now();
        slowest_us = std::max(slowest_us, microseconds(after - before));
        slowest_cpu_us = std::max(slowest_cpu_us, microseconds(cpu_after - cpu_before));
        if ((operations & 1023) == 0 && backend->stats().size <= key_count) {
          reclaim_ms = std::chrono::duration<double, std::milli>(after - start).count();
          break;
        }
        if (after - start > std::chrono::seconds(30)) break;
      }
      state.PauseTiming();
    });
    backend.reset();  // freeing a million entries is not part of the measurement
    state.ResumeTiming();
    state.counters["slowest_get_us"] = slowest_us;
    state.counters["slowest_get_cpu_us"] = slowest_cpu_us;
    state.counters["reclaim_ms"] = reclaim_ms;  // -1: not reclaimed within 30 s
    state.counters["gets_until_reclaimed"] = static_cast<double>(operations);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Built before any benchmark runs, so neither timing nor a profile of one includes them.
  trace_for(0);
  trace_for(1);
  absent_keys();
  shared_map();
  shared_backend(variant::sharded);
  shared_backend(variant::one_shard);
  shared_backend(variant::lru);
  shared_backend(variant::with_ttl);
  for (auto w :
       {workload::get_hit, workload::get_miss, workload::set, workload::incr, workload::mixed}) {
    for (auto [impl, function] :
         {std::pair{"corocache", &corocache_memory},
          std::pair{"corocache_1shard", &corocache_memory_one_shard},
          std::pair{"corocache_lru", &corocache_memory_lru}, std::pair{"mutex_map", &baseline}}) {
      const std::string name = std::string("memory/") + impl + "/" + name_of(w);
      benchmark::RegisterBenchmark(name.c_str(), function, w)
          ->Threads(1)
          ->Threads(2)
          ->UseRealTime();
    }
  }
  benchmark::RegisterBenchmark("memory/corocache_ttl/get_hit", corocache_memory_with_ttl,
                               workload::get_hit)
      ->Threads(1)
      ->UseRealTime();
  benchmark::RegisterBenchmark("memory/null/get_hit", corocache_null, workload::get_hit)
      ->Threads(1)
      ->UseRealTime();
  for (auto w : {workload::get_hit, workload::get_miss}) {
    const std::string name = std::string("memory/corocache_get_now/") + name_of(w);
    benchmark::RegisterBenchmark(name.c_str(), corocache_memory_get_now, w)
        ->Threads(1)
        ->Threads(2)
        ->UseRealTime();
  }
  benchmark::RegisterBenchmark("memory/corocache/mass_expiry", mass_expiry)
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
