#include "corocache/detail/redis_link.hpp"

#include <exception>
#include <functional>
#include <mutex>

#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "corocache/error.hpp"

namespace corocache::detail {
namespace {

redis_connection_options connection_options(const redis_settings& s) {
  redis_connection_options options;
  options.endpoint.host = s.address.host;
  options.endpoint.port = s.address.port;
  options.endpoint.unix_path = s.address.unix_path;
  options.endpoint.tls = s.address.tls;
  options.endpoint.sentinel = s.address.sentinel;
  options.endpoint.user = s.address.user;
  options.endpoint.password = s.address.password;
  options.endpoint.db = s.address.db;
  options.connect_timeout = s.connect_timeout;
  options.command_timeout = s.command_timeout;
  options.reconnect_min = s.reconnect_min;
  options.reconnect_max = s.reconnect_max;
  options.health_check_interval = s.health_check_interval;
  options.start_offline = s.allow_start_offline;
  return options;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
  }
  return true;
}

void add(connection_stats& sum, const connection_stats& one) {
  sum.commands_sent += one.commands_sent;
  sum.replies += one.replies;
  sum.timeouts += one.timeouts;
  sum.cancellations += one.cancellations;
  sum.disconnects += one.disconnects;
  sum.reconnects += one.reconnects;
  sum.handshake_failures += one.handshake_failures;
  sum.health_checks += one.health_checks;
  sum.in_flight += one.in_flight;
  for (std::size_t i = 0; i < sum.errors.size(); ++i) sum.errors[i] += one.errors[i];
}

// What the parts of a spread share: their replies, the first error, and the caller to resume
// once the last part is done. Shared with the parts, which may end after the caller's frame.
struct gather {
  explicit gather(std::size_t count) : replies(count), remaining(count) {}
  std::mutex mutex;
  std::vector<redis_reply> replies;
  std::exception_ptr error;
  std::size_t remaining;
  std::function<void()> resume;  // set once the caller waits
};

void part_done(const std::shared_ptr<gather>& state) {
  std::function<void()> resume;
  {
    std::lock_guard lock(state->mutex);
    if (--state->remaining == 0) resume = std::move(state->resume);
  }
  if (resume) resume();
}

// Completes when every part is done, on the caller's executor.
asio::awaitable<void> all_parts_done(std::shared_ptr<gather> state) {
  return asio::async_initiate<const asio::use_awaitable_t<>, void()>(
      [state](auto handler) {
        auto waiting = std::make_shared<decltype(handler)>(std::move(handler));
        std::function<void()> resume = [waiting] {
          const auto executor = asio::get_associated_executor(*waiting);
          asio::post(executor, [waiting] { std::move (*waiting)(); });
        };
        {
          std::lock_guard lock(state->mutex);
          if (state->remaining > 0) {
            state->resume = std::move(resume);
            return;
          }
        }
        resume();
      },
      asio::use_awaitable);
}

// Every command routed on its own, all in flight at once; replies in order.
asio::awaitable<std::vector<redis_reply>> spread(std::shared_ptr<redis_cluster_connection> cluster,
                                                 std::vector<redis_command> commands) {
  auto executor = co_await asio::this_coro::executor;
  const auto count = commands.size();
  auto state = std::make_shared<gather>(count);
  for (std::size_t i = 0; i < count; ++i) {
    auto key = std::string(cluster_routing_key(commands[i]));
    auto part = cluster->execute(std::move(key), std::move(commands[i]));
    auto finished = [state, cluster, i](std::exception_ptr error, redis_reply reply) {
      {
        std::lock_guard lock(state->mutex);
        if (error) {
          if (!state->error) state->error = error;
        } else {
          state->replies[i] = std::move(reply);
        }
      }
      part_done(state);
    };
    asio::co_spawn(executor, std::move(part), std::move(finished));
  }
  if (count > 0) co_await all_parts_done(state);
  std::lock_guard lock(state->mutex);
  if (state->error) std::rethrow_exception(state->error);
  co_return std::move(state->replies);
}

asio::awaitable<void> connect_cluster(std::shared_ptr<redis_cluster_connection> cluster,
                                      bool start_offline) {
  try {
    co_await cluster->connect();
  } catch (const cache_error& e) {
    // Offline start: the first command that finds no master asks for the topology again.
    if (!start_offline || e.error() == errc::shut_down) throw;
  }
}

asio::awaitable<std::vector<std::shared_ptr<redis_connection>>> one_node(
    std::shared_ptr<redis_connection> connection) {
  co_return std::vector<std::shared_ptr<redis_connection>>{std::move(connection)};
}

}  // namespace

std::string_view cluster_routing_key(const redis_command& command) {
  const auto verb = command.argument(0);
  if (equals_ignoring_case(verb, "EVAL") || equals_ignoring_case(verb, "EVALSHA")) {
    const auto keys = command.argument(2);
    return keys.empty() || keys == "0" ? std::string_view{} : command.argument(3);
  }
  return command.argument(1);
}

std::shared_ptr<redis_link> redis_link::create(asio::any_io_executor executor,
                                               const redis_settings& settings) {
  auto options = connection_options(settings);
  if (!settings.address.cluster) {
    const auto& host = settings.address.host;
    auto address = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                   std::to_string(settings.address.port);
    return std::make_shared<redis_link>(redis_connection::create(std::move(executor), options),
                                        settings.redacted_url, std::move(address));
  }
  redis_cluster_options cluster;
  for (const auto& seed : settings.address.cluster->seeds) {
    redis_endpoint endpoint = options.endpoint;
    endpoint.host = seed.host;
    endpoint.port = seed.port;
    cluster.seeds.push_back(std::move(endpoint));
  }
  cluster.node = std::move(options);
  return std::make_shared<redis_link>(
      redis_cluster_connection::create(std::move(executor), std::move(cluster)),
      settings.redacted_url, settings.allow_start_offline);
}

redis_link::redis_link(std::shared_ptr<redis_connection> single, std::string description,
                       std::string address)
    : single_(std::move(single)),
      description_(std::move(description)),
      address_(std::move(address)) {}

redis_link::redis_link(std::shared_ptr<redis_cluster_connection> cluster, std::string description,
                       bool start_offline)
    : cluster_(std::move(cluster)),
      description_(std::move(description)),
      start_offline_(start_offline) {}

asio::awaitable<void> redis_link::connect() {
  if (!cluster_) return single_->connect();
  return connect_cluster(cluster_, start_offline_);
}

asio::awaitable<void> redis_link::close() {
  if (!cluster_) return single_->close();
  return cluster_->close();
}

void redis_link::close_now() noexcept {
  if (cluster_) {
    cluster_->close_now();
  } else {
    single_->close_now();
  }
}

connection_stats redis_link::stats() const {
  if (!cluster_) return single_->stats();
  connection_stats sum;
  for (const auto& node : cluster_->node_connections()) add(sum, node->stats());
  return sum;
}

asio::awaitable<std::vector<redis_reply>> redis_link::execute_spread(
    std::vector<redis_command> commands) {
  if (!cluster_) return single_->execute_batch(std::move(commands));
  return spread(cluster_, std::move(commands));
}

asio::awaitable<std::vector<redis_reply>> redis_link::execute_batch(
    std::vector<redis_command> commands) {
  if (cluster_) {
    throw_error(errc::invalid_argument,
                "redis cluster: a batch of commands may span slots; split it by slot");
  }
  return single_->execute_batch(std::move(commands));
}

asio::awaitable<std::vector<std::shared_ptr<redis_connection>>> redis_link::data_nodes() {
  if (!cluster_) return one_node(single_);
  return cluster_->masters();
}

}  // namespace corocache::detail
