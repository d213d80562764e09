// One shard of the memory backend: a hash map of entries threaded on an intrusive LRU list, plus
// an expiry index ordered by deadline so a sweep visits only entries that have expired.
// Not thread-safe: MemoryCacheBackend guards each store with its own mutex.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "corocache/detail/counter.hpp"
#include "corocache/error.hpp"
#include "corocache/glob.hpp"

namespace corocache::detail {

using steady_time = std::chrono::steady_clock::time_point;

struct transparent_string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const noexcept {
    return std::hash<std::string_view>{}(text);
  }
};

/// Counters a store keeps about itself (summed over shards by the backend).
struct store_counters {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t evictions = 0;     ///< live entries removed to respect max_size
  std::uint64_t expirations = 0;   ///< expired entries removed (by a sweep or on access)
  std::uint64_t sweep_visits = 0;  ///< entries a sweep looked at
};

template <class T>
class lru_store {
 public:
  explicit lru_store(std::size_t capacity) : capacity_(capacity) {}
  lru_store(const lru_store&) = delete;
  lru_store& operator=(const lru_store&) = delete;

  /// The live value under `key`, marked as most recently used; null on a miss.
  const T* get(std::string_view key, steady_time now) {
    node* n = find_live(key, now);
    if (n == nullptr) {
      ++counters_.misses;
      return nullptr;
    }
    ++counters_.hits;
    touch(n);
    return &n->second.value;
  }

  bool contains(std::string_view key, steady_time now) { return find_live(key, now) != nullptr; }

  /// Stores `value` under `key` with `expiry` (nullopt: never), making room if needed.
  template <class Key, class Value>
  void put(Key&& key, Value&& value, std::optional<steady_time> expiry, steady_time now) {
    if (auto it = map_.find(std::string_view(key)); it != map_.end()) {
      it->second.value = std::forward<Value>(value);
      set_expiry(&*it, expiry);
      touch(&*it);
      return;
    }
    make_room(now);
    auto [it, inserted] =
        map_.try_emplace(std::string(std::forward<Key>(key)), std::forward<Value>(value));
    it->second.expiry = expiry_.end();
    link_front(&*it);
    set_expiry(&*it, expiry);
  }

  /// Removes `key`; true when it was live.
  bool erase(std::string_view key, steady_time now) {
    auto it = map_.find(key);
    if (it == map_.end()) return false;
    const bool live = !expired(it->second, now);
    remove(&*it);
    return live;
  }

  /// Adds `delta` to the counter under `key`, creating it from `initial` (with `expiry`) when
  /// missing; the new value. Leaves the entry untouched when it throws.
  std::int64_t add(std::string_view key, std::int64_t delta, std::int64_t initial,
                   std::optional<steady_time> expiry, steady_time now) {
    node* n = find_live(key, now);
    const std::int64_t base = n != nullptr ? current_counter(key, n->second.value) : initial;
    std::int64_t result = 0;
    if (__builtin_add_overflow(base, delta, &result)) {
      throw_error(errc::overflow, "incr/decr " + printable_key(key) + ": the result leaves int64");
    }
    T stored = value_of_counter<T>(result, std::string(key));
    if (n != nullptr) {
      n->second.value = std::move(stored);
      touch(n);
    } else {
      put(key, std::move(stored), expiry, now);
    }
    return result;
  }

  /// Removes every key matching `pattern`; the number of live keys removed.
  std::size_t erase_matching(std::string_view pattern, steady_time now) {
    std::size_t removed = 0;
    for (auto it = map_.begin(); it != map_.end();) {
      node* n = &*it++;
      if (!glob_match(pattern, n->first)) continue;
      if (!expired(n->second, now)) ++removed;
      remove(n);
    }
    return removed;
  }

  void clear() {
    map_.clear();
    expiry_.clear();
    newest_ = oldest_ = nullptr;
  }

  /// Removes the entries whose deadline has passed, visiting only them.
  void sweep(steady_time now) {
    while (!expiry_.empty() && expiry_.begin()->first <= now) {
      ++counters_.sweep_visits;
      ++counters_.expirations;
      remove(expiry_.begin()->second);
    }
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
    typename expiry_index::iterator expiry;  // expiry_.end() when the entry never expires
    node* newer = nullptr;
    node* older = nullptr;
  };

  bool expired(const entry& e, steady_time now) const {
    return e.expiry != expiry_.end() && e.expiry->first <= now;
  }

  node* find_live(std::string_view key, steady_time now) {
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    if (expired(it->second, now)) {
      ++counters_.expirations;
      remove(&*it);
      return nullptr;
    }
    return &*it;
  }

  std::int64_t current_counter(std::string_view key, const T& value) const {
    auto counter = counter_of(value);
    if (!counter)
      throw_error(errc::not_a_counter,
                  "incr/decr " + printable_key(key) + ": the value is not an integer");
    return *counter;
  }

  void make_room(steady_time now) {
    if (map_.size() < capacity_) return;
    sweep(now);
    while (map_.size() >= capacity_ && oldest_ != nullptr) {
      ++counters_.evictions;
      remove(oldest_);
    }
  }

  void set_expiry(node* n, std::optional<steady_time> expiry) {
    if (n->second.expiry != expiry_.end()) expiry_.erase(n->second.expiry);
    n->second.expiry = expiry ? expiry_.emplace(*expiry, n) : expiry_.end();
  }

  void link_front(node* n) {
    n->second.older = newest_;
    n->second.newer = nullptr;
    if (newest_ != nullptr) newest_->second.newer = n;
    newest_ = n;
    if (oldest_ == nullptr) oldest_ = n;
  }

  void unlink(node* n) {
    entry& e = n->second;
    (e.newer != nullptr ? e.newer->second.older : newest_) = e.older;
    (e.older != nullptr ? e.older->second.newer : oldest_) = e.newer;
  }

  void touch(node* n) {
    if (n == newest_) return;
    unlink(n);
    link_front(n);
  }

  void remove(node* n) {
    unlink(n);
    if (n->second.expiry != expiry_.end()) expiry_.erase(n->second.expiry);
    map_.erase(map_.find(std::string_view(n->first)));
  }

  std::size_t capacity_;
  std::unordered_map<std::string, entry, transparent_string_hash, std::equal_to<>> map_;
  expiry_index expiry_;
  node* newest_ = nullptr;
  node* oldest_ = nullptr;
  store_counters counters_;
};

}  // namespace corocache::detail
