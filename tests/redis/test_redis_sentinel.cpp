// RedisCacheBackend over redis-sentinel:// against real processes, without failovers (those are in
// test_redis_sentinel_failover.cpp): discovery through one sentinel, skipping dead sentinels,
// passwords, and the failures initialize() must report clearly.
#include <string>
#include <vector>

#include "corocache/redis_backend.hpp"
#include "corocache/registry.hpp"
#include "support/catch.hpp"
#include "support/error_of.hpp"
#include "support/redis_sentinel.hpp"
#include "support/redis_server.hpp"
#include "support/run_coroutine.hpp"

using namespace corocache;
using corocache::test::redis_sentinel_group;
using corocache::test::redis_server;
using corocache::test::run_coroutine;

namespace {

// A sentinel that watches `master_port` as "mymaster" (quorum 1, no failover during a test).
redis_server sentinel_for(std::uint16_t master_port, std::vector<std::string> extra = {}) {
  std::vector<std::string> config{
      "sentinel monitor mymaster 127.0.0.1 " + std::to_string(master_port) + " 1",
      "sentinel down-after-milliseconds mymaster 60000"};
  config.insert(config.end(), extra.begin(), extra.end());
  return redis_server(redis_server::options{.config = config, .sentinel = true});
}

// A port nothing listens on: a server's, after it was killed.
std::uint16_t dead_port() {
  redis_server server;
  server.kill();
  return server.port();
}

std::string endpoint(std::uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

struct outcome {
  std::optional<errc> error;
  std::string message;
};

// initialize(), then a set and a get of "k" when it succeeded.
outcome initialize_and_use(const std::string& url) {
  return run_coroutine([&](asio::any_io_executor executor) -> asio::awaitable<outcome> {
    RedisCacheBackend<std::string> backend(executor, url, "t:");
    outcome result;
    try {
      co_await backend.initialize();
      CHECK(co_await backend.set("k", std::string("v")));
      CHECK(co_await backend.get("k") == std::optional<std::string>("v"));
    } catch (const cache_error& e) {
      result.error = e.error();
      result.message = e.what();
    }
    co_await backend.shutdown();
    co_return result;
  });
}

// The calls= of every command in the master's INFO commandstats; reading it costs one AUTH.
struct command_calls {
  explicit command_calls(const redis_server& master)
      : info(redis_sentinel_group::command(master.port(), {"INFO", "commandstats"}, "master-secret")
                 .str) {}
  long long operator[](const std::string& command) const {
    const auto field = "cmdstat_" + command + ":calls=";
    const auto at = info.find(field);
    return at == std::string::npos ? 0 : std::stoll(info.substr(at + field.size()));
  }
  std::string info;
};

}  // namespace

TEST_CASE("each connect authenticates to the master once and selects the database once",
          "[sentinel]") {
  redis_server master(redis_server::options{.config = {"requirepass master-secret"}});
  // No auth-pass: the sentinel itself never authenticates to the master.
  auto sentinel = sentinel_for(master.port());
  const command_calls before(master);
  REQUIRE(before["auth"] >= 1);  // this INFO's own
  const auto result = initialize_and_use("redis-sentinel://:master-secret@" +
                                         endpoint(sentinel.port()) + "/2?master=mymaster");
  REQUIRE_FALSE(result.error);
  const command_calls after(master);
  CHECK(after["auth"] - before["auth"] == 1 + 1);  // the backend's, and the second INFO's
  CHECK(after["select"] - before["select"] == 1);
  CHECK(after["role"] - before["role"] == 1);
  CHECK(after["set"] - before["set"] == 1);
}

TEST_CASE("the backend finds the master through a sentinel, skipping sentinels that are down",
          "[sentinel]") {
  redis_server master;
  auto sentinel = sentinel_for(master.port());
  const auto result = initialize_and_use("redis-sentinel://" + endpoint(dead_port()) + "," +
                                         endpoint(sentinel.port()) + "/0?master=mymaster");
  REQUIRE_FALSE(result.error);
  CHECK(master.command("GET t:k") == "$1");  // the value landed on the master itself
}

TEST_CASE("sentinels and master with passwords: each gets its own credentials", "[sentinel]") {
  redis_server master(redis_server::options{.config = {"requirepass master-secret"}});
  auto sentinel = sentinel_for(master.port(), {"requirepass sentinel-secret"});
  const auto base =
      "redis-sentinel://:master-secret@" + endpoint(sentinel.port()) + "?master=mymaster";
  CHECK_FALSE(initialize_and_use(base + "&sentinel_password=sentinel-secret").error);

  const auto no_sentinel_password = initialize_and_use(base);
  CHECK(no_sentinel_password.error == errc::connection_error);
  CHECK_THAT(no_sentinel_password.message, Catch::Contains("NOAUTH"));
  CHECK_THAT(no_sentinel_password.message, !Catch::Contains("secret"));

  const auto wrong =
      initialize_and_use("redis-sentinel://:wrong-master-secret@" + endpoint(sentinel.port()) +
                         "?master=mymaster&sentinel_password=sentinel-secret");
  CHECK(wrong.error == errc::connection_error);
  CHECK_THAT(wrong.message, Catch::Contains("AUTH rejected by the master"));
  CHECK_THAT(wrong.message, !Catch::Contains("secret"));
}

TEST_CASE("with every sentinel down, initialize() fails naming each sentinel", "[sentinel]") {
  const std::vector<std::uint16_t> ports{dead_port(), dead_port(), dead_port()};
  const auto result = initialize_and_use(
      "redis-sentinel://app:master-secret@" + endpoint(ports[0]) + "," + endpoint(ports[1]) + "," +
      endpoint(ports[2]) + "?master=mymaster&sentinel_password=sentinel-secret");
  REQUIRE(result.error == errc::connection_error);
  for (const auto port : ports) CHECK_THAT(result.message, Catch::Contains(endpoint(port)));
  CHECK_THAT(result.message, Catch::Contains("mymaster"));
  CHECK_THAT(result.message, !Catch::Contains("secret"));
}

TEST_CASE("a master name no sentinel knows fails initialize() saying so", "[sentinel]") {
  redis_server master;
  auto sentinel = sentinel_for(master.port());
  const auto result =
      initialize_and_use("redis-sentinel://" + endpoint(sentinel.port()) + "?master=nosuch");
  REQUIRE(result.error == errc::connection_error);
  CHECK_THAT(result.message, Catch::Contains("no sentinel knows a master named \"nosuch\""));
  CHECK_THAT(result.message, Catch::Contains(endpoint(sentinel.port())));
}

TEST_CASE("a replica that a sentinel names as the master is never used", "[sentinel]") {
  redis_server master;
  redis_server replica(
      redis_server::options{.config = {"replicaof 127.0.0.1 " + std::to_string(master.port())}});
  // A sentinel told to watch the replica as the master: its answer is what a stale sentinel gives
  // after a failover it has not seen (until it notices, long after this test).
  auto sentinel = sentinel_for(replica.port());
  const auto result =
      initialize_and_use("redis-sentinel://" + endpoint(sentinel.port()) + "?master=mymaster");
  REQUIRE(result.error == errc::connection_error);
  CHECK_THAT(result.message,
             Catch::Contains(endpoint(replica.port()) + ", which is a replica, not the master"));
  CHECK(master.command("EXISTS t:k") == ":0");
}

TEST_CASE("make_backend builds a Sentinel backend from its URL", "[sentinel][registry]") {
  redis_server master;
  auto sentinel = sentinel_for(master.port());
  const auto url = "redis-sentinel://" + endpoint(sentinel.port()) + "/0?master=mymaster&prefix=r:";
  run_coroutine([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    auto backend = make_backend<std::string>(url, executor);
    co_await backend->initialize();
    CHECK(co_await backend->set("k", std::string("via-registry")));
    co_await backend->shutdown();
  });
  CHECK(master.command("GET r:k") == "$12");
}
