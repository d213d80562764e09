// redis_connection: one pipelined Redis connection driven by asio, shared by many coroutines.
//
// The logic lives in redis_connection_fsm (no I/O); this class is the thin driver that performs
// its actions on a socket (TCP or unix, through asio; TLS over TCP for rediss://), parses replies
// with hiredis's reply reader and runs its timers. Everything runs on one strand of the executor
// given to create(). Callers may await from any executor or thread; they resume on their own
// executor, never on the strand.
//
// Pipelining: commands from concurrent callers are appended to one output buffer and written
// together; replies are matched in FIFO order.
//
// Failures (all cache_error, messages name endpoint.description(), never the password):
// - errc::timeout: no reply within command_timeout. Replies are FIFO, so the connection is then
//   reset: every command written on it fails (with errc::timeout) and it reconnects, so a late
//   reply can never reach another command.
// - errc::connection_error: the connection was lost with the command in flight, or the command
//   was issued while the connection is down. Commands FAIL FAST while disconnected; while a
//   (re)connect attempt runs they wait for its handshake and are written only once it succeeded
//   (they fail, unsent, if it fails). The connection reconnects in the background with capped
//   exponential backoff with jitter (reconnect_min .. reconnect_max). AUTH and SELECT are sent on
//   every (re)connect before any other command.
// - errc::cancelled: the caller's cancellation slot was emitted (awaitable operators, parallel
//   groups, co_spawn with a bound slot). The connection is not reset; the reply is discarded.
// - errc::shut_down: close()/close_now() was called, or the last redis_connection owner was
//   destroyed, while the command was pending or before it was issued.
// Reconnection starts only after connect() succeeded once (or at once with start_offline); before
// that, execute() fails with errc::connection_error.
//
// Lifetime: an operation holds the connection's internal state from the moment it is created, so
// the owner may drop its shared_ptr at any time, even between creating an awaitable and awaiting
// it; dropping the last one is close_now(). Destroy connections before their execution context
// (as with any asio I/O object).
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
#include <asio/associated_cancellation_slot.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/use_awaitable.hpp>

#include "corocache/detail/redis_command.hpp"
#include "corocache/detail/redis_operation.hpp"
#include "corocache/detail/redis_reply.hpp"
#include "corocache/redis_connection_stats.hpp"
#include "corocache/redis_options.hpp"

namespace corocache::detail {

/// Where and how to connect; what the backend's URL parsing produces.
struct redis_endpoint {
  std::string host = "localhost";
  std::uint16_t port = 6379;              // TCP, or
  std::string unix_path;                  // non-empty: unix socket
  std::string user;                       // ACL user (empty: none)
  std::optional<std::string> password;    // AUTH [user] password when set
  int db = 0;                             // SELECT when != 0
  // TLS over TCP (rediss://, and rediss-sentinel:// to the sentinels and the master) when set
  std::optional<redis_tls_settings> tls;
  // redis-sentinel://: on every (re)connect the master's address comes from these sentinels
  // (host and port above are unused); the handshake is sent there followed by ROLE, and the node
  // must answer master before anything else is written (see redis_sentinel_discovery.hpp).
  std::optional<redis_sentinel_settings> sentinel;
  /// "host:port" or "unix:/path", never the password; "host:port (TLS)" with TLS, and
  /// "host:port (TLS, verify=none: insecure)" without verification; "sentinel master "NAME" via
  /// host:port,host:port" with Sentinel, followed by the same TLS marks.
  [[nodiscard]] std::string description() const;
};

struct redis_connection_options {
  redis_endpoint endpoint;
  // resolve + connect + TLS handshake + AUTH + SELECT; the TLS handshake gets half of it at most,
  // so that a server that does not speak TLS (and never answers) is named as such. With Sentinel
  // it also covers asking the sentinels, each exchange (a sentinel, then the master's ROLE) limited
  // to connect_timeout / (sentinels + 1) so that one hung sentinel leaves time for the others.
  std::chrono::milliseconds connect_timeout{1000};
  // Never fires early; may fire up to command_timeout/8 (at most 100ms) late. <= 0: no timeout.
  std::chrono::milliseconds command_timeout{1000};
  std::chrono::milliseconds reconnect_min{50};  // backoff bounds, exponential with jitter
  std::chrono::milliseconds reconnect_max{2000};
  // A PING after this long without traffic; <= 0: none. TCP keepalive is on for TCP anyway.
  std::chrono::milliseconds health_check_interval{5000};
  // connect() succeeds without a server; the connection keeps trying in the background.
  bool start_offline = false;
};

class redis_connection_core;

/// The executor the connection was created with (the fallback for handlers without one).
[[nodiscard]] const asio::any_io_executor& executor_of(const redis_connection_core& core);
/// Hands `op` to the connection, from any thread; `slot`, when connected, cancels it.
void start_operation(const std::shared_ptr<redis_connection_core>& core,
                     std::unique_ptr<pending_op> op, asio::cancellation_slot slot);

class redis_connection {
  struct private_tag {};

 public:
  [[nodiscard]] static std::shared_ptr<redis_connection> create(asio::any_io_executor executor,
                                                                redis_connection_options options);

  /// First connect (resolve, connect, AUTH, SELECT): throws cache_error errc::connection_error /
  /// errc::timeout (within connect_timeout) naming the endpoint. Completes at once when already
  /// connected, or with start_offline; errc::shut_down after close().
  [[nodiscard]] asio::awaitable<void> connect();

  /// Sends one command; completes on the caller's executor with the reply. An error reply is
  /// returned as kind::error (the caller maps it); transport problems throw cache_error
  /// (connection_error, timeout, cancelled, shut_down).
  [[nodiscard]] asio::awaitable<redis_reply> execute(redis_command command) {
    return execute(std::move(command), [](redis_reply&& reply) { return std::move(reply); });
  }

  /// The same, with the reply turned into the result by `decode` (`Result(redis_reply&&)`, may
  /// throw) on the caller's executor before the caller resumes: what a caller would do after
  /// execute(), without a coroutine frame of its own.
  template <class Decode>
  [[nodiscard]] auto execute(redis_command command, Decode decode)
      -> asio::awaitable<std::invoke_result_t<Decode&, redis_reply&&>> {
    using result_type = std::invoke_result_t<Decode&, redis_reply&&>;
    // The initiation runs when the caller awaits, maybe after this object is gone: it holds the
    // core, taken now, never `this`.
    return asio::async_initiate<const asio::use_awaitable_t<>,
                                void(std::exception_ptr, result_type)>(
        [core = core_](auto handler, redis_command&& command, Decode&& decode) {
          using op_type = command_op<decltype(handler), Decode>;
          auto slot = asio::get_associated_cancellation_slot(handler);
          start_operation(core,
                          std::make_unique<op_type>(std::move(handler), executor_of(*core),
                                                    std::move(command), std::move(decode)),
                          slot);
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

  /// The connection's counters (from any thread).
  [[nodiscard]] redis_connection_stats stats() const;

  redis_connection(private_tag, std::shared_ptr<redis_connection_core> core);
  redis_connection(const redis_connection&) = delete;
  redis_connection& operator=(const redis_connection&) = delete;
  ~redis_connection();

 private:
  std::shared_ptr<redis_connection_core> core_;
};

}  // namespace corocache::detail
