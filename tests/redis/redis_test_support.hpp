// Helpers shared by the Redis connection tests: options for a test server, running many
// coroutines at once, and waiting for a reconnect.
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <optional>
#include <stdexcept>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "corocache/detail/redis_connection.hpp"
#include "corocache/error.hpp"
#include "support/error_of.hpp"
#include "support/redis_server.hpp"

namespace corocache::test {

using detail::redis_command;
using detail::redis_connection;
using detail::redis_connection_options;
using detail::redis_reply;

inline redis_connection_options options_for(const redis_server& server) {
  redis_connection_options options;
  options.endpoint.host = "127.0.0.1";
  options.endpoint.port = server.port();
  // Generous: sanitizer builds on a loaded machine are slow; fault tests set their own timeouts.
  options.connect_timeout = std::chrono::seconds(5);
  options.command_timeout = std::chrono::seconds(10);
  return options;
}

/// Runs make(0) .. make(n-1) concurrently on this coroutine's (single-threaded) executor and
/// waits for all of them; rethrows the first exception.
template <class Make>
asio::awaitable<void> run_concurrently(std::size_t n, Make make) {
  auto executor = co_await asio::this_coro::executor;
  std::size_t remaining = n;
  std::exception_ptr first_error;
  asio::steady_timer all_done(executor, asio::steady_timer::time_point::max());
  for (std::size_t i = 0; i < n; ++i) {
    asio::co_spawn(executor, make(i), [&](std::exception_ptr e) {
      if (e && !first_error) first_error = e;
      if (--remaining == 0) all_done.cancel();
    });
  }
  asio::error_code cancelled;
  if (remaining > 0)
    co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, cancelled));
  if (first_error) std::rethrow_exception(first_error);
}

/// Retries PING until the connection works again (after a reconnect); throws after `limit`.
inline asio::awaitable<void> wait_until_usable(
    redis_connection& connection, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  auto executor = co_await asio::this_coro::executor;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      redis_command ping{"PING"};
      auto reply = co_await connection.execute(std::move(ping));
      if (reply.type == redis_reply::kind::status) co_return;
    } catch (const cache_error&) {
    }
    asio::steady_timer pause(executor, std::chrono::milliseconds(20));
    co_await pause.async_wait(asio::use_awaitable);
  }
  throw std::runtime_error("the connection did not recover in time");
}

}  // namespace corocache::test

namespace corocache::test {

/// connection.execute() of the given arguments (g++ 12 rejects braced lists inside co_await).
template <class... Args>
asio::awaitable<redis_reply> call(redis_connection& connection, const Args&... args) {
  return connection.execute(redis_command{std::string(args)...});
}

}  // namespace corocache::test
