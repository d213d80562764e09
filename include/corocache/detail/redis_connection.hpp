// redis_connection: one pipelined hiredis connection driven by asio, shared by many coroutines.
//
// Threading: every hiredis call for a connection runs on one strand of the executor given to
// create(). Callers may await from any executor or thread; they resume on their own executor,
// never inside a hiredis callback.
//
// Pipelining: commands from concurrent callers are appended to one output buffer and flushed
// together when the socket is writable; replies are matched in FIFO order.
//
// Failures (all cache_error, messages name endpoint.description(), never the password):
// - errc::timeout: no reply within command_timeout. Replies are FIFO, so the connection is then
//   reset: every command in flight on it fails (with errc::timeout) and it reconnects, so a late
//   reply can never reach another command.
// - errc::connection_error: the connection was lost with the command in flight, or the command
//   was issued while the connection is down. Commands FAIL FAST while disconnected (they are not
//   queued); the connection reconnects in the background with capped exponential backoff with
//   jitter (reconnect_min .. reconnect_max) and the same object works again once it is back.
//   AUTH and SELECT are sent on every (re)connect before any other command.
// - errc::shut_down: close()/close_now() was called, or the last redis_connection owner was
//   destroyed, while the command was pending or before it was issued.
// Reconnection starts only after connect() succeeded once; before that, execute() fails with
// errc::connection_error.
//
// Lifetime: in-flight operations keep the connection's internal state alive, so the owner may
// drop its shared_ptr at any time; dropping the last one is close_now(). Destroy connections
// before their execution context (as with any asio I/O object).
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/use_awaitable.hpp>

#include "corocache/detail/redis_command.hpp"
#include "corocache/detail/redis_operation.hpp"
#include "corocache/detail/redis_reply.hpp"

namespace corocache::detail {

/// Where and how to connect; what the backend's URL parsing produces.
struct redis_endpoint {
  std::string host = "localhost";
  std::uint16_t port = 6379;            // TCP, or
  std::string unix_path;                // non-empty: unix socket
  std::string user;                     // ACL user (empty: none)
  std::optional<std::string> password;  // AUTH [user] password when set
  int db = 0;                           // SELECT when != 0
  /// "host:port" or "unix:/path", never the password.
  [[nodiscard]] std::string description() const;
};

struct redis_connection_options {
  redis_endpoint endpoint;
  std::chrono::milliseconds connect_timeout{1000};  // resolve + connect + AUTH + SELECT
  // Never fires early; may fire up to command_timeout/8 (at most 100ms) late. <= 0: no timeout.
  std::chrono::milliseconds command_timeout{1000};
  std::chrono::milliseconds reconnect_min{50};  // backoff bounds, exponential with jitter
  std::chrono::milliseconds reconnect_max{2000};
};

class redis_connection_core;

class redis_connection : public std::enable_shared_from_this<redis_connection> {
  struct private_tag {};

 public:
  [[nodiscard]] static std::shared_ptr<redis_connection> create(asio::any_io_executor executor,
                                                                redis_connection_options options);

  /// First connect (resolve with asio, connect, AUTH, SELECT): throws cache_error
  /// errc::connection_error / errc::timeout (within connect_timeout) naming the endpoint.
  /// Completes at once when already connected; errc::shut_down after close().
  [[nodiscard]] asio::awaitable<void> connect();

  /// Sends one command; completes on the caller's executor with the reply. An error reply is
  /// returned as kind::error (the caller maps it); transport problems throw cache_error
  /// (connection_error, timeout, shut_down).
  [[nodiscard]] asio::awaitable<redis_reply> execute(redis_command command) {
    return execute(std::move(command), [](redis_reply&& reply) { return std::move(reply); });
  }

  /// The same, with the reply turned into the result by `decode` (`Result(redis_reply&&)`, may
  /// throw) before the caller resumes: what a caller would do after execute(), without a
  /// coroutine frame of its own. The connection must exist when the result is first awaited.
  template <class Decode>
  [[nodiscard]] auto execute(redis_command command, Decode decode)
      -> asio::awaitable<std::invoke_result_t<Decode&, redis_reply&&>> {
    using result_type = std::invoke_result_t<Decode&, redis_reply&&>;
    // The initiation runs when the caller awaits: the connection is alive then (see above), and
    // the operation belongs to the connection's core from there on.
    return asio::async_initiate<const asio::use_awaitable_t<>,
                                void(std::exception_ptr, result_type)>(
        [this](auto handler, redis_command&& command, Decode&& decode) {
          using op_type = command_op<decltype(handler), Decode>;
          start(std::make_unique<op_type>(std::move(handler), executor(), std::move(command),
                                          std::move(decode)));
        },
        asio::use_awaitable, std::move(command), std::move(decode));
  }

  /// Sends all commands back to back (one round trip) and returns their replies in order.
  /// Fails as a whole (cache_error) when any of them cannot get a reply; an empty batch
  /// completes at once with no replies.
  [[nodiscard]] asio::awaitable<std::vector<redis_reply>> execute_batch(
      std::vector<redis_command> commands);

  /// Closes for good: pending and later commands fail with errc::shut_down. Idempotent.
  /// Completes once the socket is closed.
  [[nodiscard]] asio::awaitable<void> close();

  /// Also usable without a coroutine (destructor of the backend): same effect as close(), but
  /// returns before the socket is closed.
  void close_now() noexcept;

  redis_connection(private_tag, std::shared_ptr<redis_connection_core> core);
  redis_connection(const redis_connection&) = delete;
  redis_connection& operator=(const redis_connection&) = delete;
  ~redis_connection();

 private:
  [[nodiscard]] const asio::any_io_executor& executor() const;
  void start(std::unique_ptr<pending_op> op);

  std::shared_ptr<redis_connection_core> core_;
};

}  // namespace corocache::detail
