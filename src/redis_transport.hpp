// redis_transport: the I/O objects of one connection to a Redis node (a socket, plain or under
// TLS, its reply reader and buffers), shared by the three users of such connections: the
// connection driver (redis_connection.cpp), Sentinel discovery (redis_sentinel_resolver) and the
// +switch-master subscriber (redis_sentinel_subscriber). Handlers hold it by shared_ptr, so the
// buffers outlive every operation pending on its socket, and discovery can hand a connection it
// opened and verified (TLS stream included) to the connection driver as it is.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/generic/stream_protocol.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/strand.hpp>
#include <asio/write.hpp>

#include "corocache/detail/redis_reply_reader.hpp"
#include "redis_tls.hpp"

namespace corocache::detail {

/// What a TLS connection needs besides its host: the URL's settings and the context made from
/// them once, shared by every connection of an endpoint (master and sentinels alike).
struct redis_tls_client {
  redis_tls_settings settings;
  std::shared_ptr<asio::ssl::context> context;
};

struct redis_transport {
  using strand_type = asio::strand<asio::any_io_executor>;

  redis_transport(const strand_type& strand, std::uint64_t attempt)
      : socket(strand), resolver(strand), attempt(attempt) {}

  redis_socket socket;
  asio::ip::tcp::resolver resolver;
  std::uint64_t attempt;  ///< the connection machine's attempt this transport serves
  redis_reply_reader reader;
  std::vector<asio::generic::stream_protocol::endpoint> addresses;
  std::size_t next_address = 0;
  std::string last_error;
  std::string writing;
  std::array<char, 64 * 1024> reading;
  std::unique_ptr<redis_tls_layer> tls;  // once the TCP connection is up, when TLS is on
  std::shared_ptr<const redis_tls_client> tls_client;  // what `tls` was made with
  bool tls_verified = false;  // the handshake completed: certificate and name verified
  bool closed = false;        // close() was called: opening stops

  // The one branch between TLS and plain TCP: no virtual call, no allocation on either path.
  template <class Handler>
  void async_read_some(Handler&& handler) {
    if (tls) return tls->stream.async_read_some(asio::buffer(reading), std::move(handler));
    socket.async_read_some(asio::buffer(reading), std::move(handler));
  }
  /// Writes what is left of `writing` after its first `already_sent` bytes.
  template <class Handler>
  void async_write(std::size_t already_sent, Handler&& handler) {
    const auto rest = asio::buffer(writing) + already_sent;
    if (tls) return asio::async_write(tls->stream, rest, std::move(handler));
    asio::async_write(socket, rest, std::move(handler));
  }
  /// A read or write error in words; TLS errors name their cause (e.g. a refused certificate).
  [[nodiscard]] std::string describe(const asio::error_code& ec) const;
  /// Stops everything pending on it; its handlers then see an error.
  void close();
};

/// Called once with "" when the transport is connected (and, with TLS, the server's certificate
/// and name verified), or with why it is not. Callers check that the transport is still theirs.
using redis_open_handler = std::function<void(const std::string& error)>;

/// Resolves host:port and connects to each address in turn, then runs the TLS handshake when
/// `tls` is set (SNI and name check: its sni=, else `host`). `tls_limit` > 0 bounds the
/// handshake (a server that does not speak TLS may never answer); 0 leaves it to the caller.
void open_transport(const std::shared_ptr<redis_transport>& t, const std::string& host,
                    std::uint16_t port, std::shared_ptr<const redis_tls_client> tls,
                    std::chrono::milliseconds tls_limit, redis_open_handler done);

/// Connects `t` to its `addresses` from `next_address` on, then as open_transport.
void connect_transport(const std::shared_ptr<redis_transport>& t, const std::string& host,
                       std::shared_ptr<const redis_tls_client> tls,
                       std::chrono::milliseconds tls_limit, redis_open_handler done);

}  // namespace corocache::detail
