// redis_cluster: a private Redis Cluster for one test executable: 3 masters + 3 replicas of
// Debian's redis-server on free loopback ports, formed with `redis-cli --cluster create`.
//
// Each node is a redis_server (its own temp dir holds its nodes.conf, persistence is off) started
// with cluster mode on, a short cluster-node-timeout, and cluster-require-full-coverage off, so
// that the surviving masters keep serving while one shard fails over. The constructor returns
// once every node reports cluster_state:ok and sees every slot served by a master with a replica;
// the destructor kills every node. Forming a cluster takes seconds: create one per executable.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "corocache/detail/cluster_slot_map.hpp"
#include "corocache/detail/redis_reply.hpp"
#include "support/redis_server.hpp"

namespace corocache::test {

class redis_cluster {
 public:
  struct options {
    std::chrono::milliseconds node_timeout{1000};  // cluster-node-timeout
    std::chrono::seconds form_timeout{60};         // creating the cluster and waiting for it
  };

  /// Starts the six nodes and forms the cluster; throws std::runtime_error on failure or timeout.
  redis_cluster() : redis_cluster(options{}) {}
  explicit redis_cluster(options opts);
  ~redis_cluster();
  redis_cluster(const redis_cluster&) = delete;
  redis_cluster& operator=(const redis_cluster&) = delete;

  [[nodiscard]] std::size_t size() const noexcept { return nodes_.size(); }
  /// Node `i` (0..size()-1): kill, pause, resume, restart it through redis_server.
  [[nodiscard]] redis_server& node(std::size_t i) { return *nodes_.at(i); }
  [[nodiscard]] std::uint16_t port(std::size_t i) const { return nodes_.at(i)->port(); }
  /// The index of the node listening on `port`; size() when none does.
  [[nodiscard]] std::size_t index_of(std::uint16_t port) const;
  [[nodiscard]] std::chrono::milliseconds node_timeout() const { return options_.node_timeout; }

  /// Sends one command to node `i` over a fresh blocking connection (1 s timeouts); a connection
  /// failure gives an error reply whose message starts with "connection:".
  [[nodiscard]] detail::redis_reply command(std::size_t i,
                                            const std::vector<std::string>& args) const;
  /// Node i's CLUSTER SLOTS, read into a slot map (throws when the reply is not one).
  [[nodiscard]] detail::cluster_slot_map slot_map(std::size_t i) const;

  /// Waits until every running node (a paused one never answers) reports cluster_state:ok and a map
  /// with every slot served and `replicas_per_master` replicas known per master; false on timeout.
  [[nodiscard]] bool wait_until_stable(std::chrono::milliseconds timeout,
                                       std::size_t replicas_per_master = 1) const;

 private:
  void create();
  [[nodiscard]] bool stable(std::size_t i, std::size_t replicas_per_master) const;

  options options_;
  std::string dir_;  // redis-cli's log
  std::vector<std::unique_ptr<redis_server>> nodes_;
};

/// The executable's cluster, formed at the first call and killed at exit: every test of an
/// executable shares it (forming one takes seconds).
[[nodiscard]] redis_cluster& shared_redis_cluster();

}  // namespace corocache::test
