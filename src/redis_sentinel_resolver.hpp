// redis_sentinel_resolver: the I/O of Sentinel discovery for a redis-sentinel:// connection.
// redis_sentinel_discovery decides (which sentinel, what to send, what a reply means); this class
// performs its steps over its own sockets and hands the verified master's socket to the
// connection, which then runs its usual machine on it. Everything runs on the connection's strand.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include "corocache/detail/redis_sentinel_discovery.hpp"
#include "redis_tls.hpp"

namespace corocache::detail {

class redis_sentinel_resolver : public std::enable_shared_from_this<redis_sentinel_resolver> {
 public:
  using strand_type = asio::strand<asio::any_io_executor>;
  /// The master's connected socket (nothing on it left unread) and `outcome` its address; or no
  /// socket, and `outcome.error` says why.
  using handler =
      std::function<void(std::optional<redis_socket> master, const sentinel_step& outcome)>;

  /// `exchange_limit` bounds each exchange (one sentinel, or the master's ROLE).
  redis_sentinel_resolver(strand_type strand, redis_sentinel_discovery discovery,
                          std::chrono::milliseconds exchange_limit);

  /// Runs one discovery round; `done` runs once on the strand, unless cancel() comes first.
  void resolve(handler done);
  /// Drops the round in progress, if any: its handler never runs.
  void cancel();
  /// The next round asks sentinel `i` first (one whose view is known to be current).
  void prefer(std::size_t i) { discovery_.prefer(i); }

 private:
  struct exchange;  // one connection's I/O objects, held by the handlers of its operations

  void step_to(sentinel_step step);
  void connect(const std::string& host, std::uint16_t port);
  void send(std::vector<redis_command>& commands);
  void read(const std::shared_ptr<exchange>& x);
  void failed(const std::shared_ptr<exchange>& x, const std::string& why);
  void finish(std::optional<redis_socket> master, const sentinel_step& outcome);
  void drop_exchange();

  strand_type strand_;
  redis_sentinel_discovery discovery_;
  std::chrono::milliseconds exchange_limit_;
  asio::steady_timer timer_;
  std::shared_ptr<exchange> current_;  // null between rounds
  handler done_;
};

}  // namespace corocache::detail
