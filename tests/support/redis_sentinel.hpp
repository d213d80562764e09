// redis_sentinel_group: a private Sentinel deployment for one test: a master, one replica and
// three sentinels (quorum 2) of Debian's redis-server, each a redis_server on a free loopback port
// with persistence off.
//
// With options::tls, every node serves TLS only (port 0, tls-port), the replica replicates and the
// sentinels reach the nodes and each other over TLS, and every node requires a client
// certificate; the harness itself talks to them over their unix sockets.
//
// The constructor returns once the replica's link to the master is up and every sentinel knows
// the replica and the two other sentinels, so that a failover can start as soon as the master
// fails. Sentinels run with a short down-after-milliseconds and failover-timeout so that a
// failover completes in seconds. The destructor kills every process.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "corocache/detail/redis_reply.hpp"
#include "support/redis_server.hpp"

namespace corocache::test {

class tls_certificates;

class redis_sentinel_group {
 public:
  struct options {
    std::string master_name = "mymaster";
    std::chrono::milliseconds down_after{400};         // sentinel down-after-milliseconds
    std::chrono::milliseconds failover_timeout{2000};  // sentinel failover-timeout
    std::string data_password;      // requirepass of master and replica (and their masterauth)
    std::string sentinel_password;  // requirepass of the sentinels
    std::vector<std::string> master_config;  // extra configuration lines of data node 0 only
    std::chrono::seconds ready_timeout{30};
    /// Not null: TLS everywhere, with these certificates (tls_certificates::node_config).
    const tls_certificates* tls = nullptr;
    /// With tls: sentinel 0 presents a certificate from the CA clients do not trust.
    bool untrusted_first_sentinel = false;
  };

  /// Starts the five processes and waits until the sentinels are ready to fail over; throws
  /// std::runtime_error on failure or timeout.
  redis_sentinel_group() : redis_sentinel_group(options{}) {}
  explicit redis_sentinel_group(options opts);
  ~redis_sentinel_group();
  redis_sentinel_group(const redis_sentinel_group&) = delete;
  redis_sentinel_group& operator=(const redis_sentinel_group&) = delete;

  static constexpr std::size_t sentinel_count = 3;

  [[nodiscard]] const options& settings() const noexcept { return options_; }
  /// Data node 0 is the master at start, data node 1 its replica: kill, pause (SIGSTOP), resume
  /// them through redis_server.
  [[nodiscard]] redis_server& data_node(std::size_t i) { return *data_.at(i); }
  [[nodiscard]] redis_server& sentinel(std::size_t i) { return *sentinels_.at(i); }
  [[nodiscard]] std::uint16_t sentinel_port(std::size_t i) const {
    return sentinels_.at(i)->port();
  }
  /// "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3": the host list of a redis-sentinel:// URL.
  [[nodiscard]] std::string sentinel_hosts() const;

  /// Sends one command to 127.0.0.1:`port` over a fresh blocking connection (1 s timeouts),
  /// authenticating first with `password` when not empty; a connection failure gives an error
  /// reply whose message starts with "connection:".
  [[nodiscard]] static detail::redis_reply command(std::uint16_t port,
                                                   const std::vector<std::string>& args,
                                                   const std::string& password = "");
  /// The same to `server`, over its unix socket when it has one (a TLS-only server has no
  /// plain TCP port).
  [[nodiscard]] static detail::redis_reply command(const redis_server& server,
                                                   const std::vector<std::string>& args,
                                                   const std::string& password = "");
  /// The first element of the node's ROLE reply ("master", "slave"); "" when it does not answer.
  [[nodiscard]] std::string role_of(std::uint16_t port) const;
  /// The master port sentinel `i` reports; 0 when it does not answer or knows no master.
  [[nodiscard]] std::uint16_t master_port_seen_by(std::size_t i) const;

  /// Waits until every running sentinel reports a master other than `old_port`, and that node
  /// answers ROLE as master. Returns its port, or 0 when `timeout` passed first.
  [[nodiscard]] std::uint16_t wait_for_failover(std::uint16_t old_port,
                                                std::chrono::milliseconds timeout) const;

 private:
  void wait_until_ready() const;
  [[nodiscard]] const redis_server& node_on(std::uint16_t port) const;
  [[nodiscard]] bool sentinel_ready(std::size_t i) const;

  options options_;
  std::vector<std::unique_ptr<redis_server>> data_;
  std::vector<std::unique_ptr<redis_server>> sentinels_;
};

}  // namespace corocache::test
