// Configuration of RedisCacheBackend: redis_options, and the parsing of Redis URLs into it.
//
// Accepted URLs (percent-decoding applies to every part):
//   redis://[[user]:password@]host[:port][/db][?parameters]   TCP; port 6379 and db 0 by default
//   unix://[[user]:password@]/path/to/redis.sock[?parameters]  a unix socket; ?db=N selects the db
//   rediss://[[user]:password@]host[:port][/db][?parameters]  TLS over TCP, the same otherwise
//   redis-sentinel://[[user]:password@]host[:port][,host[:port]...][/db]?master=NAME[&parameters]
//     the master NAME that the listed Sentinels (port 26379 by default) point at; the user-info
//     authenticates to the master, sentinel_user= and sentinel_password= to the Sentinels.
//   rediss-sentinel://... the same over TLS: the Sentinels (discovery and the +switch-master
//     subscription) and the master are all reached over TLS with the TLS parameters below; each
//     node's name is checked against its own host (the one in the URL for a Sentinel, the one the
//     Sentinels give for the master) unless sni= names one for all.
//   redis-cluster://[[user]:password@]host[:port][,host[:port]...][?parameters]
//     a Redis Cluster: the listed nodes (port 6379 by default) are only where discovery starts,
//     the topology comes from the cluster. A cluster has no databases: a path or ?db= other than
//     0 is rejected. The user-info authenticates to every node.
// TLS parameters (rediss:// and rediss-sentinel:// only): ca=FILE|DIR (trusted CAs; default the
// system's trust store), cert=FILE and key=FILE (a client certificate for mutual TLS; both or
// neither), sni=NAME (the name sent and verified; default the host), verify=peer|none (none:
// INSECURE, no check of the server's certificate or name; every message about such a connection
// says so). Query parameters: prefix=app: (key prefix), db=N, connect_timeout=500ms,
// command_timeout=1s, reconnect_min=50ms, reconnect_max=2s, health_check_interval=5s (0s disables),
// allow_start_offline=true|false (durations take a unit: ms, s, m, h). Any other parameter is an
// error, so a typo never goes unnoticed. A user needs a non-empty password ("redis://user@host"
// and "redis://user:@host" are rejected as ambiguous). Error messages never show the user-info,
// the path or a parameter's value, any of which may be a password (see backend_url.hpp).
//
// This header and src/redis_options.cpp include no asio, so the URL fuzz target builds with clang.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corocache {

struct backend_url;

/// How a RedisCacheBackend reaches its server and names its keys.
struct redis_options {
  /// Where the server is; query parameters in it override the fields below.
  std::string url = "redis://localhost:6379/0";
  /// Prepended to every key; clear() and invalidate_pattern() touch only keys under it (with an
  /// empty prefix, that is the whole database).
  std::string prefix = "cache:";
  /// Limit on connecting, authenticating and selecting the database.
  std::chrono::milliseconds connect_timeout{1000};
  /// Limit on each command's round trip.
  std::chrono::milliseconds command_timeout{1000};
  /// The first delay of the exponential reconnect backoff after a lost connection.
  std::chrono::milliseconds reconnect_min{50};
  /// The longest delay of the reconnect backoff.
  std::chrono::milliseconds reconnect_max{2000};
  /// A PING is sent when the connection has been idle this long, so that a server that stopped
  /// answering is noticed before the next command waits on it. Zero disables health checks.
  std::chrono::milliseconds health_check_interval{5000};
  /// false: initialize() fails with errc::connection_error when the server cannot be reached.
  /// true: initialize() succeeds without a server and the connection keeps trying in the
  /// background with the usual backoff; operations fail with errc::connection_error until it is up.
  bool allow_start_offline = false;
};

namespace detail {

/// The TLS settings of a rediss:// or rediss-sentinel:// URL.
struct redis_tls_settings {
  std::string ca;      ///< PEM file or hashed directory of trusted CAs; empty: the system's store
  std::string cert;    ///< client certificate chain (PEM) for mutual TLS; empty: none
  std::string key;     ///< its private key (PEM)
  std::string sni;     ///< the server name sent and verified; empty: the host
  bool verify = true;  ///< false (verify=none): the server's certificate is not checked: insecure
};

/// The Sentinels of a redis[s]-sentinel:// URL, asked for the master's address on every connect.
struct redis_sentinel_settings {
  struct endpoint {
    std::string host;
    std::uint16_t port = 26379;
  };
  std::vector<endpoint> sentinels;      ///< in the URL's order; tried in turn
  std::string master_name;              ///< ?master=
  std::string user;                     ///< ?sentinel_user= (needs sentinel_password=)
  std::optional<std::string> password;  ///< ?sentinel_password=: AUTH to every Sentinel
};

/// The seed nodes of a redis-cluster:// URL, where the discovery of the cluster starts.
struct redis_cluster_settings {
  struct endpoint {
    std::string host;
    std::uint16_t port = 6379;
  };
  std::vector<endpoint> seeds;  ///< in the URL's order; tried in turn
};

/// A Redis server's address and credentials, as a URL gives them.
struct redis_address {
  std::string host = "localhost";
  std::uint16_t port = 6379;
  std::string unix_path;  ///< non-empty: connect to this unix socket instead of host:port
  std::string user;       ///< ACL user; empty: the default user
  std::optional<std::string> password;
  int db = 0;
  std::optional<redis_tls_settings> tls;  ///< set for rediss:// and rediss-sentinel://
  /// Set for redis[s]-sentinel://: host and port are then unused, the Sentinels give the master's.
  std::optional<redis_sentinel_settings> sentinel;
  /// Set for redis-cluster://: host and port are then the first seed.
  std::optional<redis_cluster_settings> cluster;
};

/// redis_options checked and resolved: the URL parsed, its query parameters applied.
struct redis_settings {
  redis_address address;
  std::string prefix;
  std::chrono::milliseconds connect_timeout{};
  std::chrono::milliseconds command_timeout{};
  std::chrono::milliseconds reconnect_min{};
  std::chrono::milliseconds reconnect_max{};
  std::chrono::milliseconds health_check_interval{};  ///< zero: no health checks
  bool allow_start_offline = false;  ///< initialize() succeeds without a reachable server
  /// "redis[s]://[***@]host:port/db", "unix://[***@]/path?db=N" or
  /// "redis[s]-sentinel://[***@]host:port,host:port/db", for messages: no user-info, no parameter
  /// values ("?verify=none (insecure)" is shown, the others are not).
  std::string redacted_url;
};

/// Parses `options.url` and applies its query parameters over the other fields. Throws
/// cache_error: errc::invalid_argument for a malformed URL, an unknown parameter or a bad value.
[[nodiscard]] redis_settings resolve_redis_options(const redis_options& options);

/// The same for an already parsed URL; `defaults` gives the fields the URL does not set (its url
/// is ignored). The registry's factories use this one.
[[nodiscard]] redis_settings resolve_redis_url(const backend_url& url,
                                               const redis_options& defaults);

}  // namespace detail
}  // namespace corocache
