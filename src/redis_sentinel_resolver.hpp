// redis_sentinel_resolver: the I/O of Sentinel discovery for a redis-sentinel:// or
// rediss-sentinel:// connection. redis_sentinel_discovery decides (which sentinel, what to send,
// what a reply means); this class performs its steps over its own transports (TLS ones for
// rediss-sentinel://: a sentinel or master whose certificate fails verification counts as
// failed, with the reason, and is sent nothing) and hands the verified master's transport to the
// connection, which then runs its usual machine on it. Everything runs on the connection's strand.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include "corocache/detail/redis_sentinel_discovery.hpp"
#include "redis_transport.hpp"

namespace corocache::detail {

class redis_sentinel_resolver : public std::enable_shared_from_this<redis_sentinel_resolver> {
 public:
  using strand_type = asio::strand<asio::any_io_executor>;
  /// The master's connected transport (nothing on it left unread) and `outcome` its address; or
  /// null, and `outcome.error` says why.
  using handler =
      std::function<void(std::shared_ptr<redis_transport> master, const sentinel_step& outcome)>;

  /// `tls`: set for rediss-sentinel://; `exchange_limit` bounds each exchange (one sentinel, or
  /// the master's ROLE), TLS handshake included.
  redis_sentinel_resolver(strand_type strand, redis_sentinel_discovery discovery,
                          std::shared_ptr<const redis_tls_client> tls,
                          std::chrono::milliseconds exchange_limit);

  /// Runs one discovery round; `done` runs once on the strand, unless cancel() comes first.
  void resolve(handler done);
  /// Drops the round in progress, if any: its handler never runs.
  void cancel();
  /// The next round asks sentinel `i` first (one whose view is known to be current).
  void prefer(std::size_t i) { discovery_.prefer(i); }

 private:
  using exchange = redis_transport;  // one connection, held by the handlers of its operations

  void step_to(sentinel_step step);
  void connect(const std::string& host, std::uint16_t port);
  void send(std::vector<redis_command>& commands);
  void read(const std::shared_ptr<exchange>& x);
  void failed(const std::shared_ptr<exchange>& x, const std::string& why);
  void finish(std::shared_ptr<redis_transport> master, const sentinel_step& outcome);
  void drop_exchange();

  strand_type strand_;
  redis_sentinel_discovery discovery_;
  std::shared_ptr<const redis_tls_client> tls_;
  std::chrono::milliseconds exchange_limit_;
  asio::steady_timer timer_;
  std::shared_ptr<exchange> current_;  // null between rounds
  handler done_;
};

}  // namespace corocache::detail
