// redis_link: what RedisCacheBackend sends its commands through. One redis_connection for
// redis://, rediss://, unix:// and redis-sentinel://; a redis_cluster_connection for
// redis-cluster://, where each command goes to the master of its key's slot.
//
// On a cluster, a command touches one slot: its key is read from the command itself
// (cluster_routing_key). Multi-key operations are split by slot by the caller and sent with
// execute_spread(), which sends every part at once and returns the replies in order.
//
// Like redis_connection, an awaitable from a link holds what it needs (the connection or the
// cluster), never the link: the backend may be destroyed while one is pending.
#pragma once

#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "corocache/connection_stats.hpp"
#include "corocache/detail/redis_cluster_connection.hpp"
#include "corocache/detail/redis_command.hpp"
#include "corocache/detail/redis_connection.hpp"
#include "corocache/detail/redis_reply.hpp"
#include "corocache/redis_options.hpp"

namespace corocache::detail {

/// The stored key a command is routed by on a cluster: argument 1, or for EVAL/EVALSHA the first
/// key after numkeys; empty for a command without a key (it goes to the master of slot 0).
[[nodiscard]] std::string_view cluster_routing_key(const redis_command& command);

class redis_link {
 public:
  /// One connection, or a cluster, as `settings` say; connects only in connect().
  [[nodiscard]] static std::shared_ptr<redis_link> create(asio::any_io_executor executor,
                                                          const redis_settings& settings);

  redis_link(std::shared_ptr<redis_connection> single, std::string description,
             std::string address);
  redis_link(std::shared_ptr<redis_cluster_connection> cluster, std::string description,
             bool start_offline);

  [[nodiscard]] bool is_cluster() const noexcept { return cluster_ != nullptr; }
  /// The redacted URL, for messages.
  [[nodiscard]] const std::string& description() const noexcept { return description_; }
  /// "host:port" of the URL's (first) host, for the advice to use redis-cluster://.
  [[nodiscard]] const std::string& address() const noexcept { return address_; }

  /// Connects (one node), or reads the topology (cluster); see redis_connection::connect().
  [[nodiscard]] asio::awaitable<void> connect();
  [[nodiscard]] asio::awaitable<void> close();
  void close_now() noexcept;
  /// The connection's counters; on a cluster, the sum over every node's connection.
  [[nodiscard]] connection_stats stats() const;

  /// redis_connection::execute on one node; on a cluster, the command goes to its key's master.
  template <class Decode>
  [[nodiscard]] auto execute(redis_command command, Decode decode)
      -> asio::awaitable<std::invoke_result_t<Decode&, redis_reply&&>> {
    if (!cluster_) return single_->execute(std::move(command), std::move(decode));
    return routed(cluster_, std::move(command), std::move(decode));
  }
  [[nodiscard]] asio::awaitable<redis_reply> execute(redis_command command) {
    return execute(std::move(command), [](redis_reply&& reply) { return std::move(reply); });
  }

  /// Commands that need not share a slot, sent at once, their replies in order. One node: one
  /// batch (one round trip). Cluster: each routed by its own key, all in flight together (those
  /// for one node pipelined on its connection). Fails as a whole when any of them fails.
  [[nodiscard]] asio::awaitable<std::vector<redis_reply>> execute_spread(
      std::vector<redis_command> commands);

  /// redis_connection::execute_batch; one node only (on a cluster a batch may span slots).
  [[nodiscard]] asio::awaitable<std::vector<redis_reply>> execute_batch(
      std::vector<redis_command> commands);

  /// The connections that hold keys: the node, or every master the cluster has now.
  [[nodiscard]] asio::awaitable<std::vector<std::shared_ptr<redis_connection>>> data_nodes();

 private:
  template <class Decode>
  static auto routed(std::shared_ptr<redis_cluster_connection> cluster, redis_command command,
                     Decode decode)
      -> asio::awaitable<std::invoke_result_t<Decode&, redis_reply&&>> {
    auto key = std::string(cluster_routing_key(command));
    try {
      auto reply = co_await cluster->execute(std::move(key), std::move(command));
      co_return decode(std::move(reply));
    } catch (...) {
      // A decoder that counts its outcomes (tallied_read) hears of every failure, as on one node.
      if constexpr (requires(const std::exception_ptr& e) { decode.failed(e); })
        decode.failed(std::current_exception());
      throw;
    }
  }

  std::shared_ptr<redis_connection> single_;
  std::shared_ptr<redis_cluster_connection> cluster_;
  std::string description_;
  std::string address_;
  bool start_offline_ = false;
};

}  // namespace corocache::detail
