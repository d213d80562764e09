#include "support/redis_sentinel.hpp"

#include <sys/time.h>

#include <charconv>
#include <stdexcept>
#include <thread>

#include <hiredis/hiredis.h>

#include "support/hiredis_blocking_reply.hpp"
#include "support/redis_tls.hpp"

namespace corocache::test {
namespace {

using kind = detail::redis_reply::kind;

detail::redis_reply run(redisContext* context, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  for (const auto& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data()));
  if (reply == nullptr) return error_reply(std::string("connection: ") + context->errstr);
  auto result = to_reply(*reply);
  freeReplyObject(reply);
  return result;
}

detail::redis_reply exchange(redisContext* context, const std::vector<std::string>& args,
                             const std::string& password) {
  const timeval timeout{1, 0};
  if (context == nullptr || context->err != 0) {
    std::string why = context == nullptr ? "out of memory" : context->errstr;
    if (context != nullptr) redisFree(context);
    return error_reply("connection: " + why);
  }
  redisSetTimeout(context, timeout);
  detail::redis_reply result;
  if (!password.empty()) result = run(context, {"AUTH", password});
  if (result.type != kind::error) result = run(context, args);
  redisFree(context);
  return result;
}

std::size_t array_size(const detail::redis_reply& reply) {
  return reply.type == kind::array ? reply.elements.size() : 0;
}

}  // namespace

redis_sentinel_group::redis_sentinel_group(options opts) : options_(std::move(opts)) {
  std::vector<std::string> data_config{"repl-diskless-sync yes", "repl-diskless-sync-delay 0"};
  const bool tls = options_.tls != nullptr;
  if (tls) {
    const auto lines = options_.tls->node_config();
    data_config.insert(data_config.end(), lines.begin(), lines.end());
  }
  if (!options_.data_password.empty()) {
    data_config.push_back("requirepass " + options_.data_password);
    data_config.push_back("masterauth " + options_.data_password);
  }
  auto master_config = data_config;
  master_config.insert(master_config.end(), options_.master_config.begin(),
                       options_.master_config.end());
  data_.push_back(
      std::make_unique<redis_server>(redis_server::options{.tls = tls, .config = master_config}));
  auto replica_config = data_config;
  replica_config.push_back("replicaof 127.0.0.1 " + std::to_string(data_[0]->port()));
  data_.push_back(
      std::make_unique<redis_server>(redis_server::options{.tls = tls, .config = replica_config}));

  const auto& name = options_.master_name;
  std::vector<std::string> sentinel_config{
      "sentinel monitor " + name + " 127.0.0.1 " + std::to_string(data_[0]->port()) + " 2",
      "sentinel down-after-milliseconds " + name + " " +
          std::to_string(options_.down_after.count()),
      "sentinel failover-timeout " + name + " " + std::to_string(options_.failover_timeout.count()),
      "sentinel parallel-syncs " + name + " 1",
  };
  if (!options_.data_password.empty())
    sentinel_config.push_back("sentinel auth-pass " + name + " " + options_.data_password);
  if (!options_.sentinel_password.empty()) {
    sentinel_config.push_back("requirepass " + options_.sentinel_password);
    sentinel_config.push_back("sentinel sentinel-pass " + options_.sentinel_password);
  }
  // The replica must be attached before the sentinels start: a sentinel learns of replicas from
  // the master's INFO, which it asks for at once and then only every 10 s.
  const auto deadline = std::chrono::steady_clock::now() + options_.ready_timeout;
  while (command(*data_[1], {"INFO", "replication"}, options_.data_password)
             .str.find("master_link_status:up") == std::string::npos) {
    if (std::chrono::steady_clock::now() >= deadline)
      throw std::runtime_error("redis_sentinel_group: the replica did not sync in time");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (std::size_t i = 0; i < sentinel_count; ++i) {
    auto config = sentinel_config;
    if (tls) {
      const auto lines = options_.tls->node_config(i == 0 && options_.untrusted_first_sentinel);
      config.insert(config.end(), lines.begin(), lines.end());
    }
    sentinels_.push_back(std::make_unique<redis_server>(
        redis_server::options{.tls = tls, .config = config, .sentinel = true}));
  }
  wait_until_ready();
}

redis_sentinel_group::~redis_sentinel_group() = default;

std::string redis_sentinel_group::sentinel_hosts() const {
  std::string hosts;
  for (const auto& s : sentinels_) {
    hosts += (hosts.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(s->port());
  }
  return hosts;
}

detail::redis_reply redis_sentinel_group::command(std::uint16_t port,
                                                  const std::vector<std::string>& args,
                                                  const std::string& password) {
  const timeval timeout{1, 0};
  return exchange(redisConnectWithTimeout("127.0.0.1", port, timeout), args, password);
}

detail::redis_reply redis_sentinel_group::command(const redis_server& server,
                                                  const std::vector<std::string>& args,
                                                  const std::string& password) {
  if (server.unix_path().empty()) return command(server.port(), args, password);
  const timeval timeout{1, 0};
  return exchange(redisConnectUnixWithTimeout(server.unix_path().c_str(), timeout), args, password);
}

const redis_server& redis_sentinel_group::node_on(std::uint16_t port) const {
  for (const auto& node : data_) {
    if (node->port() == port) return *node;
  }
  throw std::runtime_error("redis_sentinel_group: no data node on port " + std::to_string(port));
}

std::string redis_sentinel_group::role_of(std::uint16_t port) const {
  const auto reply = command(node_on(port), {"ROLE"}, options_.data_password);
  if (array_size(reply) == 0 || reply.elements[0].type != kind::string) return "";
  return reply.elements[0].str;
}

std::uint16_t redis_sentinel_group::master_port_seen_by(std::size_t i) const {
  const auto reply =
      command(*sentinels_.at(i), {"SENTINEL", "get-master-addr-by-name", options_.master_name},
              options_.sentinel_password);
  if (array_size(reply) != 2) return 0;
  unsigned port = 0;
  const auto& text = reply.elements[1].str;
  std::from_chars(text.data(), text.data() + text.size(), port);
  return static_cast<std::uint16_t>(port);
}

bool redis_sentinel_group::sentinel_ready(std::size_t i) const {
  const auto& name = options_.master_name;
  const auto& password = options_.sentinel_password;
  return master_port_seen_by(i) == data_[0]->port() &&
         array_size(command(*sentinels_[i], {"SENTINEL", "replicas", name}, password)) == 1 &&
         array_size(command(*sentinels_[i], {"SENTINEL", "sentinels", name}, password)) ==
             sentinel_count - 1;
}

void redis_sentinel_group::wait_until_ready() const {
  const auto deadline = std::chrono::steady_clock::now() + options_.ready_timeout;
  for (std::size_t i = 0; i < sentinel_count; ++i) {
    while (!sentinel_ready(i)) {
      if (std::chrono::steady_clock::now() >= deadline) {
        throw std::runtime_error("redis_sentinel_group: sentinel on port " +
                                 std::to_string(sentinel_port(i)) +
                                 " did not see the master, replica and other sentinels in time");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

std::uint16_t redis_sentinel_group::wait_for_failover(std::uint16_t old_port,
                                                      std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::uint16_t agreed = 0;
    bool all = true;
    for (std::size_t i = 0; i < sentinel_count && all; ++i) {
      if (!sentinels_[i]->running()) continue;
      const auto port = master_port_seen_by(i);
      all = port != 0 && port != old_port && (agreed == 0 || port == agreed);
      agreed = port;
    }
    if (all && agreed != 0 && role_of(agreed) == "master") return agreed;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return 0;
}

}  // namespace corocache::test
