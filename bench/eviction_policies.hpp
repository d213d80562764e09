// Standalone eviction policies for the hit ratio simulator, over dense integer keys 0..n-1:
// exact LRU (the reference), and prototypes of S3-FIFO and W-TinyLFU so the memory backend's
// policy can be weighed against them. Each has `bool access(key)`: true on a hit; on a miss the key
// is admitted (or, for W-TinyLFU, offered) as a cache would do after fetching the value.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

namespace bench {

using key_id = std::uint32_t;

/// Several doubly linked lists threaded through two arrays indexed by key, each key in at most
/// one list; list heads are sentinels past the last key. O(1) everything, no allocation per access.
class linked_lists {
 public:
  linked_lists(std::size_t keys, std::size_t lists)
      : keys_(keys), next_(keys + lists), prev_(keys + lists), owner_(keys, none), sizes_(lists) {
    for (std::size_t l = 0; l < lists; ++l) next_[keys + l] = prev_[keys + l] = sentinel(l);
  }

  static constexpr std::uint32_t none = ~std::uint32_t{0};

  std::uint32_t list_of(key_id k) const { return owner_[k]; }
  std::size_t size(std::uint32_t list) const { return sizes_[list]; }
  key_id back(std::uint32_t list) const { return prev_[sentinel(list)]; }

  void push_front(std::uint32_t list, key_id k) {
    const auto head = sentinel(list);
    next_[k] = next_[head];
    prev_[k] = head;
    prev_[next_[head]] = k;
    next_[head] = k;
    owner_[k] = list;
    ++sizes_[list];
  }

  void remove(key_id k) {
    next_[prev_[k]] = next_[k];
    prev_[next_[k]] = prev_[k];
    --sizes_[owner_[k]];
    owner_[k] = none;
  }

  void move_to_front(std::uint32_t list, key_id k) {
    remove(k);
    push_front(list, k);
  }

 private:
  std::uint32_t sentinel(std::size_t list) const {
    return static_cast<std::uint32_t>(keys_ + list);
  }

  std::size_t keys_;
  std::vector<std::uint32_t> next_, prev_, owner_;
  std::vector<std::size_t> sizes_;
};

/// Exact LRU: the reference every other policy is compared against.
class lru_policy {
 public:
  lru_policy(std::size_t keys, std::size_t capacity) : lists_(keys, 1), capacity_(capacity) {}
  static std::string name() { return "lru"; }

  bool access(key_id k) {
    if (lists_.list_of(k) == 0) {
      lists_.move_to_front(0, k);
      return true;
    }
    if (lists_.size(0) >= capacity_) lists_.remove(lists_.back(0));
    lists_.push_front(0, k);
    return false;
  }

 private:
  linked_lists lists_;
  std::size_t capacity_;
};

/// S3-FIFO (Yang et al., SOSP 2023): a small FIFO (10%) that filters one-hit wonders, a main FIFO
/// with 2-bit frequencies and reinsertion, and a ghost FIFO of keys recently evicted from the
/// small queue. An entry leaves the small queue for the main one if it was hit while there.
class s3fifo_policy {
 public:
  s3fifo_policy(std::size_t keys, std::size_t capacity)
      : capacity_(capacity),
        small_capacity_(std::max<std::size_t>(1, capacity / 10)),
        main_capacity_(capacity - std::min(capacity, small_capacity_)),
        where_(keys, absent),
        freq_(keys, 0),
        ghost_stamp_(keys, 0) {}
  static std::string name() { return "s3fifo"; }

  bool access(key_id k) {
    if (where_[k] == in_small || where_[k] == in_main) {
      freq_[k] = static_cast<std::uint8_t>(std::min(3, freq_[k] + 1));
      return true;
    }
    while (small_.size() + main_.size() >= capacity_) evict();
    freq_[k] = 0;
    if (where_[k] == in_ghost) {
      main_.push_back(k);
      where_[k] = in_main;
      --ghost_size_;
    } else {
      small_.push_back(k);
      where_[k] = in_small;
    }
    return false;
  }

 private:
  enum place : std::uint8_t { absent, in_small, in_main, in_ghost };

  void evict() {
    if (small_.size() >= small_capacity_ || main_.empty()) {
      evict_small();
    } else {
      evict_main();
    }
  }

  void evict_small() {
    while (!small_.empty()) {
      const key_id t = small_.front();
      small_.pop_front();
      if (freq_[t] > 0) {
        freq_[t] = 0;
        main_.push_back(t);
        where_[t] = in_main;
        // The move keeps the total; a full main queue then gives up an entry instead.
        if (main_.size() > main_capacity_) {
          evict_main();
          return;
        }
      } else {
        add_ghost(t);
        return;
      }
    }
  }

  void evict_main() {
    while (!main_.empty()) {
      const key_id t = main_.front();
      main_.pop_front();
      if (freq_[t] > 0) {
        --freq_[t];
        main_.push_back(t);
      } else {
        where_[t] = absent;
        return;
      }
    }
  }

  // The ghost queue keeps (key, stamp); an entry is live only while the key is still in the
  // ghost with that stamp, so keys that left the ghost need no search to be removed.
  void add_ghost(key_id k) {
    where_[k] = in_ghost;
    ghost_stamp_[k] = ++stamp_;
    ghost_.emplace_back(k, stamp_);
    ++ghost_size_;
    while (ghost_size_ > main_capacity_) {  // the ghost remembers as many keys as main holds
      const auto [g, stamp] = ghost_.front();
      ghost_.pop_front();
      if (where_[g] == in_ghost && ghost_stamp_[g] == stamp) {
        where_[g] = absent;
        --ghost_size_;
      }
    }
  }

  std::size_t capacity_, small_capacity_, main_capacity_;
  std::vector<place> where_;
  std::vector<std::uint8_t> freq_;
  std::vector<std::uint64_t> ghost_stamp_;
  std::deque<key_id> small_, main_;
  std::deque<std::pair<key_id, std::uint64_t>> ghost_;
  std::size_t ghost_size_ = 0;
  std::uint64_t stamp_ = 0;
};

/// A count-min sketch of 4-bit counters (stored in bytes, saturating at 15) with periodic
/// halving, as TinyLFU estimates recent popularity.
class frequency_sketch {
 public:
  explicit frequency_sketch(std::size_t capacity)
      : mask_(std::bit_ceil(std::max<std::size_t>(capacity, 16)) - 1),
        rows_{},
        sample_size_(10 * std::max<std::size_t>(capacity, 1)) {
    for (auto& row : rows_) row.assign(mask_ + 1, 0);
  }

  void increment(key_id k) {
    bool added = false;
    for (std::size_t r = 0; r < rows_.size(); ++r) {
      auto& counter = rows_[r][index(k, r)];
      if (counter < 15) {
        ++counter;
        added = true;
      }
    }
    if (added && ++additions_ >= sample_size_) halve();
  }

  unsigned estimate(key_id k) const {
    unsigned least = 15;
    for (std::size_t r = 0; r < rows_.size(); ++r)
      least = std::min<unsigned>(least, rows_[r][index(k, r)]);
    return least;
  }

 private:
  std::size_t index(key_id k, std::size_t row) const {
    std::uint64_t h = (k + 1) * (0x9E3779B97F4A7C15ULL + 2 * row);
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 29;
    return static_cast<std::size_t>(h) & mask_;
  }

  void halve() {
    for (auto& row : rows_) {
      for (auto& counter : row) counter >>= 1;
    }
    additions_ /= 2;
  }

  std::size_t mask_;
  std::array<std::vector<std::uint8_t>, 4> rows_;
  std::size_t sample_size_;
  std::size_t additions_ = 0;
};

/// W-TinyLFU (Einziger et al., 2017; Caffeine's layout without its adaptive window): a 1% LRU
/// window admits into a segmented LRU (20% probation, 80% protected) only when the sketch says
/// the window's victim is more popular than the main cache's.
class wtinylfu_policy {
 public:
  wtinylfu_policy(std::size_t keys, std::size_t capacity)
      : lists_(keys, 3),
        sketch_(capacity),
        window_capacity_(std::max<std::size_t>(1, capacity / 100)),
        main_capacity_(capacity - std::min(capacity, window_capacity_)),
        protected_capacity_(main_capacity_ * 8 / 10) {}
  static std::string name() { return "wtinylfu"; }

  bool access(key_id k) {
    sketch_.increment(k);
    switch (lists_.list_of(k)) {
      case window:
        lists_.move_to_front(window, k);
        return true;
      case probation:
        lists_.move_to_front(protected_, k);
        if (lists_.size(protected_) > protected_capacity_) {
          lists_.move_to_front(probation, lists_.back(protected_));
        }
        return true;
      case protected_:
        lists_.move_to_front(protected_, k);
        return true;
      default:
        break;
    }
    lists_.push_front(window, k);
    if (lists_.size(window) > window_capacity_) admit(lists_.back(window));
    return false;
  }

 private:
  enum : std::uint32_t { window, probation, protected_ };

  void admit(key_id candidate) {
    lists_.remove(candidate);
    if (main_capacity_ == 0) return;
    if (lists_.size(probation) + lists_.size(protected_) < main_capacity_) {
      lists_.push_front(probation, candidate);
      return;
    }
    const key_id victim =
        lists_.size(probation) > 0 ? lists_.back(probation) : lists_.back(protected_);
    if (sketch_.estimate(candidate) > sketch_.estimate(victim)) {
      lists_.remove(victim);
      lists_.push_front(probation, candidate);
    }
  }

  linked_lists lists_;
  frequency_sketch sketch_;
  std::size_t window_capacity_, main_capacity_, protected_capacity_;
};

}  // namespace bench
