// cluster_refresh_policy: when to re-read the cluster's topology (CLUSTER SLOTS).
//
// A MOVED redirect or a lost master asks for a refresh. Requests are single-flight (one refresh at
// a time; a request while one runs joins it) and rate-limited (a refresh starts at least
// `min_interval` after the previous one started; a request that comes earlier is scheduled for
// then). A failed refresh is retried at the same pace. The policy does no I/O and reads no clock:
// the driver passes the time with every event, so tests can drive it with made-up time points.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace corocache::detail {

class cluster_refresh_policy {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  explicit cluster_refresh_policy(std::chrono::milliseconds min_interval)
      : min_interval_(min_interval) {}

  /// The map looks stale. True: start a refresh now (and report it with finished()); false: one
  /// is running, or one is scheduled (see due()).
  [[nodiscard]] bool request(time_point now);
  /// The refresh started by request() or on_timer() ended.
  void finished(bool succeeded);
  /// The driver's timer, armed for due(), fired at `now`: true when the scheduled refresh starts.
  [[nodiscard]] bool on_timer(time_point now);

  /// When the scheduled refresh may start; empty when none waits.
  [[nodiscard]] std::optional<time_point> due() const { return due_; }
  [[nodiscard]] bool in_flight() const noexcept { return in_flight_; }
  /// Refreshes started so far.
  [[nodiscard]] std::uint64_t started() const noexcept { return started_; }
  /// Requests that joined a running or scheduled refresh instead of starting one.
  [[nodiscard]] std::uint64_t coalesced() const noexcept { return coalesced_; }

 private:
  bool start(time_point now);

  std::chrono::milliseconds min_interval_;
  bool in_flight_ = false;
  std::optional<time_point> last_start_;
  std::optional<time_point> due_;
  std::uint64_t started_ = 0;
  std::uint64_t coalesced_ = 0;
};

}  // namespace corocache::detail
