// rediss://: RedisCacheBackend and redis_connection over TLS against a TLS-only redis-server with
// certificates made for the test: verification, mutual TLS, each handshake failure named in the
// message, and kill/pause/restart faults over TLS.
#include <map>
#include <optional>
#include <string>

#include <asio/steady_timer.hpp>
#include "support/catch.hpp"

#include "corocache/redis_backend.hpp"
#include "redis/redis_test_support.hpp"
#include "support/redis_tls.hpp"
#include "support/run_coroutine.hpp"

using namespace corocache;
using namespace corocache::test;
using server_cert = tls_certificates::server_cert;
using client_auth = tls_certificates::client_auth;

namespace {

// One set of certificates per test executable: making them costs ~100ms of openssl runs.
const tls_certificates& certificates() {
  static const tls_certificates files;
  return files;
}

// Short limits: these tests fail on purpose, and the suite's time budget is tight.
std::string with_limits(std::string url) {
  return url + "&connect_timeout=2s&command_timeout=2s";
}

// initialize() on `url`: the error's code and message, or nothing when it succeeds. The backend
// also has to serve a SET and GET when it connects.
struct outcome {
  std::optional<errc> error;
  std::string message;
};

outcome initialize(const std::string& url) {
  return run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<outcome> {
    RedisCacheBackend<std::string> cache(ex, url, "tls:");
    try {
      co_await cache.initialize();
      co_await cache.set("k", std::string("over tls"));
      const auto value = co_await cache.get("k");
      if (value != "over tls") throw std::runtime_error("wrong value over TLS");
    } catch (const cache_error& e) {
      co_return outcome{e.error(), e.what()};
    }
    co_return outcome{};
  });
}

// No command reached the server: the AUTH of with_wrong_password() would be in the ACL log.
bool acl_log_empty(const redis_server& server) {
  return server.command("ACL LOG") == "*0";
}

std::string with_wrong_password(const std::string& url) {
  return "rediss://app:wrong-password@" + url.substr(std::string("rediss://").size());
}

}  // namespace

TEST_CASE("a rediss:// backend works over a verified TLS connection", "[redis][tls]") {
  redis_server server(certificates().server_options());
  const auto result = initialize(with_limits(certificates().url(server)));
  CHECK_FALSE(result.error);
  CHECK(result.message.empty());
  CHECK(server.command("GET tls:k") == "$8");
}

TEST_CASE("a server certificate from an unknown CA fails initialize and nothing is sent",
          "[redis][tls]") {
  redis_server server(certificates().server_options());
  const auto url = "rediss://app:wrong-password@127.0.0.1:" + std::to_string(server.port()) +
                   "/0?ca=" + certificates().other_ca() + "&connect_timeout=2s";
  const auto result = initialize(url);
  CHECK(result.error == errc::connection_error);
  CHECK_THAT(result.message, Catch::Contains("unknown CA"));
  CHECK_THAT(result.message, !Catch::Contains("wrong-password"));
  CHECK(acl_log_empty(server));
  // The same URL without verification does reach the server, so the check above can fail.
  const auto insecure = initialize(url + "&verify=none");
  CHECK(insecure.error);
  CHECK_THAT(insecure.message, Catch::Contains("verify=none: insecure"));
  CHECK_FALSE(acl_log_empty(server));
}

TEST_CASE("an expired server certificate fails initialize, naming the expiry", "[redis][tls]") {
  redis_server server(certificates().server_options(server_cert::expired));
  const auto result = initialize(with_wrong_password(with_limits(certificates().url(server))));
  CHECK(result.error == errc::connection_error);
  CHECK_THAT(result.message, Catch::Contains("expired"));
  CHECK(acl_log_empty(server));
}

TEST_CASE("a certificate for another host fails initialize, unless sni= names that host",
          "[redis][tls]") {
  redis_server server(certificates().server_options(server_cert::wrong_host));
  const auto url = with_limits(certificates().url(server));
  const auto result = initialize(url);
  CHECK(result.error == errc::connection_error);
  CHECK_THAT(result.message, Catch::Contains("host name mismatch"));
  CHECK_THAT(result.message, Catch::Contains("127.0.0.1"));
  CHECK_FALSE(initialize(url + "&sni=wrong-host.invalid").error);
  const auto other = initialize(url + "&sni=localhost");
  CHECK_THAT(other.message, Catch::Contains("host name mismatch"));
}

TEST_CASE("a server without TLS fails initialize, named as such", "[redis][tls]") {
  redis_server server;  // plain TCP
  const auto result = initialize("rediss://127.0.0.1:" + std::to_string(server.port()) +
                                 "/0?ca=" + certificates().ca() + "&connect_timeout=1s");
  CHECK(result.error == errc::connection_error);
  CHECK_THAT(result.message, Catch::Contains("does not speak TLS"));
}

TEST_CASE("mutual TLS: a client certificate is accepted, and its absence is named",
          "[redis][tls]") {
  redis_server server(certificates().server_options(server_cert::valid, client_auth::yes));
  const auto url = with_limits(certificates().url(server));
  const auto with_cert = initialize(url + "&cert=" + certificates().client_cert() +
                                    "&key=" + certificates().client_key());
  CHECK_FALSE(with_cert.error);
  CHECK(with_cert.message.empty());
  const auto without = initialize(url);
  CHECK(without.error == errc::connection_error);
  CHECK_THAT(without.message, Catch::Contains("refused the client certificate"));
}

TEST_CASE("mutual TLS: a client certificate from another CA is refused", "[redis][tls]") {
  redis_server server(certificates().server_options(server_cert::valid, client_auth::yes));
  // A self-signed CA certificate with its key is a client certificate the server does not trust.
  const auto result =
      initialize(with_limits(certificates().url(server)) + "&cert=" + certificates().other_ca() +
                 "&key=" + certificates().file("other-ca.key"));
  CHECK(result.error == errc::connection_error);
  CHECK_THAT(result.message, Catch::Contains("refused the client certificate"));
}

TEST_CASE("a missing CA file fails initialize naming the file", "[redis][tls]") {
  redis_server server(certificates().server_options());
  const auto result = initialize("rediss://127.0.0.1:" + std::to_string(server.port()) +
                                 "/0?ca=/nonexistent/ca.pem&connect_timeout=2s");
  CHECK(result.error == errc::connection_error);
  CHECK_THAT(result.message, Catch::Contains("/nonexistent/ca.pem"));
}

// ----- faults over TLS, on the connection itself

namespace {

redis_connection_options tls_options(const redis_server& server) {
  auto options = options_for(server);
  options.endpoint.tls.emplace();
  options.endpoint.tls->ca = certificates().ca();
  options.reconnect_min = std::chrono::milliseconds(10);
  options.reconnect_max = std::chrono::milliseconds(100);
  return options;
}

}  // namespace

TEST_CASE("over TLS, a killed server fails commands in flight and a restart brings it back",
          "[redis][tls]") {
  redis_server server(certificates().server_options());
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto connection = redis_connection::create(ex, tls_options(server));
    co_await connection->connect();
    co_await call(*connection, "SET", "k", "before");
    server.pause();  // keeps the commands below in flight until the kill
    std::map<std::optional<errc>, int> outcomes;
    bool killed = false;
    asio::steady_timer kill_timer(ex, std::chrono::milliseconds(200));
    kill_timer.async_wait([&](const asio::error_code&) {
      server.kill();
      killed = true;
    });
    co_await run_concurrently(100, [&](std::size_t) -> asio::awaitable<void> {
      ++outcomes[co_await error_of(call(*connection, "GET", "k"))];
    });
    CHECK(killed);
    CHECK(outcomes[errc::connection_error] == 100);
    CHECK(co_await error_of(call(*connection, "PING")) == errc::connection_error);

    server.restart();
    co_await wait_until_usable(*connection);
    co_await call(*connection, "SET", "k", "after");
    CHECK((co_await call(*connection, "GET", "k")).str == "after");
    co_await connection->close();
  });
}

TEST_CASE("over TLS, a paused server makes commands time out and the connection recovers",
          "[redis][tls]") {
  redis_server server(certificates().server_options());
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto options = tls_options(server);
    options.command_timeout = std::chrono::milliseconds(500);
    options.connect_timeout = std::chrono::milliseconds(1000);
    auto connection = redis_connection::create(ex, options);
    co_await connection->connect();
    co_await run_concurrently(50, [&](std::size_t i) -> asio::awaitable<void> {
      co_await call(*connection, "SET", "k" + std::to_string(i), "v" + std::to_string(i));
    });
    server.pause();
    std::map<std::optional<errc>, int> outcomes;
    co_await run_concurrently(50, [&](std::size_t i) -> asio::awaitable<void> {
      ++outcomes[co_await error_of(call(*connection, "GET", "k" + std::to_string(i)))];
    });
    CHECK(outcomes[errc::timeout] == 50);
    server.resume();
    co_await wait_until_usable(*connection);
    std::size_t matched = 0;
    co_await run_concurrently(50, [&](std::size_t i) -> asio::awaitable<void> {
      auto reply = co_await call(*connection, "GET", "k" + std::to_string(i));
      if (reply.str == "v" + std::to_string(i)) ++matched;
    });
    CHECK(matched == 50);
    co_await connection->close();
  });
}
