// TLS for rediss:// connections: the client context (trust store, client certificate), the
// stream one connect attempt runs over its TCP socket, and failures described in words a user can
// act on (unknown CA, expired certificate, host name mismatch, server without TLS, client
// certificate refused). Lives in src/ so that no installed header needs OpenSSL.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <asio/generic/stream_protocol.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>

#include "corocache/redis_options.hpp"

namespace corocache::detail {

using redis_socket = asio::generic::stream_protocol::socket;

/// The TLS side of one connect attempt: the stream over the attempt's socket and the deadline of
/// its handshake.
struct redis_tls_layer {
  redis_tls_layer(redis_socket& socket, asio::ssl::context& context,
                  const redis_tls_settings& settings, const std::string& host);

  asio::ssl::stream<redis_socket&> stream;
  asio::steady_timer deadline;
  std::string name;        ///< the server name sent (SNI) and verified
  bool timed_out = false;  ///< the deadline cancelled the handshake
};

/// The context for every attempt of one connection: TLS 1.2 or later, the CAs of `settings.ca`
/// (or the system's), the client certificate if any, peer verification unless verify=none.
/// Returns null and sets `error` (naming the file) when a file cannot be loaded.
[[nodiscard]] std::shared_ptr<asio::ssl::context> make_tls_context(
    const redis_tls_settings& settings, std::string& error);

/// Why a TLS handshake, or a read or write right after it, failed.
[[nodiscard]] std::string describe_tls_failure(const asio::error_code& ec,
                                               const redis_tls_layer& tls,
                                               const redis_tls_settings& settings);

/// The message for a handshake the deadline cut short after `limit`.
[[nodiscard]] std::string describe_tls_timeout(std::chrono::milliseconds limit);

}  // namespace corocache::detail
