// The slot map read from CLUSTER SLOTS replies (built by hand in redis-server 7.0's shape) and
// patched by MOVED.
#include "corocache/detail/cluster_slot_map.hpp"

#include <initializer_list>
#include <string>

#include "corocache/error.hpp"
#include "support/catch.hpp"
#include "support/reply_builders.hpp"

using namespace corocache;
using namespace corocache::detail;
using namespace corocache::test;

namespace {

// [host, port, id, [metadata]] as redis-server 7.0 sends it.
redis_reply node(std::string host, long long port, std::string id) {
  return array({bulk(std::move(host)), integer(port), bulk(std::move(id)), array({})});
}
redis_reply range(long long start, long long end, std::vector<redis_reply> nodes) {
  std::vector<redis_reply> elements{integer(start), integer(end)};
  for (auto& n : nodes) elements.push_back(std::move(n));
  return array(std::move(elements));
}

// Three masters with a replica each, the way `redis-cli --cluster create` splits the slots.
redis_reply three_shards() {
  return array({
      range(0, 5460, {node("127.0.0.1", 7000, "a"), node("127.0.0.1", 7004, "a2")}),
      range(5461, 10922, {node("127.0.0.1", 7001, "b"), node("127.0.0.1", 7005, "b2")}),
      range(10923, 16383, {node("127.0.0.1", 7002, "c"), node("127.0.0.1", 7003, "c2")}),
  });
}

void check_protocol_error(const redis_reply& reply) {
  try {
    (void)cluster_slot_map::from_cluster_slots(reply, "127.0.0.1", "127.0.0.1:7000");
    FAIL("no error");
  } catch (const cache_error& e) {
    CHECK(e.error() == errc::protocol_error);
    CHECK(std::string(e.what()).find("CLUSTER SLOTS from 127.0.0.1:7000") != std::string::npos);
  }
}

}  // namespace

TEST_CASE("a full CLUSTER SLOTS reply maps every slot to its master", "[cluster_slot_map]") {
  const auto map = cluster_slot_map::from_cluster_slots(three_shards(), "127.0.0.1", "seed");
  CHECK(map.covers_all());
  CHECK(map.covered_slots() == 16384);
  REQUIRE(map.shards().size() == 3);
  CHECK(map.master_for(0)->port == 7000);
  CHECK(map.master_for(5460)->port == 7000);
  CHECK(map.master_for(5461)->port == 7001);
  CHECK(map.master_for(10922)->port == 7001);
  CHECK(map.master_for(10923)->port == 7002);
  CHECK(map.master_for(16383)->port == 7002);
  CHECK(map.master_for(16383)->id == "c");
  CHECK(map.master_for(16383)->description() == "127.0.0.1:7002");
  const auto* shard = map.shard_for(100);
  REQUIRE(shard != nullptr);
  REQUIRE(shard->replicas.size() == 1);
  CHECK(shard->replicas[0].port == 7004);
  CHECK(map.master_for(16384) == nullptr);
}

TEST_CASE("several ranges of one master make one shard", "[cluster_slot_map]") {
  const auto reply = array({
      range(0, 99, {node("10.0.0.1", 6379, "a"), node("10.0.0.2", 6379, "a2")}),
      range(100, 199, {node("10.0.0.3", 6379, "b")}),
      range(200, 200, {node("10.0.0.1", 6379, "a"), node("10.0.0.2", 6379, "a2")}),
  });
  const auto map = cluster_slot_map::from_cluster_slots(reply, "10.0.0.1", "seed");
  CHECK(map.shards().size() == 2);
  CHECK(map.shard_for(200) == map.shard_for(0));
  CHECK(map.shard_for(200)->replicas.size() == 1);  // the replica is not listed twice
  CHECK(map.covered_slots() == 201);
  CHECK_FALSE(map.covers_all());
  CHECK(map.master_for(201) == nullptr);
}

TEST_CASE("an empty host is the answering node's; '?' or nil leaves the range uncovered",
          "[cluster_slot_map]") {
  redis_reply nil_host = node("x", 7002, "c");
  nil_host.elements[0] = redis_reply{};
  const auto reply = array({
      range(0, 9, {node("", 7000, "a")}),
      range(10, 19, {node("?", 7001, "b")}),
      range(20, 29, {nil_host}),
      range(30, 39, {node("127.0.0.1", 7003, "d"), node("?", 7004, "d2")}),
  });
  const auto map = cluster_slot_map::from_cluster_slots(reply, "192.168.1.9", "seed");
  REQUIRE(map.master_for(0) != nullptr);
  CHECK(map.master_for(0)->host == "192.168.1.9");
  CHECK(map.master_for(10) == nullptr);
  CHECK(map.master_for(20) == nullptr);
  CHECK(map.shard_for(30)->replicas.empty());
  CHECK(map.covered_slots() == 20);
}

TEST_CASE("nodes without metadata (Redis 6) and without an id are read", "[cluster_slot_map]") {
  const auto reply = array({range(0, 16383, {array({bulk("127.0.0.1"), integer(7000)})})});
  const auto map = cluster_slot_map::from_cluster_slots(reply, "127.0.0.1", "seed");
  CHECK(map.covers_all());
  CHECK(map.master_for(42)->id.empty());
}

TEST_CASE("an empty reply covers nothing", "[cluster_slot_map]") {
  const auto map = cluster_slot_map::from_cluster_slots(array({}), "h", "seed");
  CHECK(map.covered_slots() == 0);
  CHECK(map.shards().empty());
  CHECK(map.master_for(0) == nullptr);
}

TEST_CASE("a reply not shaped like CLUSTER SLOTS is a protocol error", "[cluster_slot_map]") {
  check_protocol_error(bulk("OK"));
  check_protocol_error(array({integer(1)}));
  check_protocol_error(array({range(0, 1, {})}));                              // no master
  check_protocol_error(array({array({integer(0), integer(1), integer(3)})}));  // master not array
  check_protocol_error(array({range(5, 4, {node("h", 1, "a")})}));             // start > end
  check_protocol_error(array({range(-1, 4, {node("h", 1, "a")})}));
  check_protocol_error(array({range(0, 16384, {node("h", 1, "a")})}));
  check_protocol_error(array({array({bulk("0"), integer(1), node("h", 1, "a")})}));
  check_protocol_error(array({range(0, 1, {array({bulk("h")})})}));  // no port
  check_protocol_error(array({range(0, 1, {array({bulk("h"), bulk("1")})})}));
  check_protocol_error(array({range(0, 1, {array({bulk("h"), integer(70000)})})}));
  check_protocol_error(array({range(0, 1, {array({integer(1), integer(1)})})}));  // host
  check_protocol_error(array({range(0, 1, {node("h", 1, "a"), integer(2)})}));    // replica
}

TEST_CASE("MOVED moves one slot, to a known or a new master", "[cluster_slot_map]") {
  auto map = cluster_slot_map::from_cluster_slots(three_shards(), "127.0.0.1", "seed");
  map.assign(42, cluster_node{"127.0.0.1", 7001, ""});
  CHECK(map.master_for(42)->port == 7001);
  CHECK(map.master_for(42)->id == "b");  // the known master, with its id
  CHECK(map.master_for(41)->port == 7000);
  CHECK(map.master_for(43)->port == 7000);
  CHECK(map.shards().size() == 3);
  map.assign(43, cluster_node{"127.0.0.1", 7003, ""});  // a promoted replica
  CHECK(map.master_for(43)->port == 7003);
  CHECK(map.shards().size() == 4);
  CHECK(map.covers_all());
  map.assign(16384, cluster_node{"127.0.0.1", 7000, ""});  // ignored
  CHECK(map.covers_all());
}

TEST_CASE("an empty map covers nothing and MOVED fills it slot by slot", "[cluster_slot_map]") {
  cluster_slot_map map;
  CHECK(map.covered_slots() == 0);
  map.assign(0, cluster_node{"h", 1, ""});
  CHECK(map.covered_slots() == 1);
  CHECK(map.master_for(0)->description() == "h:1");
  map.assign(1, cluster_node{"::1", 2, ""});
  CHECK(map.master_for(1)->description() == "[::1]:2");
}
