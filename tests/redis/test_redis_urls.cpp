// Redis URLs: parsing into options (no server needed), then every form against real servers.
#include "corocache/redis_options.hpp"

#include <memory>

#include "corocache/backend_url.hpp"
#include "corocache/error.hpp"
#include "corocache/registry.hpp"
#include "redis/redis_test_support.hpp"
#include "support/catch.hpp"
#include "support/redis_server.hpp"
#include "support/run_coroutine.hpp"

using corocache::errc;
using corocache::make_backend;
using corocache::redis_options;
using corocache::detail::resolve_redis_options;
using corocache::test::error_of;
using corocache::test::redis_server;
using corocache::test::run_coroutine;
using namespace std::chrono_literals;

namespace {

corocache::detail::redis_settings resolve(std::string url) {
  return resolve_redis_options(redis_options{.url = std::move(url)});
}

// The message `url` is rejected with; fails the test unless the code is `expected`.
std::string rejection(std::string url, errc expected = errc::invalid_argument) {
  try {
    (void)resolve(url);
  } catch (const corocache::cache_error& e) {
    CHECK(e.error() == expected);
    return e.what();
  }
  FAIL("expected " << url << " to be rejected");
  return {};
}

}  // namespace

TEST_CASE("the default options name localhost:6379, db 0 and the cache: prefix", "[redis_urls]") {
  const auto settings = resolve_redis_options(redis_options{});
  CHECK(settings.address.host == "localhost");
  CHECK(settings.address.port == 6379);
  CHECK(settings.address.db == 0);
  CHECK(settings.address.unix_path.empty());
  CHECK_FALSE(settings.address.password);
  CHECK(settings.prefix == "cache:");
  CHECK(settings.connect_timeout == 1000ms);
  CHECK(settings.command_timeout == 1000ms);
  CHECK(settings.reconnect_min == 50ms);
  CHECK(settings.reconnect_max == 2000ms);
  CHECK(settings.health_check_interval == 5000ms);
  CHECK_FALSE(settings.allow_start_offline);
  CHECK(settings.redacted_url == "redis://localhost:6379/0");
}

TEST_CASE("a TCP URL gives host, port, database and credentials", "[redis_urls]") {
  const auto full = resolve("redis://alice:s%40cret@cache.local:6380/2");
  CHECK(full.address.host == "cache.local");
  CHECK(full.address.port == 6380);
  CHECK(full.address.db == 2);
  CHECK(full.address.user == "alice");
  CHECK(full.address.password == "s@cret");
  CHECK(full.redacted_url == "redis://***@cache.local:6380/2");

  const auto password_only = resolve("redis://:pw@h");
  CHECK(password_only.address.user.empty());
  CHECK(password_only.address.password == "pw");
  CHECK(password_only.address.port == 6379);
  CHECK(password_only.address.db == 0);

  CHECK(password_only.redacted_url == "redis://***@h:6379/0");
  CHECK(resolve("redis://[::1]:7000/15?prefix=secret").redacted_url == "redis://[::1]:7000/15");

  CHECK(resolve("redis://").address.host == "localhost");
  CHECK(resolve("redis://h/").address.db == 0);
  CHECK(resolve("redis://[::1]:7000/15").address.host == "::1");
  CHECK(resolve("REDIS://h?db=4").address.db == 4);
}

TEST_CASE("a unix socket URL gives the path and the database from ?db=", "[redis_urls]") {
  const auto settings = resolve("unix:///run/redis/redis.sock?db=3");
  CHECK(settings.address.unix_path == "/run/redis/redis.sock");
  CHECK(settings.address.db == 3);
  const auto with_password = resolve("unix://:pw@/tmp/r.sock");
  CHECK(with_password.address.password == "pw");
  CHECK(with_password.address.unix_path == "/tmp/r.sock");
  CHECK(with_password.address.db == 0);
  CHECK(settings.redacted_url == "unix:///run/redis/redis.sock?db=3");
  CHECK(with_password.redacted_url == "unix://***@/tmp/r.sock?db=0");
}

TEST_CASE("query parameters set the prefix and the timeouts over the options", "[redis_urls]") {
  const auto settings = resolve_redis_options(redis_options{
      .url = "redis://h?prefix=app:&connect_timeout=500ms&command_timeout=1s&reconnect_min=10ms"
             "&reconnect_max=1m",
      .prefix = "ignored:",
      .connect_timeout = 5s});
  CHECK(settings.prefix == "app:");
  CHECK(settings.connect_timeout == 500ms);
  CHECK(settings.command_timeout == 1s);
  CHECK(settings.reconnect_min == 10ms);
  CHECK(settings.reconnect_max == 60s);

  const auto from_fields = resolve_redis_options(
      redis_options{.url = "redis://h", .prefix = "mine:", .command_timeout = 250ms});
  CHECK(from_fields.prefix == "mine:");
  CHECK(from_fields.command_timeout == 250ms);
  CHECK(resolve("redis://h?prefix=").prefix.empty());
  CHECK(resolve("redis://h?prefix=a%26b%3D").prefix == "a&b=");
}

TEST_CASE("health checks and starting offline are set by options and URL", "[redis_urls]") {
  const auto from_url =
      resolve("redis://h?health_check_interval=250ms&allow_start_offline=true&prefix=p:");
  CHECK(from_url.health_check_interval == 250ms);
  CHECK(from_url.allow_start_offline);
  CHECK(resolve("redis://h?health_check_interval=0s").health_check_interval == 0ms);
  CHECK_FALSE(resolve("redis://h?allow_start_offline=false").allow_start_offline);

  const auto from_fields = resolve_redis_options(
      redis_options{.url = "redis://h", .health_check_interval = 30s, .allow_start_offline = true});
  CHECK(from_fields.health_check_interval == 30s);
  CHECK(from_fields.allow_start_offline);
  // The URL wins over the fields, as for every other parameter.
  const auto overridden = resolve_redis_options(
      redis_options{.url = "redis://h?health_check_interval=1m&allow_start_offline=false",
                    .health_check_interval = 30s,
                    .allow_start_offline = true});
  CHECK(overridden.health_check_interval == 60s);
  CHECK_FALSE(overridden.allow_start_offline);
}

TEST_CASE("bad health check and offline values are rejected", "[redis_urls]") {
  CHECK_THAT(rejection("redis://h?health_check_interval=5"),
             Catch::Contains("health_check_interval") && Catch::Contains("duration"));
  CHECK_THAT(rejection("redis://h?health_check_interval=-1s"),
             Catch::Contains("health_check_interval"));
  CHECK_THAT(rejection("redis://h?allow_start_offline=1"),
             Catch::Contains("allow_start_offline") && Catch::Contains("true or false"));
  CHECK_THAT(rejection("redis://h?allow_start_offline="), Catch::Contains("allow_start_offline"));
  CHECK_THAT(rejection("redis://h?health_check_interval=1s&health_check_interval=2s"),
             Catch::Contains("twice"));
  try {
    (void)resolve_redis_options(redis_options{.url = "redis://h", .health_check_interval = -1ms});
    FAIL("a negative health_check_interval was accepted");
  } catch (const corocache::cache_error& e) {
    CHECK(e.error() == errc::invalid_argument);
    CHECK_THAT(e.what(), Catch::Contains("must not be negative"));
  }
}

TEST_CASE("malformed Redis URLs are rejected naming the problem", "[redis_urls]") {
  CHECK_THAT(rejection("redis://h?prefx=a:"), Catch::Contains("prefx"));
  CHECK_THAT(rejection("redis://h/abc"), Catch::Contains("database number"));
  CHECK_THAT(rejection("redis://h/1/2"), Catch::Contains("database number"));
  CHECK_THAT(rejection("redis://h/-1"), Catch::Contains("database number"));
  CHECK_THAT(rejection("redis://h/1?db=2"), Catch::Contains("both"));
  CHECK_THAT(rejection("redis://h?db=x"), Catch::Contains("db"));
  CHECK_THAT(rejection("redis://h?db=99999999999"), Catch::Contains("too large"));
  CHECK_THAT(rejection("redis://h?command_timeout=5"), Catch::Contains("command_timeout"));
  CHECK_THAT(rejection("redis://h?connect_timeout=0ms"), Catch::Contains("positive"));
  CHECK_THAT(rejection("redis://h?reconnect_min=2s&reconnect_max=1s"),
             Catch::Contains("reconnect_max"));
  CHECK_THAT(rejection("unix://host/tmp/r.sock"), Catch::Contains("no host"));
  CHECK_THAT(rejection("unix://"), Catch::Contains("socket path"));
  CHECK_THAT(rejection("memcached://h"), Catch::Contains("redis://"));
  CHECK_THAT(rejection("redis://alice@h"), Catch::Contains("needs a password"));
  CHECK_THAT(rejection("redis://alice:@h"), Catch::Contains("password is empty"));
  CHECK_THAT(rejection("redis://:@h"), Catch::Contains("password is empty"));
  CHECK_THAT(rejection("redis://app:6380?prefix=secret@host"), Catch::Contains("ambiguous"));
  CHECK_THAT(rejection("localhost:6379"), Catch::Contains("scheme"));
}

TEST_CASE("rediss URLs carry their TLS parameters", "[redis_urls]") {
  const auto full = resolve(
      "rediss://alice:s3cret@cache.example:6380/2?ca=/etc/ca.pem&cert=/etc/c.pem&key=/etc/k.pem"
      "&sni=redis.example&verify=peer");
  REQUIRE(full.address.tls);
  CHECK(full.address.host == "cache.example");
  CHECK(full.address.port == 6380);
  CHECK(full.address.db == 2);
  CHECK(full.address.password == "s3cret");
  CHECK(full.address.tls->ca == "/etc/ca.pem");
  CHECK(full.address.tls->cert == "/etc/c.pem");
  CHECK(full.address.tls->key == "/etc/k.pem");
  CHECK(full.address.tls->sni == "redis.example");
  CHECK(full.address.tls->verify);
  CHECK(full.redacted_url == "rediss://***@cache.example:6380/2");

  const auto plain = resolve("rediss://h");
  REQUIRE(plain.address.tls);
  CHECK(plain.address.port == 6379);
  CHECK(plain.address.tls->ca.empty());  // the system's trust store
  CHECK(plain.address.tls->sni.empty());
  CHECK(plain.address.tls->verify);
  CHECK_FALSE(resolve("redis://h").address.tls);

  const auto insecure = resolve("rediss://h:6380?verify=none");
  CHECK_FALSE(insecure.address.tls->verify);
  CHECK(insecure.redacted_url == "rediss://h:6380/0?verify=none (insecure)");
}

TEST_CASE("TLS parameters are checked and belong to rediss only", "[redis_urls]") {
  CHECK_THAT(rejection("rediss://h?cert=/c.pem"), Catch::Contains("both cert= and key="));
  CHECK_THAT(rejection("rediss://h?key=/k.pem"), Catch::Contains("both cert= and key="));
  CHECK_THAT(rejection("rediss://h?verify=hunter2"), Catch::Contains("peer or none"));
  CHECK_THAT(rejection("rediss://h?verify=hunter2"), !Catch::Contains("hunter2"));
  CHECK_THAT(rejection("redis://h?ca=/ca.pem"), Catch::Contains("unknown URL parameter(s) ca"));
  CHECK_THAT(rejection("unix:///s?verify=none"),
             Catch::Contains("unknown URL parameter(s) verify"));
}

TEST_CASE("no error message shows the password", "[redis_urls]") {
  for (const char* url :
       {"redis://u:hunter2@h?bogus=1", "redis://u:hunter2@h/x", "redis://:hunter2@h?db=1&db=2",
        "redis://u:hunter2@h:0", "rediss://u:hunter2@h?bogus=1", "unix://u:hunter2@h/s",
        "redis://u:hunter2@h?command_timeout=1", "redis://hunter2@host:6379/0",
        "redis://app:12/hunter2@host:6379/0", "redis://host?password=hunter2",
        "redis://app:6380?x=hunter2@host", "redis://app:6380?prefix=hunter2@host",
        "redis://h/hunter2", "redis://h?db=hunter2", "redis://h?allow_start_offline=hunter2",
        "redis://h?health_check_interval=hunter2", "unix://hunter2@/tmp/s", "redis://hunter2:@h"}) {
    INFO(url);
    try {
      (void)resolve(url);
      FAIL("accepted");
    } catch (const corocache::cache_error& e) {
      CHECK_THAT(e.what(), !Catch::Contains("hunter2"));
    }
  }
  // Where the URL parsed, the message names the endpoint with the user-info masked.
  CHECK_THAT(rejection("redis://u:hunter2@h?bogus=1"), Catch::Contains("redis://***@h"));
  CHECK_THAT(rejection("redis://hunter2@host:6379/0"), Catch::Contains("redis://***@host:6379"));
}

namespace {

std::string tcp_url(const redis_server& server, const std::string& credentials = "") {
  return "redis://" + credentials + "127.0.0.1:" + std::to_string(server.port());
}

// Stores through a backend made from `url`, then reads back through one made from `check_url`.
asio::awaitable<std::optional<std::string>> round_trip(asio::any_io_executor ex, std::string url,
                                                       std::string check_url) {
  auto writer = make_backend<std::string>(url, ex);
  auto reader = make_backend<std::string>(check_url, ex);
  co_await writer->initialize();
  co_await reader->initialize();
  co_await writer->set("k", "v");
  auto value = co_await reader->get("k");
  co_await writer->erase("k");
  co_await writer->shutdown();
  co_await reader->shutdown();
  co_return value;
}

}  // namespace

TEST_CASE("make_backend reaches a server through TCP URLs with db, prefix and timeouts",
          "[redis_urls]") {
  redis_server server;
  const auto base = tcp_url(server);
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    CHECK(co_await round_trip(ex, base, base + "/0") == "v");
    CHECK(co_await round_trip(ex, base + "/2?prefix=app:&connect_timeout=500ms&command_timeout=2s",
                              base + "?db=2&prefix=app:&reconnect_min=10ms&reconnect_max=1s") ==
          "v");
    CHECK_FALSE(co_await round_trip(ex, base + "/2", base + "/3"));        // another database
    CHECK_FALSE(co_await round_trip(ex, base, base + "?prefix=other:"));   // another prefix
    CHECK(co_await round_trip(ex, base + "?prefix=cache:", base) == "v");  // the default prefix
  });
  CHECK(server.command("EXISTS cache:k") == ":0");
}

TEST_CASE("make_backend reaches a server through a unix socket URL", "[redis_urls]") {
  redis_server server(redis_server::options{.unix_socket = true, .config = {}});
  REQUIRE_FALSE(server.unix_path().empty());
  const auto socket = "unix://" + server.unix_path();
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    CHECK(co_await round_trip(ex, socket, tcp_url(server)) == "v");
    CHECK(co_await round_trip(ex, socket + "?db=5&prefix=u:", tcp_url(server) + "/5?prefix=u:") ==
          "v");
    CHECK_FALSE(co_await round_trip(ex, socket + "?db=5", socket));
  });
}

TEST_CASE("make_backend authenticates with a password and with an ACL user", "[redis_urls]") {
  redis_server server(redis_server::options{
      .config = {"requirepass hunter2", "user alice on >p@ss/word ~* &* +@all"}});
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    const auto with_password = tcp_url(server, ":hunter2@");
    const auto as_alice = tcp_url(server, "alice:p%40ss%2Fword@") + "/1";
    CHECK(co_await round_trip(ex, with_password, with_password) == "v");
    CHECK(co_await round_trip(ex, as_alice, as_alice) == "v");
    CHECK(co_await round_trip(ex, tcp_url(server, "default:hunter2@"), with_password) == "v");

    for (const auto& bad :
         {tcp_url(server, ":wrong-secret@"), tcp_url(server, "alice:hunter2@"), tcp_url(server)}) {
      auto backend = make_backend<std::string>(bad, ex);
      try {
        co_await backend->initialize();
        FAIL("connected with " << bad);
      } catch (const corocache::cache_error& e) {
        CHECK(e.error() == errc::connection_error);
        CHECK_THAT(e.what(), !Catch::Contains("wrong-secret"));
        CHECK_THAT(e.what(), !Catch::Contains("hunter2"));
      }
    }
  });
}

TEST_CASE("make_backend rejects unknown parameters and TLS before connecting", "[redis_urls]") {
  asio::io_context io;
  const auto ex = io.get_executor();
  for (const char* url : {"redis://h?prefix=a&bogus=1", "unix:///tmp/s.sock?timeout=1s",
                          "redis://u:hunter2@h?bogus=1"}) {
    try {
      (void)make_backend<std::string>(url, ex);
      FAIL("accepted " << url);
    } catch (const corocache::cache_error& e) {
      CHECK(e.error() == errc::invalid_argument);
      CHECK_THAT(e.what(), Catch::Contains("bogus") || Catch::Contains("timeout"));
      CHECK_THAT(e.what(), !Catch::Contains("hunter2"));
    }
  }
  CHECK(make_backend<std::string>("rediss://h:6380", ex) != nullptr);  // connects at initialize()
  CHECK(make_backend<std::int64_t>("redis://h:1/0", ex) != nullptr);
}

TEST_CASE("value types without a codec have no Redis backend", "[redis_urls]") {
  struct opaque {};
  asio::io_context io;
  try {
    (void)make_backend<opaque>("redis://h", io.get_executor());
    FAIL("made a Redis backend for a type without codec");
  } catch (const corocache::cache_error& e) {
    CHECK(e.error() == errc::unknown_backend);
  }
}
