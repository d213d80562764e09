// redis_transport: opening a connection to a Redis node, plain or TLS (see the header).
#include "redis_transport.hpp"

#include <utility>

#include <asio/ssl/error.hpp>

namespace corocache::detail {

std::string redis_transport::describe(const asio::error_code& ec) const {
  if (tls && ec.category() == asio::error::get_ssl_category())
    return describe_tls_failure(ec, *tls, tls_client->settings);
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated)
    return "the server closed the connection";
  return ec.message();
}

void redis_transport::close() {
  closed = true;
  asio::error_code ignored;
  resolver.cancel();
  if (tls) tls->deadline.cancel();
  socket.shutdown(redis_socket::shutdown_both, ignored);
  socket.close(ignored);
}

namespace {

// The handshake verifies the server's certificate and name before it completes: nothing is
// written on the transport before `done("")`, not even AUTH.
void start_tls(const std::shared_ptr<redis_transport>& t, const std::string& host,
               std::shared_ptr<const redis_tls_client> tls, std::chrono::milliseconds limit,
               redis_open_handler done) {
  t->tls = std::make_unique<redis_tls_layer>(t->socket, *tls->context, tls->settings, host);
  t->tls_client = tls;
  if (limit.count() > 0) {
    t->tls->deadline.expires_after(limit);
    t->tls->deadline.async_wait([t](const asio::error_code& ec) {
      if (ec) return;
      t->tls->timed_out = true;
      asio::error_code ignored;
      t->socket.cancel(ignored);
    });
  }
  t->tls->stream.async_handshake(
      asio::ssl::stream_base::client,
      [t, tls = std::move(tls), limit, done = std::move(done)](const asio::error_code& ec) {
        t->tls->deadline.cancel();
        if (t->tls->timed_out) return done(describe_tls_timeout(limit));
        if (ec)
          return done("TLS handshake failed: " + describe_tls_failure(ec, *t->tls, tls->settings));
        t->tls_verified = true;
        done("");
      });
}

}  // namespace

void connect_transport(const std::shared_ptr<redis_transport>& t, const std::string& host,
                       std::shared_ptr<const redis_tls_client> tls,
                       std::chrono::milliseconds tls_limit, redis_open_handler done) {
  if (t->closed) return done("closed");
  if (t->next_address >= t->addresses.size())
    return done(t->last_error.empty() ? "no address" : t->last_error);
  asio::error_code ignored;
  t->socket.close(ignored);
  t->socket.async_connect(t->addresses[t->next_address++], [t, host, tls = std::move(tls),
                                                            tls_limit, done = std::move(done)](
                                                               const asio::error_code& ec) mutable {
    if (ec) {
      t->last_error = ec.message();
      return connect_transport(t, host, std::move(tls), tls_limit, std::move(done));
    }
    if (tls) return start_tls(t, host, std::move(tls), tls_limit, std::move(done));
    done("");
  });
}

void open_transport(const std::shared_ptr<redis_transport>& t, const std::string& host,
                    std::uint16_t port, std::shared_ptr<const redis_tls_client> tls,
                    std::chrono::milliseconds tls_limit, redis_open_handler done) {
  t->resolver.async_resolve(
      host, std::to_string(port),
      [t, host, tls = std::move(tls), tls_limit, done = std::move(done)](
          const asio::error_code& ec, asio::ip::tcp::resolver::results_type results) mutable {
        if (ec) return done("cannot resolve host: " + ec.message());
        for (const auto& entry : results) t->addresses.emplace_back(entry.endpoint());
        connect_transport(t, host, std::move(tls), tls_limit, std::move(done));
      });
}

}  // namespace corocache::detail
