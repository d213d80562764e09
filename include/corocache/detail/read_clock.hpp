// The time as the memory backend's reads need it, at the least cost.
//
// Reading steady_clock costs a read an ordered rdtsc: about 25 ns alone, and more inside a lookup,
// since the fence before it waits for the lookup's outstanding loads. On a get-hit that was as
// much as the lookup itself (docs/benchmarks.md). So a read asks for the time only when the
// entry it found has a deadline (lazy_now), and the check whether a sweep is due uses the coarse
// monotonic clock: the same clock as steady_clock, advanced once per scheduler tick (1 to 4 ms),
// and read without a fence.
#pragma once

#include <chrono>
#include <ctime>
#include <utility>

namespace corocache::detail {

using steady_time = std::chrono::steady_clock::time_point;

/// steady_clock::now() as of the last scheduler tick: never ahead of it, behind by at most a tick.
/// Only for decisions a millisecond or so late does not change (when the next sweep is due).
[[nodiscard]] inline steady_time coarse_steady_now() noexcept {
#if defined(__linux__) && defined(CLOCK_MONOTONIC_COARSE)
  // libstdc++ and libc++ both build steady_clock on CLOCK_MONOTONIC on Linux, whose coarse
  // reading this is.
  timespec ts{};
  if (::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) == 0)
    return steady_time(std::chrono::duration_cast<steady_time::duration>(
        std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
#endif
  return std::chrono::steady_clock::now();
}

/// The time from `Clock` (a function returning steady_time), read on first use and then the
/// same for the rest of one operation.
template <class Clock>
class lazy_now {
 public:
  explicit lazy_now(Clock clock) noexcept : clock_(std::move(clock)) {}

  steady_time operator()() {
    if (!read_) {
      time_ = clock_();
      read_ = true;
    }
    return time_;
  }

 private:
  Clock clock_;
  steady_time time_{};
  bool read_ = false;
};

}  // namespace corocache::detail
