// redis-cluster:// URLs and the key a command is routed by, without a server.
#include <string>

#include "corocache/backend_url.hpp"
#include "corocache/detail/cluster_slot.hpp"
#include "corocache/detail/redis_link.hpp"
#include "corocache/error.hpp"
#include "corocache/redis_options.hpp"
#include "support/catch.hpp"

using corocache::errc;
using corocache::redis_options;
using corocache::detail::cluster_routing_key;
using corocache::detail::redis_command;
using corocache::detail::resolve_redis_options;
using namespace std::chrono_literals;

namespace {

corocache::detail::redis_settings resolve(std::string url) {
  return resolve_redis_options(redis_options{.url = std::move(url)});
}

std::string rejection(std::string url) {
  try {
    (void)resolve(url);
  } catch (const corocache::cache_error& e) {
    CHECK(e.error() == errc::invalid_argument);
    return e.what();
  }
  FAIL("expected " << url << " to be rejected");
  return {};
}

}  // namespace

TEST_CASE("redis-cluster:// lists the seed nodes, port 6379 by default", "[cluster][url]") {
  const auto settings = resolve(
      "redis-cluster://alice:s3cret@n1:7000,n2,[::1]:7002?prefix=app:&command_timeout=250ms");
  REQUIRE(settings.address.cluster);
  const auto& seeds = settings.address.cluster->seeds;
  REQUIRE(seeds.size() == 3);
  CHECK(seeds[0].host == "n1");
  CHECK(seeds[0].port == 7000);
  CHECK(seeds[1].host == "n2");
  CHECK(seeds[1].port == 6379);
  CHECK(seeds[2].host == "::1");
  CHECK(seeds[2].port == 7002);
  CHECK(settings.address.user == "alice");
  CHECK(settings.address.password == "s3cret");
  CHECK(settings.address.db == 0);
  CHECK(settings.prefix == "app:");
  CHECK(settings.command_timeout == 250ms);
  CHECK_FALSE(settings.address.tls);
  CHECK_FALSE(settings.address.sentinel);
  CHECK(settings.redacted_url == "redis-cluster://***@n1:7000,n2:6379,[::1]:7002");

  const auto one = resolve("redis-cluster://127.0.0.1:7000/0");
  REQUIRE(one.address.cluster);
  CHECK(one.address.cluster->seeds.size() == 1);
  CHECK(one.redacted_url == "redis-cluster://127.0.0.1:7000");
  CHECK_FALSE(resolve("redis://h").address.cluster);
}

TEST_CASE("redis-cluster:// rejects databases, a missing host and other schemes' parameters",
          "[cluster][url]") {
  CHECK_THAT(rejection("redis-cluster://h:7000/1"), Catch::Contains("no databases"));
  CHECK_THAT(rejection("redis-cluster://h:7000?db=2"), Catch::Contains("no databases"));
  CHECK_THAT(rejection("redis-cluster://h:7000/x"), Catch::Contains("database number"));
  CHECK_THAT(rejection("redis-cluster://"), Catch::Contains("seed"));
  CHECK_THAT(rejection("redis-cluster://h?master=m"),
             Catch::Contains("unknown URL parameter(s) master"));
  CHECK_THAT(rejection("redis-cluster://h?verify=none"),
             Catch::Contains("unknown URL parameter(s) verify"));
  CHECK_THAT(rejection("redis-cluster://h?prefx=a"), Catch::Contains("prefx"));
  CHECK_THAT(rejection("redis-cluster://alice@h"), Catch::Contains("needs a password"));
  // Only Sentinel and Cluster URLs take a host list.
  CHECK_THAT(rejection("redis://a:1,b:2"), Catch::Contains("list of hosts"));
}

TEST_CASE("no redis-cluster:// error message shows the password", "[cluster][url]") {
  for (const char* url :
       {"redis-cluster://u:hunter2@h:7000/3", "redis-cluster://u:hunter2@h,k?db=1",
        "redis-cluster://u:hunter2@h?bogus=1", "redis-cluster://hunter2@h",
        "redis-cluster://u:hunter2@h/hunter2",
        "redis-cluster://h?prefix=a&command_timeout=hunter2"}) {
    INFO(url);
    try {
      (void)resolve(url);
      FAIL("accepted");
    } catch (const corocache::cache_error& e) {
      CHECK_THAT(e.what(), !Catch::Contains("hunter2"));
    }
  }
  CHECK_THAT(rejection("redis-cluster://u:hunter2@h:7000,k:7001/3"),
             Catch::Contains("redis-cluster://***@h:7000,k:7001"));
}

TEST_CASE("a command is routed by its key, or by the first key of a script", "[cluster]") {
  CHECK(cluster_routing_key(redis_command{"GET", "app:k"}) == "app:k");
  CHECK(cluster_routing_key(redis_command{"SET", "{user:1}:a", "v", "PX", "100"}) == "{user:1}:a");
  CHECK(cluster_routing_key(redis_command{"MGET", "a", "b"}) == "a");
  CHECK(cluster_routing_key(redis_command{"EVALSHA", "abc", "1", "counter", "5"}) == "counter");
  CHECK(cluster_routing_key(redis_command{"eval", "return 1", "2", "x", "y"}) == "x");
  CHECK(cluster_routing_key(redis_command{"EVAL", "return 1", "0"}).empty());
  CHECK(cluster_routing_key(redis_command{"PING"}).empty());
  CHECK(cluster_routing_key(redis_command{}).empty());

  // Arguments of any length, binary ones included, are read back exactly.
  const std::string binary("k\0\r\n$3\r\n", 9);
  const std::string long_key(5000, 'x');
  redis_command command{"SET"};
  command.push_back("prefix:", binary);
  command.push_back(long_key);
  CHECK(command.argument(0) == "SET");
  CHECK(command.argument(1) == "prefix:" + binary);
  CHECK(command.argument(2) == long_key);
  CHECK(command.argument(3).empty());
  CHECK(corocache::detail::cluster_key_slot(cluster_routing_key(command)) ==
        corocache::detail::cluster_key_slot("prefix:" + binary));
}
