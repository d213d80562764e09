// A clock tests move by hand, so TTL tests never sleep.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>

namespace corocache::test {

class manual_clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  [[nodiscard]] time_point now() const {
    return time_point(std::chrono::nanoseconds(ticks_->load()));
  }
  void advance(std::chrono::nanoseconds by) { ticks_->fetch_add(by.count()); }

  /// A callable for memory_options::clock that reads this clock (and shares its state).
  [[nodiscard]] std::function<time_point()> source() const {
    return [ticks = ticks_] { return time_point(std::chrono::nanoseconds(ticks->load())); };
  }

 private:
  // Starts well past the epoch so "now - ttl" never underflows.
  std::shared_ptr<std::atomic<std::int64_t>> ticks_ = std::make_shared<std::atomic<std::int64_t>>(
      std::chrono::nanoseconds(std::chrono::hours(24)).count());
};

}  // namespace corocache::test
