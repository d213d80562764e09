// redis_sentinel_subscriber: the subscription of a redis-sentinel:// (or rediss-sentinel://, over
// TLS) connection to the sentinels' +switch-master announcements. One sentinel at a time carries
// it; when that sentinel cannot be reached, refuses, does not confirm in time or drops the
// connection, the next one in turn is tried after a bounded backoff (sentinel_subscription_schedule
// decides). Announcements are handed to the connection, which decides (sentinel_master_watch). Runs
// on the connection's strand.
//
// Every subscription first asks its sentinel for the master's address, handed on like an
// announcement: one made while no subscription was up is not missed. A subscribed connection is
// PINGed after each answer plus the health-check interval; a sentinel that does not answer in time
// (stopped, cut off, its socket still open) loses the subscription to the next one.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include "corocache/detail/redis_sentinel_watch.hpp"
#include "corocache/redis_options.hpp"
#include "redis_transport.hpp"

namespace corocache::detail {

class redis_sentinel_subscriber : public std::enable_shared_from_this<redis_sentinel_subscriber> {
 public:
  using strand_type = asio::strand<asio::any_io_executor>;
  /// An announcement, and the index of the sentinel that made it (its view is up to date).
  using switch_handler = std::function<void(const sentinel_switch&, std::size_t sentinel)>;

  struct limits {
    /// Connecting (TLS handshake included) and the sentinel's confirmation of the subscription.
    std::chrono::milliseconds confirm{1000};
    /// A PING this long after the last answer to one (or the confirmation); 0: no PING.
    std::chrono::milliseconds ping_interval{0};
    /// The answer to a PING is due within this.
    std::chrono::milliseconds ping_timeout{1000};
  };

  /// `tls`: set for rediss-sentinel://.
  redis_sentinel_subscriber(strand_type strand, redis_sentinel_settings settings,
                            std::shared_ptr<const redis_tls_client> tls,
                            sentinel_subscription_schedule schedule, limits limits,
                            switch_handler on_switch);

  /// Subscribes (once; later calls do nothing) and keeps a subscription until stop().
  void start();
  /// Drops the subscription for good; the handler is not called any more.
  void stop();

 private:
  struct link;  // one connection to a sentinel, held by the handlers of its operations

  void subscribe_after(sentinel_subscription_schedule::attempt next);
  void connect(std::size_t sentinel);
  void read(const std::shared_ptr<link>& x);
  [[nodiscard]] bool on_reply(const std::shared_ptr<link>& x, const redis_reply& reply);
  void ping_later(const std::shared_ptr<link>& x);
  void ping(const std::shared_ptr<link>& x);
  void failed(const std::shared_ptr<link>& x);
  void drop_link();

  strand_type strand_;
  redis_sentinel_settings settings_;
  std::shared_ptr<const redis_tls_client> tls_;
  sentinel_subscription_schedule schedule_;
  limits limits_;
  switch_handler on_switch_;
  // The backoff before connecting, then the confirmation deadline, then the wait before each PING
  // and its deadline, in turn.
  asio::steady_timer timer_;
  std::shared_ptr<link> current_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace corocache::detail
