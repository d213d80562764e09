// Cluster error replies: redirects, retry-later errors, and malformed or truncated ones.
#include "corocache/detail/cluster_redirect.hpp"

#include "support/catch.hpp"

using namespace corocache::detail;
using kind = cluster_redirect::kind;

TEST_CASE("MOVED names the slot and its new master", "[cluster_redirect]") {
  const auto r = parse_cluster_error("MOVED 3999 127.0.0.1:6381");
  REQUIRE(r.has_value());
  CHECK(r->what == kind::moved);
  CHECK(r->slot == 3999);
  CHECK(r->host == "127.0.0.1");
  CHECK(r->port == 6381);
  CHECK_FALSE(r->retry_later());
}

TEST_CASE("ASK names the slot and the importing node", "[cluster_redirect]") {
  const auto r = parse_cluster_error("ASK 0 10.0.0.7:7000");
  REQUIRE(r.has_value());
  CHECK(r->what == kind::ask);
  CHECK(r->slot == 0);
  CHECK(r->host == "10.0.0.7");
  CHECK(r->port == 7000);
}

TEST_CASE("a redirect to a hostname, an IPv6 address or an empty host", "[cluster_redirect]") {
  const auto named = parse_cluster_error("MOVED 16383 redis-2.example:6379");
  REQUIRE(named.has_value());
  CHECK(named->slot == 16383);
  CHECK(named->host == "redis-2.example");
  const auto v6 = parse_cluster_error("MOVED 12 ::1:7001");
  REQUIRE(v6.has_value());
  CHECK(v6->host == "::1");
  CHECK(v6->port == 7001);
  const auto empty_host = parse_cluster_error("ASK 12 :7002");
  REQUIRE(empty_host.has_value());
  CHECK(empty_host->what == kind::ask);
  CHECK(empty_host->host.empty());
  CHECK(empty_host->port == 7002);
}

TEST_CASE("TRYAGAIN, CLUSTERDOWN and LOADING ask to retry later", "[cluster_redirect]") {
  const auto try_again =
      parse_cluster_error("TRYAGAIN Multiple keys request during rehashing of slot");
  REQUIRE(try_again.has_value());
  CHECK(try_again->what == kind::try_again);
  CHECK(try_again->retry_later());
  const auto down = parse_cluster_error("CLUSTERDOWN The cluster is down");
  REQUIRE(down.has_value());
  CHECK(down->what == kind::cluster_down);
  CHECK(down->retry_later());
  const auto unbound = parse_cluster_error("CLUSTERDOWN Hash slot not served");
  REQUIRE(unbound.has_value());
  CHECK(unbound->what == kind::cluster_down);
  const auto loading = parse_cluster_error("LOADING Redis is loading the dataset in memory");
  REQUIRE(loading.has_value());
  CHECK(loading->what == kind::loading);
  CHECK(loading->retry_later());
  CHECK(parse_cluster_error("TRYAGAIN")->what == kind::try_again);
}

TEST_CASE("ordinary errors are not the cluster's", "[cluster_redirect]") {
  CHECK_FALSE(
      parse_cluster_error("WRONGTYPE Operation against a key holding the wrong kind").has_value());
  CHECK_FALSE(parse_cluster_error("ERR unknown command").has_value());
  CHECK_FALSE(parse_cluster_error("").has_value());
  CHECK_FALSE(parse_cluster_error("MOVEDX 1 h:1").has_value());
  CHECK_FALSE(parse_cluster_error("moved 1 h:1").has_value());  // Redis spells them upper case
  CHECK_FALSE(parse_cluster_error("ASKING").has_value());
}

TEST_CASE("a malformed or truncated MOVED or ASK is reported as malformed", "[cluster_redirect]") {
  const char* bad[] = {
      "MOVED",                   // truncated after the word
      "MOVED ",                  // truncated after the space
      "MOVED 3999",              // no address
      "MOVED 3999 ",             // empty address
      "MOVED 3999 127.0.0.1",    // no port
      "MOVED 3999 127.0.0.1:",   // empty port
      "MOVED 3999 127.0.0.1:0",  // port 0
      "MOVED 3999 127.0.0.1:65536",
      "MOVED 3999 127.0.0.1:63a1",
      "MOVED 3999 127.0.0.1:-1",
      "MOVED 16384 127.0.0.1:6379",  // slot out of range
      "MOVED -1 127.0.0.1:6379",
      "MOVED x 127.0.0.1:6379",
      "MOVED  3999 127.0.0.1:6379",  // two spaces
      "MOVED 3999 127.0.0.1:6379 extra",
      "ASK 1",
      "ASK abc h:1",
      "ASK 99999999999999999999 h:1",
  };
  for (const char* message : bad) {
    INFO(message);
    const auto r = parse_cluster_error(message);
    REQUIRE(r.has_value());
    CHECK(r->what == kind::malformed);
    CHECK_FALSE(r->retry_later());
  }
}

TEST_CASE("host:port splits at the last colon", "[cluster_redirect]") {
  CHECK(split_host_port("h:1") == std::pair<std::string, std::uint16_t>{"h", 1});
  CHECK(split_host_port("fe80::1:65535") ==
        std::pair<std::string, std::uint16_t>{"fe80::1", 65535});
  CHECK_FALSE(split_host_port("h").has_value());
  CHECK_FALSE(split_host_port("h:").has_value());
  CHECK_FALSE(split_host_port("h:+1").has_value());
}
