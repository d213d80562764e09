// redis_cluster_connection: routes commands over a Redis Cluster, with one pipelined
// redis_connection per node, created on demand.
//
// connect() reads the topology (CLUSTER SLOTS) from the first seed that answers. execute() sends a
// single-key command to the master of the key's slot and follows the cluster's answers:
// - MOVED: the slot is recorded as the named node's, the command is resent there, and a full
//   refresh is requested (single-flight and rate-limited, see cluster_refresh_policy);
// - ASK: ASKING + the command are sent once to the named node; the map is left as it is;
// - TRYAGAIN, CLUSTERDOWN, LOADING: resent after a pause that doubles from retry_delay, until
//   command_timeout has passed since the call; the last error reply is then returned;
// - more than max_redirects MOVED/ASK for one call fail with errc::server_error naming the slot;
//   a malformed MOVED/ASK fails with errc::protocol_error.
// A transport failure (errc::connection_error, errc::timeout) is thrown to the caller as on one
// node, and requests a refresh: the master may have failed over.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "corocache/detail/cluster_refresh_policy.hpp"
#include "corocache/detail/cluster_slot_map.hpp"
#include "corocache/detail/redis_command.hpp"
#include "corocache/detail/redis_connection.hpp"
#include "corocache/detail/redis_reply.hpp"

namespace corocache::detail {

struct redis_cluster_options {
  std::vector<redis_endpoint> seeds;  ///< where discovery starts
  /// Timeouts, backoff, health checks and credentials for every node (its endpoint's host and
  /// port are replaced per node; a cluster has no databases, so db must be 0).
  redis_connection_options node;
  int max_redirects = 5;
  std::chrono::milliseconds refresh_min_interval{100};
  std::chrono::milliseconds retry_delay{10};
};

/// What the cluster connection did, for tests and statistics.
struct redis_cluster_counters {
  std::uint64_t moved = 0;
  std::uint64_t ask = 0;
  std::uint64_t retries = 0;  ///< TRYAGAIN / CLUSTERDOWN / LOADING
  std::uint64_t refreshes = 0;
  std::uint64_t nodes = 0;  ///< connections opened so far
};

class redis_cluster_connection : public std::enable_shared_from_this<redis_cluster_connection> {
  struct private_tag {};

 public:
  [[nodiscard]] static std::shared_ptr<redis_cluster_connection> create(
      asio::any_io_executor executor, redis_cluster_options options);

  /// Reads the topology from the seeds; throws cache_error errc::connection_error naming them
  /// when none answers with a map.
  [[nodiscard]] asio::awaitable<void> connect();

  /// Sends `command`, which touches `key` only (a stored key, prefix included), to the key's
  /// master; returns its reply (an ordinary error reply as kind::error, as redis_connection does).
  [[nodiscard]] asio::awaitable<redis_reply> execute(std::string key, redis_command command);

  /// A connected connection to every master of the current map, where SCAN finds the keys.
  [[nodiscard]] asio::awaitable<std::vector<std::shared_ptr<redis_connection>>> masters();
  /// Every node connection opened so far, for their counters.
  [[nodiscard]] std::vector<std::shared_ptr<redis_connection>> node_connections() const;

  /// Closes every node's connection; later calls fail with errc::shut_down.
  void close_now() noexcept;
  /// The same, then waits (at most two seconds) for a background refresh to end, so that nothing
  /// of the cluster's still runs when the caller destroys its executor.
  [[nodiscard]] asio::awaitable<void> close();

  [[nodiscard]] cluster_slot_map slot_map() const;
  [[nodiscard]] redis_cluster_counters counters() const;

  redis_cluster_connection(private_tag, asio::any_io_executor executor,
                           redis_cluster_options options);
  ~redis_cluster_connection();
  redis_cluster_connection(const redis_cluster_connection&) = delete;
  redis_cluster_connection& operator=(const redis_cluster_connection&) = delete;

 private:
  struct link {
    std::shared_ptr<redis_connection> connection;
    bool connected = false;
  };

  [[nodiscard]] asio::awaitable<std::shared_ptr<redis_connection>> connection_to(cluster_node node);
  [[nodiscard]] asio::awaitable<bool> read_topology(cluster_node node);
  [[nodiscard]] asio::awaitable<void> refresh();
  [[nodiscard]] asio::awaitable<void> refresh_when_due(cluster_refresh_policy::time_point due);
  void request_refresh();
  [[nodiscard]] std::vector<cluster_node> refresh_sources() const;

  asio::any_io_executor executor_;
  redis_cluster_options options_;
  mutable std::mutex mutex_;  // everything below
  cluster_slot_map map_;
  std::map<std::string, link> links_;  // by "host:port"
  cluster_refresh_policy policy_;
  bool timer_armed_ = false;
  bool closed_ = false;
  redis_cluster_counters counters_;
};

}  // namespace corocache::detail
