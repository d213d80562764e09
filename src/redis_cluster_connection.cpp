#include "corocache/detail/redis_cluster_connection.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>

#include "corocache/detail/cluster_redirect.hpp"
#include "corocache/detail/cluster_slot.hpp"
#include "corocache/error.hpp"

namespace corocache::detail {
namespace {

using clock = std::chrono::steady_clock;

cluster_node node_of(const redis_endpoint& endpoint) {
  return {endpoint.host, endpoint.port, {}};
}

std::string seeds_description(const std::vector<redis_endpoint>& seeds) {
  std::string text;
  for (const auto& seed : seeds) text += (text.empty() ? "" : ",") + seed.description();
  return text;
}

asio::awaitable<void> pause_for(std::chrono::milliseconds delay) {
  asio::steady_timer timer(co_await asio::this_coro::executor, delay);
  co_await timer.async_wait(asio::use_awaitable);
}

}  // namespace

std::shared_ptr<redis_cluster_connection> redis_cluster_connection::create(
    asio::any_io_executor executor, redis_cluster_options options) {
  if (options.seeds.empty()) throw_error(errc::invalid_argument, "redis cluster: no seed node");
  if (options.node.endpoint.db != 0) {
    throw_error(errc::invalid_argument, "redis cluster: a cluster has no databases (db must be 0)");
  }
  return std::make_shared<redis_cluster_connection>(private_tag{}, std::move(executor),
                                                    std::move(options));
}

redis_cluster_connection::redis_cluster_connection(private_tag, asio::any_io_executor executor,
                                                   redis_cluster_options options)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      policy_(options_.refresh_min_interval) {}

redis_cluster_connection::~redis_cluster_connection() {
  close_now();
}

void redis_cluster_connection::close_now() noexcept {
  // The links stay (closed) so that their counters can still be read.
  for (const auto& connection : node_connections()) connection->close_now();
  std::lock_guard lock(mutex_);
  closed_ = true;
}

std::vector<std::shared_ptr<redis_connection>> redis_cluster_connection::node_connections() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<redis_connection>> connections;
  connections.reserve(links_.size());
  for (const auto& [name, node] : links_) connections.push_back(node.connection);
  return connections;
}

asio::awaitable<std::vector<std::shared_ptr<redis_connection>>>
redis_cluster_connection::masters() {
  std::vector<cluster_node> nodes;
  {
    std::lock_guard lock(mutex_);
    for (const auto& shard : map_.shards()) nodes.push_back(shard.master);
  }
  std::vector<std::shared_ptr<redis_connection>> connections;
  for (const auto& node : nodes) connections.push_back(co_await connection_to(node));
  co_return connections;
}

asio::awaitable<void> redis_cluster_connection::close() {
  close_now();
  asio::steady_timer timer(executor_);
  for (int i = 0; i < 400; ++i) {
    {
      std::lock_guard lock(mutex_);
      if (!policy_.in_flight() && !timer_armed_) co_return;
    }
    timer.expires_after(std::chrono::milliseconds(5));
    co_await timer.async_wait(asio::use_awaitable);
  }
}

cluster_slot_map redis_cluster_connection::slot_map() const {
  std::lock_guard lock(mutex_);
  return map_;
}

redis_cluster_counters redis_cluster_connection::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

asio::awaitable<std::shared_ptr<redis_connection>> redis_cluster_connection::connection_to(
    cluster_node node) {
  const auto name = node.description();
  std::shared_ptr<redis_connection> connection;
  {
    std::lock_guard lock(mutex_);
    if (closed_) throw_error(errc::shut_down, "redis cluster: closed");
    auto& entry = links_[name];
    if (!entry.connection) {
      auto options = options_.node;
      options.endpoint.host = node.host;
      options.endpoint.port = node.port;
      options.endpoint.unix_path.clear();
      entry.connection = redis_connection::create(executor_, std::move(options));
      ++counters_.nodes;
    }
    if (entry.connected) co_return entry.connection;
    connection = entry.connection;
  }
  // Concurrent callers may all wait for the same first connect: the connection lets them.
  co_await connection->connect();
  std::lock_guard lock(mutex_);
  if (auto it = links_.find(name); it != links_.end()) it->second.connected = true;
  co_return connection;
}

asio::awaitable<bool> redis_cluster_connection::read_topology(cluster_node node) {
  try {
    auto connection = co_await connection_to(node);
    redis_command command{"CLUSTER", "SLOTS"};
    const auto reply = co_await connection->execute(std::move(command));
    auto map = cluster_slot_map::from_cluster_slots(reply, node.host, node.description());
    if (map.covered_slots() == 0) co_return false;
    std::lock_guard lock(mutex_);
    map_ = std::move(map);
    ++counters_.refreshes;
    co_return true;
  } catch (const cache_error& e) {
    if (e.error() == errc::shut_down) throw;
    co_return false;
  }
}

asio::awaitable<void> redis_cluster_connection::connect() {
  for (const auto& seed : options_.seeds) {
    if (co_await read_topology(node_of(seed))) co_return;
  }
  throw_error(errc::connection_error, "redis cluster: no seed answered with the cluster's slots (" +
                                          seeds_description(options_.seeds) + ")");
}

std::vector<cluster_node> redis_cluster_connection::refresh_sources() const {
  std::lock_guard lock(mutex_);
  std::vector<cluster_node> sources;
  for (const auto& shard : map_.shards()) sources.push_back(shard.master);
  for (const auto& seed : options_.seeds) sources.push_back(node_of(seed));
  return sources;
}

asio::awaitable<void> redis_cluster_connection::refresh() {
  bool ok = false;
  try {
    for (const auto& node : refresh_sources()) {
      if ((ok = co_await read_topology(node))) break;
    }
  } catch (const cache_error&) {
    // Closed meanwhile.
  }
  std::optional<cluster_refresh_policy::time_point> due;
  {
    std::lock_guard lock(mutex_);
    policy_.finished(ok);
    due = policy_.due();
    if (due && !timer_armed_ && !closed_) {
      timer_armed_ = true;
    } else {
      due.reset();
    }
  }
  if (due) co_await refresh_when_due(*due);
}

asio::awaitable<void> redis_cluster_connection::refresh_when_due(
    cluster_refresh_policy::time_point due) {
  asio::steady_timer timer(executor_, due);
  co_await timer.async_wait(asio::use_awaitable);
  bool start = false;
  {
    std::lock_guard lock(mutex_);
    timer_armed_ = false;
    start = !closed_ && policy_.on_timer(clock::now());
  }
  if (start) co_await refresh();
}

void redis_cluster_connection::request_refresh() {
  bool start = false;
  std::optional<cluster_refresh_policy::time_point> due;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    start = policy_.request(clock::now());
    if (!start && policy_.due() && !timer_armed_) {
      timer_armed_ = true;
      due = policy_.due();
    }
  }
  auto self = shared_from_this();
  if (start) {
    auto run = [self]() -> asio::awaitable<void> { co_await self->refresh(); };
    asio::co_spawn(executor_, run, asio::detached);
  } else if (due) {
    auto run = [self, when = *due]() -> asio::awaitable<void> {
      co_await self->refresh_when_due(when);
    };
    asio::co_spawn(executor_, run, asio::detached);
  }
}

asio::awaitable<redis_reply> redis_cluster_connection::execute(std::string key,
                                                               redis_command command) {
  const auto slot = cluster_key_slot(key);
  const auto timeout = options_.node.command_timeout;
  const auto deadline = clock::now() + timeout;
  auto delay = options_.retry_delay;
  std::optional<cluster_node> ask_target;
  int redirects = 0;
  for (;;) {
    const auto ask = std::exchange(ask_target, std::nullopt);
    cluster_node target;
    if (ask) {
      target = *ask;
    } else {
      std::lock_guard lock(mutex_);
      if (closed_) throw_error(errc::shut_down, "redis cluster: closed");
      const auto* master = map_.master_for(slot);
      if (master == nullptr) {
        // Released before request_refresh() locks again.
        target.port = 0;
      } else {
        target = *master;
      }
    }
    if (target.port == 0) {
      request_refresh();
      throw_error(errc::connection_error,
                  "redis cluster: no known master serves slot " + std::to_string(slot));
    }
    redis_reply reply;
    try {
      auto connection = co_await connection_to(target);
      if (ask) {
        std::vector<redis_command> batch;
        batch.emplace_back(redis_command{"ASKING"});
        batch.push_back(command);
        auto replies = co_await connection->execute_batch(std::move(batch));
        reply = std::move(replies.back());
      } else {
        reply = co_await connection->execute(command);
      }
    } catch (const cache_error& e) {
      if (e.error() == errc::connection_error || e.error() == errc::timeout) request_refresh();
      throw;
    }
    if (reply.type != redis_reply::kind::error) co_return reply;
    const auto redirect = parse_cluster_error(reply.str);
    if (!redirect) co_return reply;
    using kind = cluster_redirect::kind;
    if (redirect->what == kind::malformed) {
      throw_error(errc::protocol_error,
                  "redis cluster: " + target.description() + " sent a malformed redirect");
    }
    if (redirect->retry_later()) {
      if (timeout.count() > 0 && clock::now() + delay >= deadline) co_return reply;
      {
        std::lock_guard lock(mutex_);
        ++counters_.retries;
      }
      co_await pause_for(delay);
      delay *= 2;
      continue;
    }
    if (++redirects > options_.max_redirects) {
      throw_error(errc::server_error, "redis cluster: more than " +
                                          std::to_string(options_.max_redirects) +
                                          " redirects for slot " + std::to_string(slot));
    }
    cluster_node next{redirect->host.empty() ? target.host : redirect->host, redirect->port, {}};
    if (redirect->what == kind::ask) {
      std::lock_guard lock(mutex_);
      ++counters_.ask;
      ask_target = std::move(next);
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      ++counters_.moved;
      map_.assign(redirect->slot, next);
    }
    request_refresh();
  }
}

}  // namespace corocache::detail
