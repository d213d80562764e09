// The cluster test harness against a real local cluster (3 masters + 3 replicas), and the routing
// parts read against what the servers themselves say: their CLUSTER SLOTS, CLUSTER KEYSLOT and
// MOVED replies. One cluster for the whole executable (forming one takes seconds).
#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "corocache/detail/cluster_redirect.hpp"
#include "corocache/detail/cluster_slot.hpp"
#include "support/catch.hpp"
#include "support/redis_cluster.hpp"

using namespace corocache;
using namespace corocache::detail;
using corocache::test::redis_cluster;
using kind = redis_reply::kind;

namespace {

std::string key_number(int i) {
  // Plain keys, hash-tagged keys, and keys with bytes a text protocol would mangle.
  switch (i % 4) {
    case 0:
      return "key:" + std::to_string(i);
    case 1:
      return "{user:" + std::to_string(i % 7) + "}:profile:" + std::to_string(i);
    case 2:
      return std::string("bin\0\r\n", 6) + std::to_string(i) + "\xff";
    default:
      return "x{}{" + std::to_string(i) + "}";
  }
}

}  // namespace

TEST_CASE("every node's CLUSTER SLOTS reads as a map with full coverage by three masters",
          "[cluster][topology]") {
  auto& cluster = corocache::test::shared_redis_cluster();
  REQUIRE(cluster.size() == 6);
  std::set<std::uint16_t> masters_seen_by_node0;
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    INFO("node " << i << " on port " << cluster.port(i));
    const auto map = cluster.slot_map(i);
    CHECK(map.covers_all());
    REQUIRE(map.shards().size() == 3);
    std::set<std::uint16_t> ports;
    for (const auto& shard : map.shards()) {
      CHECK(shard.master.host == "127.0.0.1");
      CHECK(shard.master.id.size() == 40);
      ports.insert(shard.master.port);
      REQUIRE(shard.replicas.size() == 1);
      ports.insert(shard.replicas[0].port);
    }
    // Every node of the cluster appears once, as a master or as a replica.
    REQUIRE(ports.size() == 6);
    for (const auto port : ports) CHECK(cluster.index_of(port) < cluster.size());
    std::set<std::uint16_t> masters;
    for (const auto& shard : map.shards()) masters.insert(shard.master.port);
    if (i == 0) masters_seen_by_node0 = masters;
    CHECK(masters == masters_seen_by_node0);  // every node agrees on who the masters are
  }
}

TEST_CASE("cluster_key_slot agrees with the server's CLUSTER KEYSLOT", "[cluster][topology]") {
  auto& cluster = corocache::test::shared_redis_cluster();
  for (int i = 0; i < 200; ++i) {
    const auto key = key_number(i);
    const auto reply = cluster.command(0, {"CLUSTER", "KEYSLOT", key});
    REQUIRE(reply.type == kind::integer);
    CHECK(cluster_key_slot(key) == reply.integer);
  }
}

TEST_CASE("the map's master accepts a key; every other master answers MOVED to it",
          "[cluster][topology]") {
  auto& cluster = corocache::test::shared_redis_cluster();
  const auto map = cluster.slot_map(0);
  for (int i = 0; i < 40; ++i) {
    const auto key = key_number(i);
    const auto slot = cluster_key_slot(key);
    const auto* owner = map.master_for(slot);
    REQUIRE(owner != nullptr);
    const auto owner_index = cluster.index_of(owner->port);
    const auto stored = cluster.command(owner_index, {"SET", key, "v" + std::to_string(i)});
    CHECK(stored.type == kind::status);
    CHECK(stored.str == "OK");
    for (const auto& shard : map.shards()) {
      if (shard.master.same_address(*owner)) continue;
      const auto reply = cluster.command(cluster.index_of(shard.master.port), {"GET", key});
      REQUIRE(reply.type == kind::error);
      const auto redirect = parse_cluster_error(reply.str);
      REQUIRE(redirect.has_value());
      CHECK(redirect->what == cluster_redirect::kind::moved);
      CHECK(redirect->slot == slot);
      CHECK(redirect->host == "127.0.0.1");
      CHECK(redirect->port == owner->port);
    }
  }
}

TEST_CASE("grouping by slot sends each group to one master in one MGET", "[cluster][topology]") {
  auto& cluster = corocache::test::shared_redis_cluster();
  const auto map = cluster.slot_map(0);
  std::vector<std::string> keys;
  for (int i = 0; i < 24; ++i)
    keys.push_back("{g" + std::to_string(i % 5) + "}:" + std::to_string(i));
  keys.push_back(keys[3]);  // a duplicate
  keys.push_back("{g1}:missing");
  for (std::size_t i = 0; i + 1 < keys.size(); ++i) {
    if (keys[i] == "{g1}:missing") continue;
    const auto owner = cluster.index_of(map.master_for(cluster_key_slot(keys[i]))->port);
    REQUIRE(cluster.command(owner, {"SET", keys[i], "value of " + keys[i]}).str == "OK");
  }
  const auto groups = group_by_slot(keys);
  CHECK(groups.size() == 5);
  std::vector<std::vector<std::optional<std::string>>> results;
  for (const auto& group : groups) {
    std::vector<std::string> mget{"MGET"};
    for (const auto position : group.positions) mget.push_back(keys[position]);
    const auto reply = cluster.command(cluster.index_of(map.master_for(group.slot)->port), mget);
    REQUIRE(reply.type == kind::array);  // no CROSSSLOT: one slot per command
    auto& values = results.emplace_back();
    for (const auto& element : reply.elements) {
      values.push_back(element.type == kind::nil ? std::nullopt
                                                 : std::optional<std::string>(element.str));
    }
  }
  const auto merged =
      merge_slot_results<std::optional<std::string>>(groups, std::move(results), keys.size());
  REQUIRE(merged.size() == keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    INFO(keys[i]);
    if (keys[i] == "{g1}:missing") {
      CHECK_FALSE(merged[i].has_value());
    } else {
      CHECK(merged[i] == "value of " + keys[i]);
    }
  }
}

TEST_CASE("a replica killed and restarted rejoins the cluster with its identity",
          "[cluster][topology]") {
  auto& cluster = corocache::test::shared_redis_cluster();
  const auto map = cluster.slot_map(0);
  const auto& shard = *map.shard_for(0);
  const auto replica = cluster.index_of(shard.replicas[0].port);
  REQUIRE(replica < cluster.size());
  cluster.node(replica).kill();
  CHECK_FALSE(cluster.node(replica).running());
  cluster.node(replica).restart();
  REQUIRE(cluster.wait_until_stable(std::chrono::seconds(20)));
  const auto after = cluster.slot_map(replica);
  CHECK(after.covers_all());
  REQUIRE(after.shard_for(0) != nullptr);
  CHECK(after.shard_for(0)->master.same_address(shard.master));
}
