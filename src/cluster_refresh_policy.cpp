#include "corocache/detail/cluster_refresh_policy.hpp"

namespace corocache::detail {

bool cluster_refresh_policy::start(time_point now) {
  in_flight_ = true;
  last_start_ = now;
  due_.reset();
  ++started_;
  return true;
}

bool cluster_refresh_policy::request(time_point now) {
  if (in_flight_ || due_) {
    ++coalesced_;
    return false;
  }
  if (last_start_ && now < *last_start_ + min_interval_) {
    due_ = *last_start_ + min_interval_;
    ++coalesced_;
    return false;
  }
  return start(now);
}

void cluster_refresh_policy::finished(bool succeeded) {
  if (!in_flight_) return;
  in_flight_ = false;
  if (!succeeded) due_ = *last_start_ + min_interval_;
}

bool cluster_refresh_policy::on_timer(time_point now) {
  if (in_flight_ || !due_ || now < *due_) return false;
  return start(now);
}

}  // namespace corocache::detail
