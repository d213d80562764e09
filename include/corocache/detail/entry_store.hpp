// One shard of the memory backend: a hash map of entries threaded on intrusive queues, plus an
// expiry index ordered by deadline so a sweep visits only entries that have expired, and only as
// many of them as its caller allows.
//
// Two eviction policies share the structure:
// - lru: one queue in recency order; a hit moves the entry to the front; the back is evicted.
// - s3_fifo (Yang et al., SOSP 2023): new keys enter a small FIFO (10% of capacity) that filters
//   one-hit wonders; keys hit while there, or seen recently (a ghost FIFO of evicted key hashes),
//   go to the main FIFO, where a hit only bumps a 2-bit frequency and eviction re-queues entries
//   that were used. Hits touch no list, which keeps them cheap.
// Not thread-safe by itself: MemoryCacheBackend guards each store with a read_mostly_lock. Only
// the const lookups (find_shared, contains) may run concurrently with each other; they write
// nothing but an S3-FIFO frequency, an atomic stored only when its value changes.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "corocache/detail/counter.hpp"
#include "corocache/detail/read_clock.hpp"
#include "corocache/error.hpp"
#include "corocache/glob.hpp"

namespace corocache {

/// Which entry a full memory cache gives up for a new key (after dropping expired entries).
enum class eviction_policy {
  /// The least recently used entry; get and set count as use.
  lru,
  /// S3-FIFO (the default): a small probationary FIFO, a main FIFO with reinsertion and a ghost
  /// history. Higher hit ratios than LRU on skewed workloads, and hits never reorder a list.
  s3_fifo,
};

}  // namespace corocache

namespace corocache::detail {

/// A key with its hash computed once, for the shard choice and the lookup alike.
struct hashed_key {
  std::string_view text;
  std::size_t hash;
};

[[nodiscard]] inline hashed_key hash_key(std::string_view text) noexcept {
  return {text, std::hash<std::string_view>{}(text)};
}

struct transparent_string_hash {
  using is_transparent = void;
  // Not noexcept on purpose: libstdc++ then stores each node's hash, so a lookup compares
  // hashes before keys and never rehashes a stored key to find its bucket's end.
  std::size_t operator()(std::string_view text) const {
    return std::hash<std::string_view>{}(text);
  }
  std::size_t operator()(const hashed_key& key) const noexcept { return key.hash; }
};

struct transparent_string_equal {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
  bool operator()(const hashed_key& a, std::string_view b) const noexcept { return a.text == b; }
  bool operator()(std::string_view a, const hashed_key& b) const noexcept { return a == b.text; }
};

/// Counters a store keeps about itself (summed over shards by the backend).
struct store_counters {
  std::uint64_t hits = 0;          ///< counted by the backend, not by the store
  std::uint64_t misses = 0;        ///< counted by the backend, not by the store
  std::uint64_t evictions = 0;     ///< live entries removed to respect max_size
  std::uint64_t expirations = 0;   ///< expired entries removed (by a sweep or on access)
  std::uint64_t sweep_visits = 0;  ///< entries a sweep looked at
};

template <class T>
class entry_store {
 public:
  entry_store(std::size_t capacity, eviction_policy policy)
      : capacity_(capacity),
        policy_(policy),
        small_capacity_(std::max<std::size_t>(1, capacity / 10)),
        ghost_capacity_(capacity) {}
  entry_store(const entry_store&) = delete;
  entry_store& operator=(const entry_store&) = delete;

  /// The live value under `key`, marked as used; null on a miss. Removes the key if expired.
  /// `now` is a steady_time or a function that returns it, called only for an entry with a
  /// deadline (so a hit on an entry without a TTL reads no clock); likewise below.
  template <class Now>
  const T* get(const hashed_key& key, Now&& now) {
    node* n = find_live(key, now);
    if (n == nullptr) return nullptr;
    mark_used(n);
    return &n->second.value;
  }

  /// For concurrent readers (S3-FIFO only, whose hits move nothing): the live value under `key`,
  /// marked as used, or null. Sets `expired` when the key is there but expired (a writer may then
  /// remove it). Two readers hitting the same entry at once may count one use instead of two.
  template <class Now>
  const T* find_shared(const hashed_key& key, Now&& now, bool& expired) const {
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    const entry& e = it->second;
    if (is_expired(e, now)) {
      expired = true;
      return nullptr;
    }
    const auto frequency = e.frequency.load(std::memory_order_relaxed);
    if (frequency < 3) e.frequency.store(frequency + 1, std::memory_order_relaxed);
    return &e.value;
  }

  /// True when `key` is live; a const lookup that readers may run concurrently. Sets `expired`
  /// as find_shared does.
  template <class Now>
  bool contains(const hashed_key& key, Now&& now, bool& expired) const {
    auto it = map_.find(key);
    if (it == map_.end()) return false;
    expired = is_expired(it->second, now);
    return !expired;
  }

  /// Removes `key` if it is there and expired (counted as an expiration).
  void remove_if_expired(const hashed_key& key, steady_time now) { (void)find_live(key, now); }

  /// Stores `value` under `key` with `expiry` (nullopt: never), making room if needed.
  template <class Key, class Value>
  void put(Key&& key, Value&& value, std::optional<steady_time> expiry, steady_time now) {
    if (auto it = map_.find(std::string_view(key)); it != map_.end()) {
      it->second.value = std::forward<Value>(value);
      set_expiry(&*it, expiry);
      mark_used(&*it);
      return;
    }
    make_room(now);
    const std::string_view view(key);
    const bool seen_recently = policy_ == eviction_policy::s3_fifo && leave_ghost(view);
    auto [it, inserted] =
        map_.try_emplace(std::string(std::forward<Key>(key)), std::forward<Value>(value));
    node* n = &*it;
    n->second.expiry = expiry_.end();
    push_newest(seen_recently || policy_ == eviction_policy::lru ? main_ : small_, n);
    set_expiry(n, expiry);
  }

  /// Removes `key`; true when it was live.
  bool erase(const hashed_key& key, steady_time now) {
    auto it = map_.find(key);
    if (it == map_.end()) return false;
    const bool live = !is_expired(it->second, now);
    remove(&*it);
    return live;
  }

  /// Adds `delta` to the counter under `key`, creating it from `initial` (with `expiry`) when
  /// missing; the new value. Leaves the entry untouched when it throws.
  std::int64_t add(const hashed_key& key, std::int64_t delta, std::int64_t initial,
                   std::optional<steady_time> expiry, steady_time now) {
    node* n = find_live(key, now);
    const std::int64_t base = n != nullptr ? current_counter(key.text, n->second.value) : initial;
    std::int64_t result = 0;
    if (__builtin_add_overflow(base, delta, &result)) {
      throw_error(errc::overflow,
                  "incr/decr " + printable_key(key.text) + ": the result leaves int64");
    }
    T stored = value_of_counter<T>(result, std::string(key.text));
    if (n != nullptr) {
      n->second.value = std::move(stored);
      mark_used(n);
    } else {
      put(key.text, std::move(stored), expiry, now);
    }
    return result;
  }

  /// Removes every key matching `pattern`; the number of live keys removed.
  std::size_t erase_matching(std::string_view pattern, steady_time now) {
    std::size_t removed = 0;
    for (auto it = map_.begin(); it != map_.end();) {
      node* n = &*it++;
      if (!glob_match(pattern, n->first)) continue;
      if (!is_expired(n->second, now)) ++removed;
      remove(n);
    }
    return removed;
  }

  void clear() {
    map_.clear();
    expiry_.clear();
    small_ = main_ = queue{};
    ghost_.clear();
    ghost_order_.clear();
  }

  /// Removes up to `limit` entries whose deadline has passed, visiting only them; how many.
  std::size_t sweep(steady_time now, std::size_t limit = static_cast<std::size_t>(-1)) {
    std::size_t removed = 0;
    while (removed < limit && has_expired(now)) {
      ++counters_.sweep_visits;
      ++counters_.expirations;
      remove(expiry_.begin()->second);
      ++removed;
    }
    return removed;
  }

  /// True when some entry's deadline has passed.
  [[nodiscard]] bool has_expired(steady_time now) const noexcept {
    return !expiry_.empty() && expiry_.begin()->first <= now;
  }

  [[nodiscard]] std::size_t size() const noexcept { return map_.size(); }
  [[nodiscard]] const store_counters& counters() const noexcept { return counters_; }

 private:
  struct entry;
  using node = std::pair<const std::string, entry>;
  using expiry_index = std::multimap<steady_time, node*>;

  struct entry {
    template <class Value>
    explicit entry(Value&& v) : value(std::forward<Value>(v)) {}
    T value;
    steady_time deadline = steady_time::max();  // what readers compare, without the index
    typename expiry_index::iterator expiry;     // expiry_.end() when the entry never expires
    node* newer = nullptr;
    node* older = nullptr;
    bool in_main = false;
    // s3_fifo: uses since queued, saturating at 3. Atomic because concurrent readers bump it.
    mutable std::atomic<std::uint8_t> frequency{0};
  };

  // An intrusive FIFO/recency list of nodes.
  struct queue {
    node* newest = nullptr;
    node* oldest = nullptr;
    std::size_t size = 0;
  };

  // `now`: a steady_time, or a function that returns it, called only when `e` has a deadline.
  template <class Now>
  static bool is_expired(const entry& e, Now& now) {
    if constexpr (std::is_invocable_r_v<steady_time, Now&>) {
      return e.deadline != steady_time::max() && e.deadline <= now();
    } else {
      return e.deadline <= now;
    }
  }

  template <class Now>
  node* find_live(const hashed_key& key, Now& now) {
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    if (is_expired(it->second, now)) {
      ++counters_.expirations;
      remove(&*it);
      return nullptr;
    }
    return &*it;
  }

  std::int64_t current_counter(std::string_view key, const T& value) const {
    auto counter = counter_of(value);
    if (!counter) {
      throw_error(errc::not_a_counter,
                  "incr/decr " + printable_key(key) + ": the value is not an integer");
    }
    return *counter;
  }

  void mark_used(node* n) {
    if (policy_ == eviction_policy::lru) {
      if (n != main_.newest) {
        unlink(main_, n);
        push_newest(main_, n);
      }
    } else {
      bump(n->second.frequency);
    }
  }

  static void bump(std::atomic<std::uint8_t>& frequency) {
    const auto f = frequency.load(std::memory_order_relaxed);
    if (f < 3) frequency.store(f + 1, std::memory_order_relaxed);
  }

  // An expired entry goes before any live one. One is enough to make room: reclaiming the others
  // is the sweep's work, spread over operations.
  void make_room(steady_time now) {
    if (map_.size() < capacity_) return;
    sweep(now, 1);
    while (map_.size() >= capacity_ && !map_.empty()) {
      ++counters_.evictions;
      remove(policy_ == eviction_policy::lru ? main_.oldest : s3_fifo_victim());
    }
  }

  // Walks the S3-FIFO queues until an entry without recent use comes up, re-queueing the others.
  node* s3_fifo_victim() {
    for (;;) {
      if (small_.size >= small_capacity_ || main_.size == 0) {
        node* n = small_.oldest;
        if (n->second.frequency.load(std::memory_order_relaxed) == 0) {
          remember_in_ghost(n->first);
          return n;  // still queued: remove() unlinks it
        }
        unlink(small_, n);
        n->second.frequency.store(0, std::memory_order_relaxed);
        push_newest(main_, n);
      } else {
        node* n = main_.oldest;
        const auto frequency = n->second.frequency.load(std::memory_order_relaxed);
        if (frequency == 0) return n;
        unlink(main_, n);
        n->second.frequency.store(frequency - 1, std::memory_order_relaxed);
        push_newest(main_, n);
      }
    }
  }

  // The ghost remembers hashes of keys evicted from the small queue; a stamp per hash lets old
  // order records expire without a search.
  void remember_in_ghost(std::string_view key) {
    const std::size_t hash = transparent_string_hash{}(key);
    ghost_[hash] = ++ghost_stamp_;
    ghost_order_.emplace_back(hash, ghost_stamp_);
    while (ghost_order_.size() > ghost_capacity_) {
      const auto [old_hash, stamp] = ghost_order_.front();
      ghost_order_.pop_front();
      if (auto it = ghost_.find(old_hash); it != ghost_.end() && it->second == stamp)
        ghost_.erase(it);
    }
  }

  bool leave_ghost(std::string_view key) {
    if (ghost_.empty()) return false;
    return ghost_.erase(transparent_string_hash{}(key)) > 0;
  }

  void set_expiry(node* n, std::optional<steady_time> expiry) {
    if (n->second.expiry != expiry_.end()) expiry_.erase(n->second.expiry);
    n->second.expiry = expiry ? expiry_.emplace(*expiry, n) : expiry_.end();
    n->second.deadline = expiry.value_or(steady_time::max());
  }

  void push_newest(queue& q, node* n) {
    n->second.in_main = &q == &main_;
    n->second.older = q.newest;
    n->second.newer = nullptr;
    if (q.newest != nullptr) q.newest->second.newer = n;
    q.newest = n;
    if (q.oldest == nullptr) q.oldest = n;
    ++q.size;
  }

  static void unlink(queue& q, node* n) {
    entry& e = n->second;
    (e.newer != nullptr ? e.newer->second.older : q.newest) = e.older;
    (e.older != nullptr ? e.older->second.newer : q.oldest) = e.newer;
    e.newer = e.older = nullptr;
    --q.size;
  }

  void remove(node* n) {
    unlink(n->second.in_main ? main_ : small_, n);
    if (n->second.expiry != expiry_.end()) expiry_.erase(n->second.expiry);
    map_.erase(map_.find(std::string_view(n->first)));
  }

  std::size_t capacity_;
  eviction_policy policy_;
  std::size_t small_capacity_;
  std::size_t ghost_capacity_;
  std::unordered_map<std::string, entry, transparent_string_hash, transparent_string_equal> map_;
  expiry_index expiry_;
  queue small_;
  queue main_;
  std::unordered_map<std::size_t, std::uint64_t> ghost_;
  std::deque<std::pair<std::size_t, std::uint64_t>> ghost_order_;
  std::uint64_t ghost_stamp_ = 0;
  store_counters counters_;
};

}  // namespace corocache::detail
