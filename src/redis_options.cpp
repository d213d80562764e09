// Resolution of redis_options: URL parsing and parameter checks. No asio here: the URL fuzz target
// builds this file with clang.
#include "corocache/redis_options.hpp"

#include <charconv>
#include <limits>

#include <fmt/format.h>

#include "corocache/backend_url.hpp"
#include "corocache/error.hpp"

namespace corocache::detail {
namespace {

[[noreturn]] void fail(const backend_url& url, std::string_view why) {
  throw_error(errc::invalid_argument, fmt::format("Redis URL \"{}\": {}", url.redacted(), why));
}

// The database number in a "/N" path; nullopt for "" and "/".
std::optional<int> db_from_path(const backend_url& url) {
  std::string_view path = url.path;
  if (path.empty() || path == "/") return std::nullopt;
  path.remove_prefix(1);
  int db = 0;
  const auto* end = path.data() + path.size();
  const auto result = std::from_chars(path.data(), end, db);
  if (result.ec != std::errc{} || result.ptr != end || db < 0)
    fail(url, "the path must be a database number such as /0");  // not echoed: may be a password
  return db;
}

void check_positive(const backend_url& url, std::string_view name,
                    std::chrono::milliseconds value) {
  if (value.count() <= 0)
    fail(url, fmt::format("{} must be positive, got {}ms", name, value.count()));
}

bool is_sentinel_scheme(std::string_view scheme) {
  return scheme == "redis-sentinel" || scheme == "rediss-sentinel";
}

redis_address address_of(const backend_url& url, url_parameters& parameters) {
  redis_address address;
  address.user = url.user;
  address.password = url.password;
  // "redis://user@host" and "redis://user:@host" are ambiguous (some clients read the user as a
  // password): ask for the explicit form.
  if (!address.user.empty() && !address.password)
    fail(url, "a user needs a password: write redis://user:password@host");
  if (address.password && address.password->empty())
    fail(url, "the password is empty: write redis://user:password@host, or no user-info at all");

  std::optional<int> path_db;
  if (!is_sentinel_scheme(url.scheme) && url.scheme != "redis-cluster" && !url.more_hosts.empty())
    fail(url,
         "only redis-sentinel://, rediss-sentinel:// and redis-cluster:// take a list of hosts");
  if (url.scheme == "unix") {
    if (!url.host.empty() || url.port)
      fail(url, "a unix socket URL has no host or port: write unix:///path/to/redis.sock");
    if (url.path.empty() || url.path == "/") fail(url, "the socket path is missing");
    address.unix_path = url.path;
  } else {
    if (!url.host.empty()) address.host = url.host;
    if (url.port) address.port = *url.port;
    path_db = db_from_path(url);
  }

  if (const auto query_db = parameters.take_unsigned("db")) {
    if (path_db) fail(url, "the database is given both in the path and as ?db=");
    if (*query_db > static_cast<std::uint64_t>(std::numeric_limits<int>::max()))
      fail(url, "the database number is too large");
    address.db = static_cast<int>(*query_db);
  } else if (path_db) {
    address.db = *path_db;
  }
  return address;
}

// ca=, cert=, key=, sni= and verify= of a rediss:// or rediss-sentinel:// URL; on any other
// scheme they are unknown parameters. Values are never echoed: a password may have been written
// as one.
std::optional<redis_tls_settings> tls_of(const backend_url& url, url_parameters& parameters) {
  if (url.scheme != "rediss" && url.scheme != "rediss-sentinel") return std::nullopt;
  redis_tls_settings tls;
  tls.ca = parameters.take("ca").value_or("");
  tls.cert = parameters.take("cert").value_or("");
  tls.key = parameters.take("key").value_or("");
  tls.sni = parameters.take("sni").value_or("");
  if (const auto verify = parameters.take("verify")) {
    if (*verify != "peer" && *verify != "none") fail(url, "verify must be peer or none");
    tls.verify = *verify == "peer";
  }
  if (tls.cert.empty() != tls.key.empty())
    fail(url, "a client certificate needs both cert= and key=");
  return tls;
}

// master=, sentinel_user= and sentinel_password= of a redis-sentinel:// or rediss-sentinel://
// URL, and its host list; on any other scheme they are unknown parameters. Values are never
// echoed.
std::optional<redis_sentinel_settings> sentinel_of(const backend_url& url,
                                                   url_parameters& parameters) {
  if (!is_sentinel_scheme(url.scheme)) return std::nullopt;
  redis_sentinel_settings sentinel;
  if (url.host.empty()) fail(url, "the Sentinels' host:port list is missing");
  sentinel.sentinels.push_back({url.host, url.port.value_or(26379)});
  for (const auto& [host, port] : url.more_hosts)
    sentinel.sentinels.push_back({host, port.value_or(std::uint16_t{26379})});
  sentinel.master_name = parameters.take("master").value_or("");
  if (sentinel.master_name.empty()) fail(url, "?master=NAME (the monitored master) is required");
  sentinel.user = parameters.take("sentinel_user").value_or("");
  sentinel.password = parameters.take("sentinel_password");
  if (!sentinel.user.empty() && !sentinel.password)
    fail(url, "sentinel_user= needs sentinel_password=");
  if (sentinel.password && sentinel.password->empty()) fail(url, "sentinel_password= is empty");
  return sentinel;
}

// The seed list of a redis-cluster:// URL; a cluster has no databases, so only db 0 passes.
std::optional<redis_cluster_settings> cluster_of(const backend_url& url,
                                                 const redis_address& address) {
  if (url.scheme != "redis-cluster") return std::nullopt;
  if (url.host.empty()) fail(url, "the seed nodes' host:port list is missing");
  if (address.db != 0)
    fail(url, "Redis Cluster has no databases: remove the /N path or ?db= (only 0 is allowed)");
  redis_cluster_settings cluster;
  cluster.seeds.push_back({url.host, url.port.value_or(6379)});
  for (const auto& [host, port] : url.more_hosts)
    cluster.seeds.push_back({host, port.value_or(std::uint16_t{6379})});
  return cluster;
}

std::string host_list(const auto& endpoints) {
  std::string hosts;
  for (const auto& s : endpoints) {
    const bool ipv6 = s.host.find(':') != std::string::npos;
    hosts += fmt::format("{}{}{}{}:{}", hosts.empty() ? "" : ",", ipv6 ? "[" : "", s.host,
                         ipv6 ? "]" : "", s.port);
  }
  return hosts;
}

// The resolved endpoint as a URL for messages: the user-info masked, the database from the path or
// ?db=, no other parameter.
std::string describe(const backend_url& url, const redis_address& address) {
  const std::string_view credentials = url.user.empty() && !url.password ? "" : "***@";
  if (!address.unix_path.empty())
    return fmt::format("unix://{}{}?db={}", credentials, address.unix_path, address.db);
  const bool insecure = address.tls && !address.tls->verify;
  if (address.sentinel) {
    return fmt::format("{}://{}{}/{}{}", address.tls ? "rediss-sentinel" : "redis-sentinel",
                       credentials, host_list(address.sentinel->sentinels), address.db,
                       insecure ? "?verify=none (insecure)" : "");
  }
  if (address.cluster)
    return fmt::format("redis-cluster://{}{}", credentials, host_list(address.cluster->seeds));
  const bool ipv6 = address.host.find(':') != std::string::npos;
  return fmt::format("{}://{}{}{}{}:{}/{}{}", address.tls ? "rediss" : "redis", credentials,
                     ipv6 ? "[" : "", address.host, ipv6 ? "]" : "", address.port, address.db,
                     insecure ? "?verify=none (insecure)" : "");
}

}  // namespace

redis_settings resolve_redis_options(const redis_options& options) {
  return resolve_redis_url(backend_url::parse(options.url), options);
}

redis_settings resolve_redis_url(const backend_url& url, const redis_options& defaults) {
  if (url.scheme != "redis" && url.scheme != "rediss" && url.scheme != "unix" &&
      !is_sentinel_scheme(url.scheme) && url.scheme != "redis-cluster")
    fail(url,
         "the scheme must be redis://, rediss://, unix://, redis-sentinel://, rediss-sentinel:// "
         "or redis-cluster://");

  url_parameters parameters(url);
  redis_settings settings;
  settings.address = address_of(url, parameters);
  settings.address.tls = tls_of(url, parameters);
  settings.address.sentinel = sentinel_of(url, parameters);
  settings.address.cluster = cluster_of(url, settings.address);
  settings.prefix = parameters.take("prefix").value_or(defaults.prefix);
  settings.connect_timeout =
      parameters.take_duration("connect_timeout").value_or(defaults.connect_timeout);
  settings.command_timeout =
      parameters.take_duration("command_timeout").value_or(defaults.command_timeout);
  settings.reconnect_min =
      parameters.take_duration("reconnect_min").value_or(defaults.reconnect_min);
  settings.reconnect_max =
      parameters.take_duration("reconnect_max").value_or(defaults.reconnect_max);
  settings.health_check_interval =
      parameters.take_duration("health_check_interval").value_or(defaults.health_check_interval);
  settings.allow_start_offline =
      parameters.take_bool("allow_start_offline").value_or(defaults.allow_start_offline);
  parameters.reject_unknown();

  check_positive(url, "connect_timeout", settings.connect_timeout);
  check_positive(url, "command_timeout", settings.command_timeout);
  check_positive(url, "reconnect_min", settings.reconnect_min);
  if (settings.reconnect_max < settings.reconnect_min)
    fail(url, "reconnect_max must not be below reconnect_min");
  if (settings.health_check_interval.count() < 0)
    fail(url, "health_check_interval must not be negative (0 disables health checks)");
  settings.redacted_url = describe(url, settings.address);
  return settings;
}

}  // namespace corocache::detail
