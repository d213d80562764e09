// reconnect_backoff: the delays between reconnect attempts. No I/O, no clock.
//
// The first retry after a lost connection is immediate (a dropped connection is often back at
// once); the next ones wait from `min` doubling up to `max`, each with jitter in [delay/2, delay]
// so that many clients do not reconnect in step. reset() after a successful handshake.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace corocache::detail {

class reconnect_backoff {
 public:
  reconnect_backoff(std::chrono::milliseconds min, std::chrono::milliseconds max,
                    std::uint64_t seed)
      : min_(std::max(min, std::chrono::milliseconds(1))),
        max_(std::max(max, min_)),
        random_(static_cast<std::minstd_rand::result_type>(seed % 2147483646 + 1)) {}

  /// The delay before the next attempt.
  [[nodiscard]] std::chrono::milliseconds next() {
    const int n = failures_++;
    if (n == 0) return std::chrono::milliseconds(0);
    auto delay = min_;
    for (int i = 1; i < n && delay < max_; ++i) delay *= 2;
    delay = std::min(delay, max_);
    std::uniform_int_distribution<long long> jitter(delay.count() / 2, delay.count());
    return std::chrono::milliseconds(jitter(random_));
  }

  void reset() { failures_ = 0; }

 private:
  std::chrono::milliseconds min_;
  std::chrono::milliseconds max_;
  std::minstd_rand random_;
  int failures_ = 0;
};

}  // namespace corocache::detail
