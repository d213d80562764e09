// MemoryCacheBackend<T>: an in-process, bounded cache with a TTL per entry.
//
// - At most max_size entries at any time. Inserting a new key into a full shard removes the entry
//   that expired first if there is one, else one live entry chosen by S3-FIFO, in O(1): it keeps
//   more of a skewed workload's hot keys than LRU (docs/benchmarks.md has the hit ratios).
//   memory_options::eviction = eviction_policy::lru evicts the least recently used entry instead.
// - Expired entries are never returned. A sweep starts once per clean_interval while the cache is
//   used, and runs in steps spread over the operations that follow (no background thread): each
//   operation removes at most memory_options::sweep_step expired entries and visits at most that
//   many shards, until every shard has been swept. A sweep visits only entries that expired.
//   A read reads the precise clock only when the entry it finds has a TTL, and sees whether a
//   sweep is due on the coarse clock, a scheduler tick (1 to 4 ms) late at most: a hit on an
//   entry without a TTL then costs no clock read (detail/read_clock.hpp says why that matters).
// - Safe to use from coroutines on any number of threads. Large caches split their keys over
//   shards (memory_options::shards); each shard holds an equal part of max_size and evicts among
//   its own keys. Reads (get, exists, get_many; with S3-FIFO) never take an exclusive lock and
//   write no cache line that another thread's read writes: each thread announces its reads in
//   its own slot of the shard (detail/read_mostly_lock.hpp). Writes lock their shard, waiting
//   for the reads in progress there.
//
// Lifetimes:
// - Awaitables returned by this backend refer to it: await them while the backend lives.
// - get() copies the stored value out while holding its shard for reading, so that no writer can
//   change or free it meanwhile. Copies of the same stored value may then run on several threads
//   at once: T's copy constructor must be safe as a concurrent read of a const object (as for
//   std::string, containers and std::shared_ptr) and must not call into this cache. The copy the
//   caller receives is its own.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "corocache/cache_backend.hpp"
#include "corocache/detail/entry_store.hpp"
#include "corocache/detail/read_clock.hpp"
#include "corocache/detail/read_mostly_lock.hpp"

namespace corocache {

/// The settings of a MemoryCacheBackend (see its constructors).
struct memory_options {
  /// The most shards a cache may ask for: each costs memory before anything is stored.
  static constexpr std::size_t max_shards = 1024;
  /// The most expired entries one step of a sweep removes (and the most shards it visits); an
  /// operation does at most one step, plus one removal of its own key or, for an insert into a
  /// full shard, of the entry that expired first.
  static constexpr std::size_t sweep_step = 128;

  /// The most entries the cache holds at once; must be > 0.
  std::size_t max_size = 1000;
  /// How often a sweep of expired entries starts; must be > 0. Too long for the clock: never.
  std::chrono::milliseconds clean_interval = std::chrono::seconds(60);
  /// Lock shards; 0 picks a number from the hardware and max_size (one per 4096 entries, so 1
  /// for caches under 8192 entries, and at most 4 per core). Clamped to [1, max_size]; more than
  /// max_shards is rejected.
  std::size_t shards = 0;
  /// The time source; tests inject a manual clock so they never sleep. Default: steady_clock.
  std::function<std::chrono::steady_clock::time_point()> clock = {};
  /// Which live entry a full cache gives up for a new key. S3-FIFO kept 3.8 to 10.6 points
  /// more hits than LRU on the Zipf traces of docs/benchmarks.md, and a hit moves no list entry,
  /// so reads run in parallel; an LRU hit reorders its list under the shard's exclusive lock.
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
  /// At most `max_size` entries; a sweep of expired entries starts once per `clean_interval`.
  explicit MemoryCacheBackend(std::size_t max_size = 1000,
                              std::chrono::milliseconds clean_interval = std::chrono::seconds(60))
      : MemoryCacheBackend(memory_options{.max_size = max_size, .clean_interval = clean_interval}) {
  }

  /// Every setting, including the shard count, the eviction policy and the clock.
  explicit MemoryCacheBackend(memory_options options)
      : clean_interval_(options.clean_interval),
        clock_(std::move(options.clock)),
        policy_(options.eviction) {
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
    const std::size_t threads = 2 * std::max(1u, std::thread::hardware_concurrency());
    shards_.reserve(shard_count);
    for (std::size_t i = 0; i < shard_count; ++i) {
      // Spread max_size exactly: the first (max_size % shard_count) shards take one more.
      const std::size_t capacity =
          options.max_size / shard_count + (i < options.max_size % shard_count ? 1 : 0);
      shards_.push_back(std::make_unique<shard>(capacity, options.eviction, threads));
    }
    next_sweep_.store(after(now(), clean_interval_).time_since_epoch().count());
  }

  /// Live entries now. Sweeps every expired entry first: for tests and introspection, not for
  /// request paths (its cost grows with the number of expired entries).
  [[nodiscard]] std::size_t size() const {
    const auto t = now();
    std::size_t total = 0;
    for (const auto& s : shards_) {
      std::lock_guard lock(s->lock);
      s->store.sweep(t);
      total += s->store.size();
    }
    return total;
  }

  /// The value under `key`, or an empty optional, without a coroutine: for callers that are not
  /// coroutines (an L1 in front of another backend, a hot loop), which it spares the awaitable's
  /// frame and resumptions. It does what `co_await get(key)` does (expiry, sweep step, counters)
  /// on the calling thread, and throws cache_error with errc::not_initialized before
  /// initialize() has completed and errc::shut_down after shutdown().
  [[nodiscard]] std::optional<T> get_now(std::string_view key) {
    if (auto error = this->lifecycle_error("get_now")) std::rethrow_exception(error);
    auto t = start_read();
    return read(detail::hash_key(key), t);
  }

  /// How many shards the keys are spread over.
  [[nodiscard]] std::size_t shard_count() const noexcept { return shards_.size(); }

  /// Counters since construction (hits, misses, evictions, expirations) and the current size.
  [[nodiscard]] memory_stats stats() const {
    memory_stats out;
    for (const auto& s : shards_) {
      out.hits += s->lock.hits();
      out.misses += s->lock.misses();
      std::lock_guard lock(s->lock);
      const auto& c = s->store.counters();
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
    auto t = start_read();
    co_return read(detail::hash_key(key), t);
  }

  // Reads are counted where they look the key up (read()); errors they cannot have.
  std::optional<read_counts> own_read_counts() const override {
    read_counts counts;
    for (const auto& s : shards_) {
      counts.hits += s->lock.hits();
      counts.misses += s->lock.misses();
    }
    return counts;
  }

  bool do_get_now(const std::string& key, std::optional<T>& value) override {
    if (!this->running()) return false;  // get() then says why it cannot run
    auto t = start_read();
    value.reset();
    read(detail::hash_key(key), t, value);
    return true;
  }

  asio::awaitable<bool> do_set(std::string key, T value, optional_ttl ttl) override {
    const auto t = now();
    sweep_if_due(t);
    write(key,
          [&](auto& store) { store.put(std::move(key), std::move(value), deadline(t, ttl), t); });
    co_return true;
  }

  asio::awaitable<bool> do_erase(std::string key) override {
    const auto t = now();
    sweep_if_due(t);
    const auto k = detail::hash_key(key);
    co_return write(k, [&](auto& store) { return store.erase(k, t); });
  }

  asio::awaitable<bool> do_exists(std::string key) override {
    auto t = start_read();
    co_return live(detail::hash_key(key), t);
  }

  asio::awaitable<std::size_t> do_invalidate_pattern(std::string pattern) override {
    const auto t = now();
    std::size_t removed = 0;
    for (auto& s : shards_) {
      std::lock_guard lock(s->lock);
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
    auto t = start_read();
    std::vector<std::optional<T>> values;
    values.reserve(keys.size());
    for (const auto& key : keys) values.push_back(read(detail::hash_key(key), t));
    co_return values;
  }

  asio::awaitable<bool> do_set_many(std::vector<std::pair<std::string, T>> items,
                                    optional_ttl ttl) override {
    const auto t = now();
    sweep_if_due(t);
    for (auto& [key, value] : items) {
      write(key,
            [&](auto& store) { store.put(std::move(key), std::move(value), deadline(t, ttl), t); });
    }
    co_return true;
  }

  asio::awaitable<std::size_t> do_erase_many(std::vector<std::string> keys) override {
    const auto t = now();
    sweep_if_due(t);
    std::size_t removed = 0;
    for (const auto& key : keys) {
      const auto k = detail::hash_key(key);
      removed += write(k, [&](auto& store) { return store.erase(k, t) ? 1 : 0; });
    }
    co_return removed;
  }

  asio::awaitable<std::int64_t> do_incr(std::string key, std::int64_t delta, std::int64_t initial,
                                        optional_ttl ttl) override {
    const auto t = now();
    sweep_if_due(t);
    const auto k = detail::hash_key(key);
    co_return write(k,
                    [&](auto& store) { return store.add(k, delta, initial, deadline(t, ttl), t); });
  }

 private:
  // Padded to cache lines so that one shard's writes never touch the lines another's readers use.
  struct alignas(64) shard {
    shard(std::size_t capacity, eviction_policy policy, std::size_t threads)
        : lock(threads), store(capacity, policy) {}
    detail::read_mostly_lock lock;
    detail::entry_store<T> store;
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

  shard& shard_of(const detail::hashed_key& key) const {
    const std::size_t n = shards_.size();
    return *shards_[(n & (n - 1)) == 0 ? key.hash & (n - 1) : key.hash % n];  // no division if 2^k
  }

  // The time for a read: a sweep step first if one is due (checked on the coarse clock, so that
  // a hit on an entry without a TTL reads no precise clock at all; see detail/read_clock.hpp).
  auto start_read() {
    detail::lazy_now t([this] { return now(); });
    if (clock_ || detail::coarse_steady_now().time_since_epoch().count() >=
                      next_sweep_.load(std::memory_order_relaxed))
      sweep_if_due(t());
    return t;
  }

  // A get: S3-FIFO reads share the shard; LRU reorders its list, so it locks the shard.
  template <class Now>
  std::optional<T> read(const detail::hashed_key& key, Now& t) {
    std::optional<T> out;
    read(key, t, out);
    return out;
  }

  // The same into `out`, which must be empty: the value is copied there, and moved nowhere.
  template <class Now>
  void read(const detail::hashed_key& key, Now& t, std::optional<T>& out) {
    shard& s = shard_of(key);
    if (policy_ == eviction_policy::lru) {
      std::lock_guard lock(s.lock);
      const T* value = s.store.get(key, t);
      s.lock.count(value != nullptr);
      if (value != nullptr) out.emplace(*value);
      return;
    }
    bool expired = false;
    {
      detail::shared_read reading(s.lock);
      if (const T* value = s.store.find_shared(key, t, expired)) {
        out.emplace(*value);
        reading.hit();
      } else {
        reading.miss();
      }
    }
    if (expired) remove_expired(s, key, t());
  }

  // exists(): a read under either policy, since it marks nothing as used.
  template <class Now>
  bool live(const detail::hashed_key& key, Now& t) {
    shard& s = shard_of(key);
    bool expired = false;
    bool found = false;
    {
      detail::shared_read reading(s.lock);
      found = s.store.contains(key, t, expired);
    }
    if (expired) remove_expired(s, key, t());
    return found;
  }

  // A reader that met an expired key removes it, as a writer.
  static void remove_expired(shard& s, const detail::hashed_key& key, detail::steady_time t) {
    std::lock_guard lock(s.lock);
    s.store.remove_if_expired(key, t);
  }

  // Runs `action(store)` under the exclusive lock of the shard that owns `key`.
  template <class Action>
  auto write(std::string_view key, Action&& action) {
    return write(detail::hash_key(key), std::forward<Action>(action));
  }

  template <class Action>
  auto write(const detail::hashed_key& key, Action&& action) {
    shard& s = shard_of(key);
    std::lock_guard lock(s.lock);
    return action(s.store);
  }

  // Once clean_interval has passed, operations sweep in steps: each removes at most sweep_step
  // expired entries and visits at most sweep_step shards, resuming where the last step stopped,
  // until a pass over every shard is complete. One caller at a time; the others go on.
  void sweep_if_due(detail::steady_time t) {
    if (t.time_since_epoch().count() < next_sweep_.load(std::memory_order_relaxed)) return;
    std::unique_lock sweeping(sweep_mutex_, std::try_to_lock);
    if (!sweeping || t.time_since_epoch().count() < next_sweep_.load(std::memory_order_relaxed))
      return;
    std::size_t budget = memory_options::sweep_step;
    std::size_t shards_left = memory_options::sweep_step;
    while (budget > 0 && shards_left-- > 0) {
      shard& s = *shards_[sweep_cursor_];
      bool more = false;
      {
        std::lock_guard lock(s.lock);
        budget -= s.store.sweep(t, budget);
        more = s.store.has_expired(t);
      }
      if (more) return;  // the budget ran out inside this shard: resume here next time
      if (++sweep_cursor_ == shards_.size()) {
        sweep_cursor_ = 0;
        next_sweep_.store(after(t, clean_interval_).time_since_epoch().count(),
                          std::memory_order_relaxed);
        return;
      }
    }
  }

  void clear_all() {
    for (auto& s : shards_) {
      std::lock_guard lock(s->lock);
      s->store.clear();
    }
  }

  std::chrono::milliseconds clean_interval_;
  std::function<detail::steady_time()> clock_;
  eviction_policy policy_;
  std::vector<std::unique_ptr<shard>> shards_;
  alignas(64) std::atomic<detail::steady_time::rep> next_sweep_{0};  // read by every operation
  alignas(64) std::mutex sweep_mutex_;                               // written only while sweeping
  std::size_t sweep_cursor_ = 0;                                     // guarded by sweep_mutex_
};

}  // namespace corocache
