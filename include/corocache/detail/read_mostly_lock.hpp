// A reader-writer lock for data read far more often than written, whose readers write only a
// cache line of their own: each thread announces its reads in its own slot (as Linux's per-CPU
// rwlocks and folly::SharedMutex's deferred readers do), and a writer waits until every slot is
// empty. Readers on different threads therefore never write a line another reader wrote, which a
// mutex or std::shared_mutex (one shared reader count) cannot avoid.
//
// A slot also tallies the hits of the reads it announced: the tally lives in the word the reader
// writes anyway, so counting costs the read no extra atomic operation.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace corocache::detail {

/// A small number for the calling thread, unique among live threads: the lowest one free when the
/// thread first asks, given back when it exits. Threads then map to distinct slots of a lock.
[[nodiscard]] inline std::size_t this_thread_number() {
  // A plain thread_local read (no initialization guard) once the thread has its number.
  constexpr std::size_t none = static_cast<std::size_t>(-1);
  thread_local std::size_t cached = none;
  if (cached != none) [[likely]]
    return cached;
  class numbers {
   public:
    std::size_t take() {
      std::lock_guard lock(mutex_);
      const auto free = std::find(used_.begin(), used_.end(), false);
      if (free != used_.end()) {
        *free = true;
        return static_cast<std::size_t>(free - used_.begin());
      }
      used_.push_back(true);
      return used_.size() - 1;
    }
    void give_back(std::size_t n) {
      std::lock_guard lock(mutex_);
      used_[n] = false;
    }

   private:
    std::mutex mutex_;
    std::vector<bool> used_;
  };
  // Never destroyed: threads may exit (and give their number back) after static destruction.
  static numbers* const all = new numbers;
  struct holder {
    std::size_t number = all->take();
    ~holder() { all->give_back(number); }
  };
  thread_local const holder mine;
  cached = mine.number;
  return cached;
}

/// Spins briefly, then yields: waits are short (a lookup and a copy), but the thread waited for
/// may have been preempted.
inline void wait_a_little(unsigned& round) noexcept {
  if (++round < 64) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  } else {
    std::this_thread::yield();
  }
}

class read_mostly_lock {
 public:
  /// One per group of threads that share it; padded so that no two slots share a cache line.
  struct alignas(64) slot {
    /// Low 16 bits: reads in progress; the rest: reads that hit.
    std::atomic<std::uint64_t> state{0};
    std::atomic<std::uint64_t> misses{0};
  };

  /// Enough slots for `threads` threads to each have their own (rounded up to a power of two,
  /// at least 4, at most 64); more threads share slots, which stays correct.
  explicit read_mostly_lock(std::size_t threads)
      : slot_count_(std::bit_ceil(std::clamp<std::size_t>(threads, 4, 64))),
        slots_(std::make_unique<slot[]>(slot_count_)) {}

  read_mostly_lock(const read_mostly_lock&) = delete;
  read_mostly_lock& operator=(const read_mostly_lock&) = delete;

  /// The calling thread's slot.
  [[nodiscard]] slot& own_slot() const noexcept {
    return slots_[this_thread_number() & (slot_count_ - 1)];
  }

  /// Starts a read; returns the slot to pass to unlock_shared. Waits while a writer holds the lock.
  [[nodiscard]] slot& lock_shared() const noexcept {
    slot& s = own_slot();
    for (;;) {
      // Announce, then look for a writer; the writer raises its flag, then looks for readers.
      // Both sides sequentially consistent: at least one of them sees the other.
      s.state.fetch_add(1, std::memory_order_seq_cst);
      if (!writing_.load(std::memory_order_seq_cst)) return s;
      s.state.fetch_sub(1, std::memory_order_release);
      unsigned round = 0;
      while (writing_.load(std::memory_order_relaxed)) wait_a_little(round);
    }
  }

  /// Ends a read started by lock_shared.
  void unlock_shared(slot& s) const noexcept { s.state.fetch_sub(1, std::memory_order_release); }

  /// Ends a read started by lock_shared and counts it as a hit, in one atomic operation.
  void unlock_shared_after_hit(slot& s) const noexcept {
    s.state.fetch_add(hit_unit - 1, std::memory_order_release);
  }

  /// Counts a hit or a miss of a read made under the exclusive lock.
  void count(bool hit) const noexcept {
    slot& s = own_slot();
    if (hit) {
      s.state.fetch_add(hit_unit, std::memory_order_relaxed);
    } else {
      s.misses.fetch_add(1, std::memory_order_relaxed);
    }
  }

  /// Exclusive: waits for other writers, then for the reads in progress. New reads wait.
  void lock() {
    writer_mutex_.lock();
    writing_.store(true, std::memory_order_seq_cst);
    for (std::size_t i = 0; i < slot_count_; ++i) {
      unsigned round = 0;
      while ((slots_[i].state.load(std::memory_order_seq_cst) & reader_mask) != 0)
        wait_a_little(round);
    }
  }

  void unlock() {
    writing_.store(false, std::memory_order_release);
    writer_mutex_.unlock();
  }

  [[nodiscard]] std::uint64_t hits() const noexcept {
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < slot_count_; ++i)
      total += slots_[i].state.load(std::memory_order_relaxed) / hit_unit;
    return total;
  }

  [[nodiscard]] std::uint64_t misses() const noexcept {
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < slot_count_; ++i)
      total += slots_[i].misses.load(std::memory_order_relaxed);
    return total;
  }

 private:
  static constexpr std::uint64_t hit_unit = std::uint64_t{1} << 16;
  static constexpr std::uint64_t reader_mask = hit_unit - 1;

  std::mutex writer_mutex_;
  std::atomic<bool> writing_{false};
  std::size_t slot_count_;
  std::unique_ptr<slot[]> slots_;
};

/// Holds a read_mostly_lock shared for a scope; counts the read as a hit or a miss if told to.
class shared_read {
 public:
  explicit shared_read(const read_mostly_lock& lock) : lock_(lock), slot_(lock.lock_shared()) {}
  shared_read(const shared_read&) = delete;
  shared_read& operator=(const shared_read&) = delete;
  ~shared_read() {
    if (outcome_ == counted::hit) {
      lock_.unlock_shared_after_hit(slot_);
      return;
    }
    lock_.unlock_shared(slot_);
    if (outcome_ == counted::miss) slot_.misses.fetch_add(1, std::memory_order_relaxed);
  }

  void hit() noexcept { outcome_ = counted::hit; }
  void miss() noexcept { outcome_ = counted::miss; }

 private:
  enum class counted { no, hit, miss };
  const read_mostly_lock& lock_;
  read_mostly_lock::slot& slot_;
  counted outcome_ = counted::no;
};

}  // namespace corocache::detail
