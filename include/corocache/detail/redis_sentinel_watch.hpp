// redis_sentinel_watch: following the failovers that sentinels announce, without I/O.
//
// A redis-sentinel:// connection keeps one subscriber connection to a sentinel, SUBSCRIBEd to
// +switch-master. These classes decide; the driver performs:
// - parse_switch_master() reads an announcement ("NAME old-ip old-port new-ip new-port") out of
//   a pubsub message;
// - sentinel_subscription_schedule says which sentinel to subscribe to next and after how long:
//   the next one in turn after each failure, with the reconnect backoff (immediate, then from min
//   doubling up to max), reset once a subscription is confirmed;
// - sentinel_master_watch says when the master connection must be dropped so that the next
//   connect asks the sentinels again: an announcement for our master name that moves it away from
//   the address in use, or a READONLY reply (the node was demoted), the latter at most once per
//   period so that a sentinel still naming the demoted node cannot make the connection thrash.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "corocache/detail/reconnect_backoff.hpp"
#include "corocache/detail/redis_reply.hpp"

namespace corocache::detail {

/// One +switch-master announcement.
struct sentinel_switch {
  std::string master_name;
  std::string old_host;
  std::uint16_t old_port = 0;
  std::string new_host;
  std::uint16_t new_port = 0;
};

/// The announcement a pubsub message carries; nothing for any other message (a subscribe
/// confirmation, a pong, another channel) or a malformed payload.
[[nodiscard]] std::optional<sentinel_switch> parse_switch_master(const redis_reply& message);

/// True for the error reply of a write sent to a replica ("READONLY You can't write against a
/// read only replica.").
[[nodiscard]] bool is_readonly_error(const redis_reply& reply);

class sentinel_subscription_schedule {
 public:
  struct attempt {
    std::size_t sentinel;             ///< index into the URL's list of sentinels
    std::chrono::milliseconds delay;  ///< wait this long before connecting
  };

  sentinel_subscription_schedule(std::size_t sentinel_count, std::chrono::milliseconds min,
                                 std::chrono::milliseconds max, std::uint64_t seed)
      : count_(sentinel_count), backoff_(min, max, seed) {}

  /// The first subscription: the first sentinel, at once.
  [[nodiscard]] attempt first();
  /// The subscription failed or was lost: the next sentinel in turn, after the backoff's delay.
  [[nodiscard]] attempt after_failure();
  /// The sentinel confirmed the subscription: the next failure retries without waiting.
  void on_subscribed() { backoff_.reset(); }

 private:
  std::size_t count_;
  std::size_t current_ = 0;
  reconnect_backoff backoff_;
};

class sentinel_master_watch {
 public:
  sentinel_master_watch(std::string master_name, std::chrono::milliseconds readonly_period)
      : master_name_(std::move(master_name)), readonly_period_(readonly_period) {}

  /// Discovery verified host:port as the master; the connection now uses it.
  void on_master(std::string host, std::uint16_t port);
  /// True when `announcement` moves our master away from the address in use: drop the master
  /// connection. False for another master name, the address already in use, or no master yet.
  [[nodiscard]] bool on_switch(const sentinel_switch& announcement) const;
  /// A READONLY reply came from the master at `now`: true (drop the connection) unless the last
  /// true answer is less than the period ago.
  [[nodiscard]] bool on_readonly(std::chrono::steady_clock::time_point now);

 private:
  std::string master_name_;
  std::chrono::milliseconds readonly_period_;
  std::string host_;
  std::uint16_t port_ = 0;  // 0: no master yet
  std::optional<std::chrono::steady_clock::time_point> last_readonly_drop_;
};

}  // namespace corocache::detail
