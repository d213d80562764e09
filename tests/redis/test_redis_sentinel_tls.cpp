// RedisCacheBackend over rediss-sentinel:// against one TLS-only Sentinel deployment shared by
// every case (support/redis_sentinel.hpp with tls): a master, a replica and three sentinels that
// serve TLS only, replicate and talk to each other over TLS and require client certificates.
// Sentinel 0 presents a certificate from a CA the clients do not trust (the nodes trust it, so it
// is a full member of the deployment). The conformance suite runs through discovery over TLS; then
// the untrusted sentinel, passwords in messages, and last (it moves the master) a SENTINEL
// FAILOVER.
#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>

#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "corocache/redis_backend.hpp"
#include "corocache/registry.hpp"
#include "redis/redis_conformance_fixture.hpp"
#include "support/catch.hpp"
#include "support/redis_sentinel.hpp"
#include "support/redis_tls.hpp"
#include "support/run_coroutine.hpp"

using namespace corocache;
using namespace std::chrono_literals;
using corocache::test::redis_sentinel_group;
using corocache::test::run_coroutine;
using corocache::test::tls_certificates;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr const char* master_password = "master-pw-9f3k";
constexpr const char* sentinel_password = "sentinel-pw-7q2x";

struct tls_deployment {
  tls_certificates certificates;
  redis_sentinel_group group{[this] {
    redis_sentinel_group::options options;
    options.tls = &certificates;
    options.untrusted_first_sentinel = true;
    options.data_password = master_password;
    options.sentinel_password = sentinel_password;
    // The master cannot be demoted (see the failover case): only the +switch-master
    // subscription, over TLS, can move a backend off it.
    options.master_config = {"rename-command REPLICAOF \"\"", "rename-command SLAVEOF \"\""};
    return options;
  }()};
};

tls_deployment& deployment() {
  static tls_deployment instance;
  return instance;
}

std::string endpoint(std::uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

// The trusted sentinels (1 and 2), in that order.
std::string trusted_sentinels() {
  auto& group = deployment().group;
  return endpoint(group.sentinel_port(1)) + "," + endpoint(group.sentinel_port(2));
}

// The TLS parameters every node needs: the CA and the client certificate.
std::string tls_parameters() {
  const auto& c = deployment().certificates;
  return "ca=" + c.ca() + "&cert=" + c.client_cert() + "&key=" + c.client_key();
}

// rediss-sentinel:// through `sentinels`, with both passwords unless told otherwise.
std::string url_through(const std::string& sentinels,
                        const std::string& master_pw = master_password,
                        const std::string& sentinel_pw = sentinel_password) {
  return "rediss-sentinel://:" + master_pw + "@" + sentinels +
         "/0?master=" + deployment().group.settings().master_name +
         "&sentinel_password=" + sentinel_pw + "&" + tls_parameters();
}

std::string conformance_url() {
  return url_through(trusted_sentinels());
}

constexpr char fixture_name[] = "redis over rediss-sentinel";

struct outcome {
  std::optional<errc> error;
  std::string message;
};

// initialize(), then a set of `key` to "v" when it succeeded.
outcome initialize_and_set(const std::string& url, const std::string& key = "k") {
  return run_coroutine([&](asio::any_io_executor executor) -> asio::awaitable<outcome> {
    outcome result;
    try {  // the constructor checks the URL
      RedisCacheBackend<std::string> backend(executor, url, "t:");
      try {
        co_await backend.initialize();
        CHECK(co_await backend.set(key, std::string("v")));
      } catch (const cache_error& e) {
        result.error = e.error();
        result.message = e.what();
      }
      co_await backend.shutdown();
    } catch (const cache_error& e) {
      result.error = e.error();
      result.message = e.what();
    }
    co_return result;
  });
}

// The value of `key` (with the backend's "t:" prefix) on the node that is master now.
std::string on_master(const std::string& key) {
  auto& group = deployment().group;
  for (std::size_t i = 0; i < 2; ++i) {
    if (group.role_of(group.data_node(i).port()) == "master")
      return redis_sentinel_group::command(group.data_node(i), {"GET", "t:" + key}, master_password)
          .str;
  }
  return "";
}

std::string read_file(const std::string& path) {
  std::ostringstream text;
  text << std::ifstream(path).rdbuf();
  return text.str();
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::use_awaitable);
}

}  // namespace

using conformance_fixtures =
    std::tuple<corocache::test::redis_conformance_fixture<fixture_name, conformance_url>>;
#include "conformance/conformance_suite.hpp"

TEST_CASE("a sentinel whose certificate is from an unknown CA is skipped and sent nothing",
          "[sentinel][tls]") {
  auto& group = deployment().group;
  const auto untrusted = endpoint(group.sentinel_port(0));
  const auto log_before = read_file(group.sentinel(0).log_file()).size();

  // First in the list: skipped, the next one answers.
  const auto skipped =
      initialize_and_set(url_through(untrusted + "," + trusted_sentinels()), "after-untrusted");
  REQUIRE_FALSE(skipped.error);
  CHECK(on_master("after-untrusted") == "v");

  // Alone: the round fails, saying why for that sentinel.
  const auto alone = initialize_and_set(url_through(untrusted));
  REQUIRE(alone.error == errc::connection_error);
  CHECK_THAT(alone.message, Catch::Contains("sentinel " + untrusted));
  CHECK_THAT(alone.message, Catch::Contains("TLS handshake failed"));
  CHECK_THAT(alone.message, Catch::Contains("unknown CA"));

  // The sentinel saw the handshakes fail on our alert, so no command reached it: redis-server
  // runs a command only on an established TLS connection.
  const auto log = read_file(group.sentinel(0).log_file()).substr(log_before);
  CHECK_THAT(log, Catch::Contains("unknown ca"));
}

TEST_CASE("verify=none reaches the untrusted sentinel, and its messages say it is insecure",
          "[sentinel][tls]") {
  const auto untrusted = endpoint(deployment().group.sentinel_port(0));
  const auto insecure = initialize_and_set(url_through(untrusted) + "&verify=none", "insecure");
  REQUIRE_FALSE(insecure.error);
  CHECK(on_master("insecure") == "v");
  const auto failed =
      initialize_and_set(url_through(untrusted, "wrong-master-pw") + "&verify=none", "insecure");
  REQUIRE(failed.error == errc::connection_error);
  CHECK_THAT(failed.message, Catch::Contains("verify=none: insecure"));
}

TEST_CASE("rediss-sentinel:// needs the client certificate on the sentinels too",
          "[sentinel][tls]") {
  auto& group = deployment().group;
  const auto url = "rediss-sentinel://:" + std::string(master_password) + "@" +
                   endpoint(group.sentinel_port(1)) + "/0?master=" + group.settings().master_name +
                   "&sentinel_password=" + sentinel_password +
                   "&ca=" + deployment().certificates.ca();
  const auto result = initialize_and_set(url);
  REQUIRE(result.error == errc::connection_error);
  // With TLS 1.3 the sentinel checks the client certificate after the client's handshake is done:
  // its alert is read as the refusal, unless its reset of the connection reaches the client first
  // (then AUTH cannot be written). Either way the sentinel is named and nothing more is used.
  CHECK_THAT(result.message, Catch::Contains("sentinel " + endpoint(group.sentinel_port(1)) + ":"));
  CHECK_THAT(result.message, Catch::Contains("refused the client certificate") ||
                                 Catch::Contains("Connection reset by peer") ||
                                 Catch::Contains("closed the connection"));
  CHECK_THAT(result.message, Catch::Contains("(TLS)"));
}

TEST_CASE("no message of a rediss-sentinel:// backend shows the sentinel or master password",
          "[sentinel][tls]") {
  auto& group = deployment().group;
  const auto sentinels = trusted_sentinels();
  const std::vector<outcome> failures{
      initialize_and_set(url_through(sentinels, master_password, "wrong-sentinel-pw")),
      initialize_and_set(url_through(sentinels, "wrong-master-pw", sentinel_password)),
      initialize_and_set(url_through(endpoint(group.sentinel_port(0)))),
      initialize_and_set(url_through(sentinels) + "&bogus=1"),
      initialize_and_set(url_through(sentinels) + "&verify=" + sentinel_password),
  };
  for (const auto& failure : failures) {
    INFO(failure.message);
    CHECK(failure.error);
    for (const char* secret :
         {master_password, sentinel_password, "wrong-sentinel-pw", "wrong-master-pw"}) {
      CHECK_THAT(failure.message, !Catch::Contains(secret));
    }
  }
  CHECK_THAT(failures[0].message, Catch::Contains("WRONGPASS") || Catch::Contains("invalid"));
  CHECK_THAT(failures[1].message, Catch::Contains("AUTH rejected by the master"));
  CHECK(failures[3].error == errc::invalid_argument);
  CHECK_THAT(failures[3].message, Catch::Contains("bogus"));
  CHECK(failures[4].error == errc::invalid_argument);
}

TEST_CASE("make_backend builds a rediss-sentinel:// backend", "[sentinel][tls][registry]") {
  run_coroutine([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    auto backend =
        make_backend<std::string>(url_through(trusted_sentinels()) + "&prefix=t:", executor);
    co_await backend->initialize();
    CHECK(co_await backend->set("via-registry", std::string("v")));
    co_await backend->shutdown();
  });
  CHECK(on_master("via-registry") == "v");
}

// A client of sentinel `i` is subscribed (sentinels subscribe to the data nodes, never to each
// other, so it is a backend's).
bool subscribed_to(std::size_t i) {
  const auto clients = redis_sentinel_group::command(deployment().group.sentinel(i),
                                                     {"CLIENT", "LIST"}, sentinel_password);
  return clients.str.find(" sub=1 ") != std::string::npos;
}

// Polls `done` every 20ms until it holds or `limit` passed; returns its last answer.
template <class Condition>
asio::awaitable<bool> wait_until(Condition done, std::chrono::milliseconds limit) {
  const auto deadline = clock_type::now() + limit;
  while (!done() && clock_type::now() < deadline) co_await sleep_for(20ms);
  co_return done();
}

TEST_CASE("a stopped sentinel carrying the subscription is noticed, and the next one takes it",
          "[sentinel][tls]") {
  auto& group = deployment().group;
  bool moved = false;
  run_coroutine(
      [&](asio::any_io_executor executor) -> asio::awaitable<void> {
        RedisCacheBackend<std::string> backend(
            executor,
            url_through(trusted_sentinels()) + "&health_check_interval=100ms&command_timeout=300ms",
            "t:");
        co_await backend.initialize();
        // The first sentinel of the URL, sentinel 1, carries the subscription.
        REQUIRE(co_await wait_until([] { return subscribed_to(1); }, 10s));
        REQUIRE(co_await wait_until([] { return !subscribed_to(2); }, 5s));  // no one else's
        // Stopped: its socket stays open and nothing is answered, so only the subscriber's PING
        // can tell.
        group.sentinel(1).pause();
        moved = co_await wait_until([] { return subscribed_to(2); }, 10s);
        group.sentinel(1).resume();
        CHECK(co_await backend.set("after-stop", std::string("v")));
        co_await backend.shutdown();
      },
      60s);
  CHECK(moved);
  CHECK(on_master("after-stop") == "v");
}

// Last: it moves the master. The old master cannot be demoted (REPLICAOF renamed away): it stays a
// master and keeps its connections, so only the subscription to a sentinel, over TLS, can tell the
// backend to leave it.
TEST_CASE("a SENTINEL FAILOVER is followed over TLS: new writes land on the new master",
          "[sentinel][tls][topology]") {
  auto& group = deployment().group;
  const auto old_master = group.data_node(0).port();
  const auto new_master = group.data_node(1).port();
  REQUIRE(group.role_of(old_master) == "master");
  std::optional<long long> landed_ms;
  run_coroutine(
      [&](asio::any_io_executor executor) -> asio::awaitable<void> {
        RedisCacheBackend<std::string> backend(
            executor, url_through(trusted_sentinels()) + "&reconnect_min=20ms&reconnect_max=200ms",
            "t:");
        co_await backend.initialize();
        REQUIRE(co_await wait_until([] { return subscribed_to(1) || subscribed_to(2); }, 10s));
        CHECK(co_await backend.set("before", std::string("old")));
        REQUIRE(
            redis_sentinel_group::command(group.data_node(0), {"GET", "t:before"}, master_password)
                .str == "old");
        const auto reply = redis_sentinel_group::command(
            group.sentinel(1), {"SENTINEL", "FAILOVER", group.settings().master_name},
            sentinel_password);
        REQUIRE(reply.type == detail::redis_reply::kind::status);
        const auto started = clock_type::now();
        const auto deadline = started + 60s;
        for (std::size_t n = 0; !landed_ms && clock_type::now() < deadline; ++n) {
          // Promoted before the write: the new master no longer replicates the old one, so a
          // probe found there was written there.
          const bool promoted = group.role_of(new_master) == "master";
          const auto probe = std::to_string(n);
          bool written = false;
          try {
            written = co_await backend.set("probe", probe);
          } catch (const cache_error&) {
          }
          if (promoted && written &&
              redis_sentinel_group::command(group.data_node(1), {"GET", "t:probe"}, master_password)
                      .str == probe)
            landed_ms =
                std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - started)
                    .count();
          co_await sleep_for(5ms);
        }
        CHECK(co_await backend.set("after", std::string("new")));
        CHECK(co_await backend.get("after") == std::optional<std::string>("new"));
        co_await backend.shutdown();
      },
      90s);
  REQUIRE(landed_ms);
  WARN("SENTINEL FAILOVER over TLS: writes land on the new master after " << *landed_ms << "ms");
  CHECK(
      redis_sentinel_group::command(group.data_node(1), {"GET", "t:after"}, master_password).str ==
      "new");
  CHECK(group.role_of(new_master) == "master");
  CHECK(group.role_of(old_master) == "master");  // never demoted: the announcement moved us
  CHECK(
      redis_sentinel_group::command(group.data_node(0), {"GET", "t:after"}, master_password).type ==
      detail::redis_reply::kind::nil);
}
