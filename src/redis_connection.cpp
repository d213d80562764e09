// Placeholder so the agreed API links while the implementation is written.
#include "corocache/detail/redis_connection.hpp"

#include <asio/this_coro.hpp>

#include "corocache/error.hpp"

namespace corocache::detail {

std::string redis_endpoint::description() const {
  if (!unix_path.empty()) return "unix:" + unix_path;
  return host + ":" + std::to_string(port);
}

class redis_connection_core {};

redis_connection::redis_connection(private_tag, std::shared_ptr<redis_connection_core> core)
    : core_(std::move(core)) {}
redis_connection::~redis_connection() = default;

std::shared_ptr<redis_connection> redis_connection::create(asio::any_io_executor,
                                                           redis_connection_options) {
  return std::make_shared<redis_connection>(private_tag{}, nullptr);
}

asio::awaitable<void> redis_connection::connect() {
  throw_error(errc::unsupported, "redis_connection: not implemented yet");
  co_return;
}
asio::awaitable<redis_reply> redis_connection::execute(redis_command) {
  throw_error(errc::unsupported, "redis_connection: not implemented yet");
  co_return redis_reply{};
}
asio::awaitable<std::vector<redis_reply>> redis_connection::execute_batch(
    std::vector<redis_command>) {
  throw_error(errc::unsupported, "redis_connection: not implemented yet");
  co_return std::vector<redis_reply>{};
}
asio::awaitable<void> redis_connection::close() {
  co_return;
}
void redis_connection::close_now() noexcept {}

}  // namespace corocache::detail
