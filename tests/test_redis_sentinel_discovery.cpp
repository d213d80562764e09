// redis_sentinel_discovery driven by hand, without a server: what it asks each sentinel, how it
// reads their answers and the master's ROLE, the order it tries sentinels in, and its messages.
// Also the redis-sentinel:// URL that configures it.
#include "corocache/detail/redis_sentinel_discovery.hpp"

#include <string>
#include <vector>

#include "corocache/backend_url.hpp"
#include "corocache/error.hpp"
#include "corocache/redis_options.hpp"
#include "support/catch.hpp"
#include "support/reply_builders.hpp"

using namespace corocache;
using namespace corocache::detail;
using namespace corocache::test;
using step_kind = sentinel_step::kind;

namespace {

redis_sentinel_settings three_sentinels() {
  redis_sentinel_settings s;
  s.sentinels = {{"10.0.0.1", 26379}, {"10.0.0.2", 26380}, {"::1", 26381}};
  s.master_name = "mymaster";
  return s;
}

// The arguments of RESP-encoded commands (the discovery's output), for readable checks.
std::vector<std::string> args_of(redis_command command) {
  const auto resp = command.resp();
  std::vector<std::string> out;
  std::size_t at = resp.find("\r\n") + 2;  // past "*N"
  while (at < resp.size()) {
    const auto end = resp.find("\r\n", at);
    const auto length = std::stoul(std::string(resp.substr(at + 1, end - at - 1)));
    out.emplace_back(resp.substr(end + 2, length));
    at = end + 2 + length + 2;
  }
  return out;
}

std::vector<std::vector<std::string>> all_args(sentinel_step step) {
  std::vector<std::vector<std::string>> out;
  for (auto& command : step.commands) out.push_back(args_of(command));
  return out;
}

redis_reply address(std::string host, std::string port) {
  return array({bulk(std::move(host)), bulk(std::move(port))});
}

redis_reply role(std::string name) {
  redis_reply offset;
  offset.type = redis_reply::kind::integer;
  return array({bulk(std::move(name)), offset, array({})});
}

using list = std::vector<std::vector<std::string>>;

// Asks the current sentinel (already connected to) and checks it is sent the plain query.
sentinel_step answer_sentinel(redis_sentinel_discovery& d, const redis_reply& reply) {
  const auto send = d.on_connected();
  REQUIRE(send.what == step_kind::send);
  CHECK(all_args(send) == list{{"SENTINEL", "get-master-addr-by-name", "mymaster"}});
  return d.on_reply(reply);
}

}  // namespace

TEST_CASE("discovery asks a sentinel, then checks the master's ROLE before it is used",
          "[sentinel]") {
  redis_sentinel_discovery d(three_sentinels(), {});
  auto step = d.begin();
  REQUIRE(step.what == step_kind::connect);
  CHECK(step.host == "10.0.0.1");
  CHECK(step.port == 26379);
  step = answer_sentinel(d, address("10.0.0.9", "6380"));
  REQUIRE(step.what == step_kind::connect);
  CHECK(step.host == "10.0.0.9");
  CHECK(step.port == 6380);
  step = d.on_connected();
  REQUIRE(step.what == step_kind::send);
  CHECK(all_args(step) == list{{"ROLE"}});
  step = d.on_reply(role("master"));
  REQUIRE(step.what == step_kind::done);
  CHECK(step.host == "10.0.0.9");
  CHECK(step.port == 6380);
  CHECK(d.preferred() == 0);
}

TEST_CASE("discovery authenticates to sentinels and master with their own credentials",
          "[sentinel]") {
  auto settings = three_sentinels();
  settings.user = "watcher";
  settings.password = "sentinel-secret";
  redis_sentinel_discovery d(settings, {redis_command{"AUTH", "app", "master-secret"}});
  REQUIRE(d.begin().what == step_kind::connect);
  auto step = d.on_connected();
  CHECK(all_args(step) == list{{"AUTH", "watcher", "sentinel-secret"},
                               {"SENTINEL", "get-master-addr-by-name", "mymaster"}});
  CHECK(d.on_reply(status("OK")).what == step_kind::wait);
  REQUIRE(d.on_reply(address("10.0.0.9", "6379")).what == step_kind::connect);
  step = d.on_connected();
  CHECK(all_args(step) == list{{"AUTH", "app", "master-secret"}, {"ROLE"}});
  CHECK(d.on_reply(status("OK")).what == step_kind::wait);
  CHECK(d.on_reply(role("master")).what == step_kind::done);
}

TEST_CASE("the master gets the connection's whole handshake before ROLE, and only once",
          "[sentinel]") {
  redis_sentinel_discovery d(
      three_sentinels(), {redis_command{"AUTH", "master-secret"}, redis_command{"SELECT", "3"}});
  REQUIRE(d.begin().what == step_kind::connect);
  REQUIRE(answer_sentinel(d, address("10.0.0.9", "6379")).what == step_kind::connect);
  auto step = d.on_connected();
  CHECK(all_args(step) == list{{"AUTH", "master-secret"}, {"SELECT", "3"}, {"ROLE"}});
  CHECK(d.on_reply(status("OK")).what == step_kind::wait);
  CHECK(d.on_reply(status("OK")).what == step_kind::wait);
  // done: the connection is authenticated and on database 3; the driver sends nothing more.
  CHECK(d.on_reply(role("master")).what == step_kind::done);
}

TEST_CASE("a handshake command the master rejects is named, and the next sentinel is asked",
          "[sentinel]") {
  redis_sentinel_discovery d(
      three_sentinels(), {redis_command{"AUTH", "master-secret"}, redis_command{"SELECT", "99"}});
  REQUIRE(d.begin().what == step_kind::connect);
  REQUIRE(answer_sentinel(d, address("10.0.0.9", "6379")).what == step_kind::connect);
  REQUIRE(d.on_connected().what == step_kind::send);
  CHECK(d.on_reply(status("OK")).what == step_kind::wait);
  auto step = d.on_reply(error("ERR DB index is out of range"));
  REQUIRE(step.what == step_kind::connect);
  CHECK(step.host == "10.0.0.2");  // the next sentinel; the ROLE reply is not waited for
  REQUIRE(answer_sentinel(d, redis_reply{}).what == step_kind::connect);
  step = d.on_failed("connection refused");
  REQUIRE(step.what == step_kind::failed);
  CHECK_THAT(step.error, Catch::Contains("SELECT rejected by the master 10.0.0.9:6379: ERR DB "
                                         "index is out of range"));
  CHECK_THAT(step.error, !Catch::Contains("master-secret"));
}

TEST_CASE("a sentinel that fails is skipped, and the one that answered is asked first next time",
          "[sentinel]") {
  redis_sentinel_discovery d(three_sentinels(), {});
  REQUIRE(d.begin().what == step_kind::connect);
  auto step = d.on_failed("Connection refused");
  REQUIRE(step.what == step_kind::connect);
  CHECK(step.host == "10.0.0.2");
  step = answer_sentinel(d, address("10.0.0.9", "6379"));
  REQUIRE(step.what == step_kind::connect);
  REQUIRE(d.on_connected().what == step_kind::send);
  REQUIRE(d.on_reply(role("master")).what == step_kind::done);
  CHECK(d.preferred() == 1);
  step = d.begin();
  REQUIRE(step.what == step_kind::connect);
  CHECK(step.host == "10.0.0.2");
}

TEST_CASE("a replica given as the master is never used: the next sentinel is asked", "[sentinel]") {
  redis_sentinel_discovery d(three_sentinels(), {});
  REQUIRE(d.begin().what == step_kind::connect);
  REQUIRE(answer_sentinel(d, address("10.0.0.8", "6379")).what == step_kind::connect);
  REQUIRE(d.on_connected().what == step_kind::send);
  auto step = d.on_reply(role("slave"));
  REQUIRE(step.what == step_kind::connect);
  CHECK(step.host == "10.0.0.2");  // the stale sentinel's neighbour
  step = answer_sentinel(d, address("10.0.0.9", "6379"));
  REQUIRE(step.what == step_kind::connect);
  CHECK(step.host == "10.0.0.9");
  REQUIRE(d.on_connected().what == step_kind::send);
  step = d.on_reply(role("master"));
  REQUIRE(step.what == step_kind::done);
  CHECK(step.host == "10.0.0.9");
}

TEST_CASE("when every sentinel fails, the round fails naming each one and why", "[sentinel]") {
  auto settings = three_sentinels();
  settings.password = "sentinel-secret";
  redis_sentinel_discovery d(settings, {redis_command{"AUTH", "master-secret"}});
  REQUIRE(d.begin().what == step_kind::connect);
  REQUIRE(d.on_failed("Connection refused").what == step_kind::connect);
  REQUIRE(d.on_connected().what == step_kind::send);
  REQUIRE(d.on_reply(error("WRONGPASS invalid username-password pair")).what == step_kind::connect);
  REQUIRE(d.on_connected().what == step_kind::send);
  REQUIRE(d.on_reply(status("OK")).what == step_kind::wait);
  REQUIRE(d.on_reply(address("10.0.0.9", "6379")).what == step_kind::connect);
  const auto step = d.on_failed("no answer within 250ms");
  REQUIRE(step.what == step_kind::failed);
  CHECK_THAT(step.error, Catch::Contains("sentinel 10.0.0.1:26379: Connection refused"));
  CHECK_THAT(step.error, Catch::Contains("sentinel 10.0.0.2:26380: AUTH rejected: WRONGPASS"));
  CHECK_THAT(step.error,
             Catch::Contains("sentinel [::1]:26381: gave 10.0.0.9:6379: no answer within 250ms"));
  CHECK_THAT(step.error, !Catch::Contains("secret"));
  // The next round starts one further, so a hung first sentinel does not cost every round.
  const auto next = d.begin();
  REQUIRE(next.what == step_kind::connect);
  CHECK(next.host == "10.0.0.2");
}

TEST_CASE("a master no sentinel knows fails the round with that reason", "[sentinel]") {
  redis_sentinel_discovery d(three_sentinels(), {});
  REQUIRE(d.begin().what == step_kind::connect);
  REQUIRE(answer_sentinel(d, redis_reply{}).what == step_kind::connect);
  REQUIRE(answer_sentinel(d, redis_reply{}).what == step_kind::connect);
  const auto step = answer_sentinel(d, redis_reply{});
  REQUIRE(step.what == step_kind::failed);
  CHECK_THAT(step.error, Catch::StartsWith("no sentinel knows a master named \"mymaster\""));
  CHECK_THAT(step.error, Catch::Contains("sentinel 10.0.0.2:26380: knows no master"));
}

TEST_CASE("malformed sentinel and ROLE replies are failures of that sentinel", "[sentinel]") {
  const std::vector<redis_reply> bad_answers{
      address("10.0.0.9", "x"),     address("10.0.0.9", "0"),
      address("10.0.0.9", "65536"), address("", "6379"),
      array({bulk("10.0.0.9")}),    bulk("10.0.0.9:6379"),
      error("ERR unknown command"), status("OK"),
  };
  for (const auto& answer : bad_answers) {
    redis_sentinel_discovery d(three_sentinels(), {});
    REQUIRE(d.begin().what == step_kind::connect);
    const auto step = answer_sentinel(d, answer);
    REQUIRE(step.what == step_kind::connect);
    CHECK(step.host == "10.0.0.2");
  }
  for (const auto& reply :
       {error("NOAUTH Authentication required."), bulk("master"), array({}), role("sentinel")}) {
    redis_sentinel_discovery d(three_sentinels(), {});
    REQUIRE(d.begin().what == step_kind::connect);
    REQUIRE(answer_sentinel(d, address("10.0.0.9", "6379")).what == step_kind::connect);
    REQUIRE(d.on_connected().what == step_kind::send);
    const auto step = d.on_reply(reply);
    REQUIRE(step.what == step_kind::connect);
    CHECK(step.host == "10.0.0.2");
  }
}

TEST_CASE("events outside a round fail instead of acting on stale state", "[sentinel]") {
  redis_sentinel_discovery d(three_sentinels(), {});
  CHECK(d.on_connected().what == step_kind::failed);
  CHECK(d.on_reply(role("master")).what == step_kind::failed);
  REQUIRE(d.begin().what == step_kind::connect);
  CHECK(d.on_reply(role("master")).what == step_kind::failed);  // nothing was sent yet
}

TEST_CASE("the description names the master and every sentinel", "[sentinel]") {
  redis_sentinel_discovery d(three_sentinels(), {});
  CHECK(d.description() ==
        "sentinel master \"mymaster\" via 10.0.0.1:26379,10.0.0.2:26380,[::1]:26381");
}

TEST_CASE("redis-sentinel:// URLs list the sentinels and name the master", "[sentinel][url]") {
  redis_options options;
  options.url =
      "redis-sentinel://app:p%40ss@s1:26380,s2,[::1]:26390/2?master=mymaster&sentinel_user=w&"
      "sentinel_password=sp&prefix=x:";
  const auto settings = resolve_redis_options(options);
  REQUIRE(settings.address.sentinel);
  const auto& s = *settings.address.sentinel;
  REQUIRE(s.sentinels.size() == 3);
  CHECK(s.sentinels[0].host == "s1");
  CHECK(s.sentinels[0].port == 26380);
  CHECK(s.sentinels[1].host == "s2");
  CHECK(s.sentinels[1].port == 26379);
  CHECK(s.sentinels[2].host == "::1");
  CHECK(s.sentinels[2].port == 26390);
  CHECK(s.master_name == "mymaster");
  CHECK(s.user == "w");
  CHECK(s.password == "sp");
  CHECK(settings.address.user == "app");
  CHECK(settings.address.password == "p@ss");
  CHECK(settings.address.db == 2);
  CHECK(settings.prefix == "x:");
  CHECK(settings.redacted_url == "redis-sentinel://***@s1:26380,s2:26379,[::1]:26390/2");
}

// The message resolving `url` fails with (checked to be invalid_argument), or "accepted".
static std::string url_error_of(const std::string& url) {
  redis_options options;
  options.url = url;
  try {
    (void)resolve_redis_options(options);
  } catch (const cache_error& e) {
    CHECK(e.code() == errc::invalid_argument);
    return std::string(e.what());
  }
  return std::string("accepted");
}

TEST_CASE("malformed redis-sentinel:// URLs are rejected without showing secrets",
          "[sentinel][url]") {
  CHECK_THAT(url_error_of("redis-sentinel://s1,s2"), Catch::Contains("?master=NAME"));
  CHECK_THAT(url_error_of("redis-sentinel://s1?master="), Catch::Contains("?master=NAME"));
  CHECK_THAT(url_error_of("redis-sentinel://?master=m"), Catch::Contains("list is missing"));
  CHECK_THAT(url_error_of("redis-sentinel://s1,,s2?master=m"), Catch::Contains("empty host"));
  CHECK_THAT(url_error_of("redis-sentinel://s1,?master=m"), Catch::Contains("empty host"));
  CHECK_THAT(url_error_of("redis-sentinel://s1,s2:0?master=m"), Catch::Contains("port"));
  CHECK_THAT(url_error_of("redis-sentinel://s1?master=m&sentinel_user=u"),
             Catch::Contains("sentinel_user= needs sentinel_password="));
  CHECK_THAT(url_error_of("redis-sentinel://s1?master=m&sentinel_password="),
             Catch::Contains("empty"));
  CHECK_THAT(url_error_of("redis-sentinel://s1?master=m&ca=/x"), Catch::Contains("ca"));
  const auto list_elsewhere = url_error_of("redis://u:topsecret@h1,h2/0");
  CHECK_THAT(list_elsewhere, Catch::Contains("only redis-sentinel://"));
  CHECK_THAT(list_elsewhere, !Catch::Contains("topsecret"));
  CHECK_THAT(url_error_of("redis-sentinel://s1?master=m&sentinel_password=topsecret&bogus=1"),
             !Catch::Contains("topsecret"));
}

TEST_CASE("rediss-sentinel:// URLs carry the sentinels and the TLS parameters", "[sentinel][url]") {
  redis_options options;
  options.url =
      "rediss-sentinel://:mpw@s1:26380,s2/1?master=mymaster&sentinel_password=spw&ca=/etc/ca.pem"
      "&cert=/etc/c.pem&key=/etc/k.pem&sni=redis.example";
  const auto settings = resolve_redis_options(options);
  REQUIRE(settings.address.sentinel);
  REQUIRE(settings.address.tls);
  CHECK(settings.address.sentinel->sentinels.size() == 2);
  CHECK(settings.address.sentinel->master_name == "mymaster");
  CHECK(settings.address.sentinel->password == "spw");
  CHECK(settings.address.password == "mpw");
  CHECK(settings.address.db == 1);
  CHECK(settings.address.tls->ca == "/etc/ca.pem");
  CHECK(settings.address.tls->cert == "/etc/c.pem");
  CHECK(settings.address.tls->key == "/etc/k.pem");
  CHECK(settings.address.tls->sni == "redis.example");
  CHECK(settings.address.tls->verify);
  CHECK(settings.redacted_url == "rediss-sentinel://***@s1:26380,s2:26379/1");

  options.url = "rediss-sentinel://s1?master=m";  // the system's CAs, each node's own name
  const auto defaults = resolve_redis_options(options);
  REQUIRE(defaults.address.tls);
  CHECK(defaults.address.tls->ca.empty());
  CHECK(defaults.address.tls->sni.empty());
  CHECK(defaults.address.tls->verify);

  options.url = "rediss-sentinel://s1?master=m&verify=none";
  const auto insecure = resolve_redis_options(options);
  CHECK_FALSE(insecure.address.tls->verify);
  CHECK(insecure.redacted_url == "rediss-sentinel://s1:26379/0?verify=none (insecure)");

  // Plain redis-sentinel:// stays plain: no TLS, and TLS parameters are unknown there.
  options.url = "redis-sentinel://s1?master=m";
  CHECK_FALSE(resolve_redis_options(options).address.tls);
}

TEST_CASE("malformed rediss-sentinel:// URLs are rejected without showing secrets",
          "[sentinel][url]") {
  const std::string secrets = ":master-secret@s1,s2?master=m&sentinel_password=sentinel-secret";
  for (const auto& rest : {std::string("&bogus=1"), std::string("&tls=yes"),
                           std::string("&cert=/c.pem"), std::string("&verify=sentinel-secret"),
                           std::string("&sentinel_user=u&sentinel_password=master-secret")}) {
    const auto message = url_error_of("rediss-sentinel://" + secrets + rest);
    INFO(rest << ": " << message);
    CHECK(message != "accepted");
    CHECK_THAT(message, !Catch::Contains("master-secret"));
    CHECK_THAT(message, !Catch::Contains("sentinel-secret"));
  }
  CHECK_THAT(url_error_of("rediss-sentinel://s1?master=m&tls=yes"),
             Catch::Contains("unknown URL parameter(s) tls"));
  CHECK_THAT(url_error_of("rediss-sentinel://s1?master=m&cert=/c.pem"),
             Catch::Contains("both cert= and key="));
  CHECK_THAT(url_error_of("redis-sentinel://s1?master=m&verify=none"),
             Catch::Contains("unknown URL parameter(s) verify"));
  CHECK_THAT(url_error_of("rediss-sentinel://s1"), Catch::Contains("?master=NAME"));
}

TEST_CASE("a host list parses into more_hosts and shows in redacted()", "[sentinel][url]") {
  const auto url = backend_url::parse("x://u:pw@a:1,b,[::2]:3/p?q=1");
  CHECK(url.host == "a");
  CHECK(url.port == 1);
  REQUIRE(url.more_hosts.size() == 2);
  CHECK(url.more_hosts[0].first == "b");
  CHECK(!url.more_hosts[0].second);
  CHECK(url.more_hosts[1].first == "::2");
  CHECK(url.more_hosts[1].second == 3);
  CHECK(url.redacted() == "x://***@a:1,b,[::2]:3");
  CHECK_THROWS_AS(detail::expect_no_location(backend_url::parse("memory://,a")), cache_error);
}

TEST_CASE("after prefer(i) the next round asks sentinel i first", "[sentinel]") {
  redis_sentinel_discovery d(three_sentinels(), {});
  d.prefer(2);
  auto step = d.begin();
  REQUIRE(step.what == step_kind::connect);
  CHECK(step.host == "::1");
  d.prefer(7);  // out of range: back to the first
  step = d.begin();
  REQUIRE(step.what == step_kind::connect);
  CHECK(step.host == "10.0.0.1");
}
