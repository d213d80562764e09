// MemoryCacheBackend<T>: an in-process, bounded cache with a TTL per entry.
//
// - At most max_size entries at any time. Inserting a new key into a full cache first removes the
//   expired entries, then one live entry chosen by S3-FIFO, in O(1): it keeps more of a skewed
//   workload's hot keys than LRU (docs/benchmarks.md has the hit ratios).
//   memory_options::eviction = eviction_policy::lru evicts the least recently used entry instead.
// - Expired entries are never returned. They are swept at least once per clean_interval while the
//   cache is used (by the first operation after the interval passes; no background thread), and a
//   sweep visits only the entries that expired.
// - Safe to use from coroutines on any number of threads. Large caches split their keys over
//   several independently locked shards (memory_options::shards); each shard then holds an equal
//   part of max_size and evicts among its own keys.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "corocache/cache_backend.hpp"
#include "corocache/detail/entry_store.hpp"

namespace corocache {

/// The settings of a MemoryCacheBackend (see its constructors).
struct memory_options {
  /// The most shards a cache may ask for: each costs memory before anything is stored.
  static constexpr std::size_t max_shards = 1024;

  /// The most entries the cache holds at once; must be > 0.
  std::size_t max_size = 1000;
  /// How often expired entries are swept; must be > 0.
  std::chrono::milliseconds clean_interval = std::chrono::seconds(60);
  /// Lock shards; 0 picks a number from the hardware and max_size (one per 4096 entries, so 1
  /// for caches under 8192 entries, and at most 4 per core). Clamped to [1, max_size]; more than
  /// max_shards is rejected.
  std::size_t shards = 0;
  /// The time source; tests inject a manual clock so they never sleep. Default: steady_clock.
  std::function<std::chrono::steady_clock::time_point()> clock = {};
  /// Which live entry a full cache gives up for a new key. S3-FIFO kept 3.8 to 10.6 points
  /// more hits than LRU on the Zipf traces of docs/benchmarks.md, and a hit updates no list.
  eviction_policy eviction = eviction_policy::s3_fifo;
};

/// What a memory backend has done so far.
struct memory_stats : detail::store_counters {
  std::size_t size = 0;  ///< entries held now (expired ones not yet swept included)
};

/// An in-process cache for values of type T: bounded, TTL per entry, S3-FIFO or LRU eviction,
/// safe to use from many threads (see the top of this header).
template <class T>
class MemoryCacheBackend final : public CacheBackend<T> {
 public:
  /// At most `max_size` entries; expired entries are swept at most once per `clean_interval`.
  explicit MemoryCacheBackend(std::size_t max_size = 1000,
                              std::chrono::milliseconds clean_interval = std::chrono::seconds(60))
      : MemoryCacheBackend(memory_options{.max_size = max_size, .clean_interval = clean_interval}) {
  }

  /// Every setting, including the shard count, the eviction policy and the clock.
  explicit MemoryCacheBackend(memory_options options)
      : clean_interval_(options.clean_interval), clock_(std::move(options.clock)) {
    if (options.max_size == 0)
      detail::throw_error(errc::invalid_argument, "memory backend: max_size must be > 0");
    if (options.clean_interval.count() <= 0)
      detail::throw_error(errc::invalid_argument, "memory backend: clean_interval must be > 0");
    if (options.shards > memory_options::max_shards) {
      detail::throw_error(errc::invalid_argument, "memory backend: shards must be at most " +
                                                      std::to_string(memory_options::max_shards) +
                                                      ", got " + std::to_string(options.shards));
    }
    const std::size_t shard_count = pick_shard_count(options.shards, options.max_size);
    shards_.reserve(shard_count);
    for (std::size_t i = 0; i < shard_count; ++i) {
      // Spread max_size exactly: the first (max_size % shard_count) shards take one more.
      const std::size_t capacity =
          options.max_size / shard_count + (i < options.max_size % shard_count ? 1 : 0);
      shards_.push_back(std::make_unique<shard>(capacity, options.eviction));
    }
    next_sweep_.store(after(now(), clean_interval_).time_since_epoch().count());
  }

  /// Live entries now (sweeps expired ones first).
  [[nodiscard]] std::size_t size() const {
    const auto t = now();
    std::size_t total = 0;
    for (const auto& s : shards_) {
      std::lock_guard lock(s->mutex);
      s->store.sweep(t);
      total += s->store.size();
    }
    return total;
  }

  /// How many independently locked shards the keys are spread over.
  [[nodiscard]] std::size_t shard_count() const noexcept { return shards_.size(); }

  /// Counters since construction (hits, misses, evictions, expirations) and the current size.
  [[nodiscard]] memory_stats stats() const {
    memory_stats out;
    for (const auto& s : shards_) {
      std::lock_guard lock(s->mutex);
      const auto& c = s->store.counters();
      out.hits += c.hits;
      out.misses += c.misses;
      out.evictions += c.evictions;
      out.expirations += c.expirations;
      out.sweep_visits += c.sweep_visits;
      out.size += s->store.size();
    }
    return out;
  }

 protected:
  asio::awaitable<void> do_initialize() override { co_return; }
  asio::awaitable<void> do_shutdown() override {
    clear_all();
    co_return;
  }

  asio::awaitable<std::optional<T>> do_get(std::string key) override {
    co_return with_shard(key, [&](auto& store, auto t) -> std::optional<T> {
      const T* value = store.get(key, t);
      return value != nullptr ? std::optional<T>(*value) : std::nullopt;
    });
  }

  asio::awaitable<bool> do_set(std::string key, T value, optional_ttl ttl) override {
    with_shard(key, [&](auto& store, auto t) {
      store.put(std::move(key), std::move(value), deadline(t, ttl), t);
    });
    co_return true;
  }

  asio::awaitable<bool> do_erase(std::string key) override {
    co_return with_shard(key, [&](auto& store, auto t) { return store.erase(key, t); });
  }

  asio::awaitable<bool> do_exists(std::string key) override {
    co_return with_shard(key, [&](auto& store, auto t) { return store.contains(key, t); });
  }

  asio::awaitable<std::size_t> do_invalidate_pattern(std::string pattern) override {
    const auto t = now();
    std::size_t removed = 0;
    for (auto& s : shards_) {
      std::lock_guard lock(s->mutex);
      removed += s->store.erase_matching(pattern, t);
    }
    co_return removed;
  }

  asio::awaitable<bool> do_clear() override {
    clear_all();
    co_return true;
  }

  asio::awaitable<std::vector<std::optional<T>>> do_get_many(
      std::vector<std::string> keys) override {
    std::vector<std::optional<T>> values;
    values.reserve(keys.size());
    for (const auto& key : keys) {
      values.push_back(with_shard(key, [&](auto& store, auto t) -> std::optional<T> {
        const T* value = store.get(key, t);
        return value != nullptr ? std::optional<T>(*value) : std::nullopt;
      }));
    }
    co_return values;
  }

  asio::awaitable<bool> do_set_many(std::vector<std::pair<std::string, T>> items,
                                    optional_ttl ttl) override {
    for (auto& [key, value] : items) {
      with_shard(key, [&](auto& store, auto t) {
        store.put(std::move(key), std::move(value), deadline(t, ttl), t);
      });
    }
    co_return true;
  }

  asio::awaitable<std::size_t> do_erase_many(std::vector<std::string> keys) override {
    std::size_t removed = 0;
    for (const auto& key : keys) {
      removed += with_shard(key, [&](auto& store, auto t) { return store.erase(key, t) ? 1 : 0; });
    }
    co_return removed;
  }

  asio::awaitable<std::int64_t> do_incr(std::string key, std::int64_t delta, std::int64_t initial,
                                        optional_ttl ttl) override {
    co_return with_shard(key, [&](auto& store, auto t) {
      return store.add(key, delta, initial, deadline(t, ttl), t);
    });
  }

 private:
  struct shard {
    shard(std::size_t capacity, eviction_policy policy) : store(capacity, policy) {}
    mutable std::mutex mutex;
    mutable detail::entry_store<T> store;
  };

  static std::size_t pick_shard_count(std::size_t requested, std::size_t max_size) {
    constexpr std::size_t min_entries_per_shard = 4096;
    std::size_t count = requested;
    if (count == 0) {
      const std::size_t by_size = std::max<std::size_t>(1, max_size / min_entries_per_shard);
      const std::size_t by_threads = 4 * std::max(1u, std::thread::hardware_concurrency());
      count = std::min(by_size, by_threads);
    }
    return std::clamp<std::size_t>(count, 1, max_size);
  }

  // `t + d`, saturating: a TTL or clean_interval too long for the clock (centuries) is forever.
  static detail::steady_time after(detail::steady_time t, std::chrono::milliseconds d) {
    const auto room =
        std::chrono::duration_cast<std::chrono::milliseconds>(detail::steady_time::max() - t);
    if (d >= room) return detail::steady_time::max();
    return t + d;
  }

  static std::optional<detail::steady_time> deadline(detail::steady_time t, optional_ttl ttl) {
    if (!ttl) return std::nullopt;
    return after(t, *ttl);
  }

  detail::steady_time now() const { return clock_ ? clock_() : std::chrono::steady_clock::now(); }

  // Runs `action(store, now)` under the lock of the shard that owns `key`.
  template <class Action>
  auto with_shard(std::string_view key, Action&& action) {
    const auto t = now();
    sweep_if_due(t);
    shard& s =
        *shards_[shards_.size() == 1 ? 0 : detail::transparent_string_hash{}(key) % shards_.size()];
    std::lock_guard lock(s.mutex);
    return action(s.store, t);
  }

  // The first operation after clean_interval sweeps every shard, one lock at a time.
  void sweep_if_due(detail::steady_time t) {
    auto due = next_sweep_.load(std::memory_order_relaxed);
    if (t.time_since_epoch().count() < due) return;
    const auto next = after(t, clean_interval_).time_since_epoch().count();
    if (!next_sweep_.compare_exchange_strong(due, next)) return;  // another caller sweeps
    for (auto& s : shards_) {
      std::lock_guard lock(s->mutex);
      s->store.sweep(t);
    }
  }

  void clear_all() {
    for (auto& s : shards_) {
      std::lock_guard lock(s->mutex);
      s->store.clear();
    }
  }

  std::chrono::milliseconds clean_interval_;
  std::function<detail::steady_time()> clock_;
  std::vector<std::unique_ptr<shard>> shards_;
  std::atomic<detail::steady_time::rep> next_sweep_{0};
};

}  // namespace corocache
