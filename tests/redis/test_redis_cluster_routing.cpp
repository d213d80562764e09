// redis_cluster_connection against the real local cluster: keys reach their masters, and a slot
// moved by hand (CLUSTER SETSLOT) is followed through ASK while it migrates and MOVED after.
#include <set>
#include <string>

#include "corocache/detail/cluster_slot.hpp"
#include "corocache/detail/redis_cluster_connection.hpp"
#include "support/catch.hpp"
#include "support/redis_cluster.hpp"
#include "support/run_coroutine.hpp"

using namespace corocache;
using namespace corocache::detail;
using namespace std::chrono_literals;
using corocache::test::redis_cluster;
using corocache::test::run_coroutine;
using kind = redis_reply::kind;

namespace {

std::shared_ptr<redis_cluster_connection> connect_to(asio::any_io_executor executor,
                                                     const redis_cluster& cluster) {
  redis_cluster_options options;
  redis_endpoint seed;
  seed.host = "127.0.0.1";
  seed.port = cluster.port(0);
  options.seeds.push_back(seed);
  options.node.command_timeout = 2000ms;
  options.node.health_check_interval = 0ms;
  return redis_cluster_connection::create(std::move(executor), std::move(options));
}

}  // namespace

TEST_CASE("set, get and erase through the cluster connection reach each key's master",
          "[cluster][topology]") {
  auto& cluster = corocache::test::shared_redis_cluster();
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto connection = connect_to(ex, cluster);
    co_await connection->connect();
    const auto map = connection->slot_map();
    CHECK(map.covers_all());
    std::set<std::uint16_t> owners;
    for (int i = 0; i < 60; ++i) {
      const auto key = "routing:" + std::to_string(i);
      const auto value = "value " + std::to_string(i);
      redis_command set{"SET", key, value};
      auto stored = co_await connection->execute(key, std::move(set));
      CHECK(stored.str == "OK");
      // Checked on the owner itself, without the code under test.
      const auto owner = cluster.index_of(map.master_for(cluster_key_slot(key))->port);
      owners.insert(cluster.port(owner));
      CHECK(cluster.command(owner, {"GET", key}).str == value);
      redis_command read{"GET", key};
      auto got = co_await connection->execute(key, std::move(read));
      CHECK(got.str == value);
      redis_command erase{"DEL", key};
      auto erased = co_await connection->execute(key, std::move(erase));
      CHECK(erased.integer == 1);
      redis_command again{"GET", key};
      auto missing = co_await connection->execute(key, std::move(again));
      CHECK(missing.type == kind::nil);
    }
    CHECK(owners.size() == 3);  // the keys spread over every master
    CHECK(connection->counters().moved == 0);
    // One connection per master, plus one to the seed when it is a replica.
    bool seed_is_master = false;
    for (const auto& shard : map.shards()) seed_is_master |= shard.master.port == cluster.port(0);
    CHECK(connection->counters().nodes == (seed_is_master ? 3u : 4u));
    co_await connection->close();
  });
}

TEST_CASE("a slot being migrated is followed through ASK, and through MOVED once it has moved",
          "[cluster][topology]") {
  auto& cluster = corocache::test::shared_redis_cluster();
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto connection = connect_to(ex, cluster);
    co_await connection->connect();
    const std::string key = "{migrating}:key";
    const auto slot = cluster_key_slot(key);
    const auto slot_text = std::to_string(slot);
    const auto map = connection->slot_map();
    const auto* source = map.master_for(slot);
    REQUIRE(source != nullptr);
    const cluster_node* destination = nullptr;
    for (const auto& shard : map.shards()) {
      if (!shard.master.same_address(*source)) destination = &shard.master;
    }
    REQUIRE(destination != nullptr);
    const auto src = cluster.index_of(source->port);
    const auto dst = cluster.index_of(destination->port);
    REQUIRE(cluster.command(dst, {"CLUSTER", "SETSLOT", slot_text, "IMPORTING", source->id}).str ==
            "OK");
    REQUIRE(
        cluster.command(src, {"CLUSTER", "SETSLOT", slot_text, "MIGRATING", destination->id}).str ==
        "OK");

    // The key is not on the source: it answers ASK, and the write lands on the destination.
    redis_command set{"SET", key, "moved value"};
    auto stored = co_await connection->execute(key, std::move(set));
    CHECK(stored.str == "OK");
    CHECK(connection->counters().ask == 1);
    CHECK(cluster.command(dst, {"CLUSTER", "COUNTKEYSINSLOT", slot_text}).integer == 1);
    CHECK(cluster.command(src, {"CLUSTER", "COUNTKEYSINSLOT", slot_text}).integer == 0);
    CHECK(connection->slot_map().master_for(slot)->same_address(*source));  // ASK changes no map

    // The migration ends: the destination owns the slot (it bumps its epoch, the others learn).
    REQUIRE(cluster.command(dst, {"CLUSTER", "SETSLOT", slot_text, "NODE", destination->id}).str ==
            "OK");
    REQUIRE(cluster.command(src, {"CLUSTER", "SETSLOT", slot_text, "NODE", destination->id}).str ==
            "OK");
    redis_command get{"GET", key};
    auto got = co_await connection->execute(key, std::move(get));
    CHECK(got.str == "moved value");
    CHECK(connection->counters().moved == 1);
    CHECK(connection->slot_map().master_for(slot)->same_address(*destination));
    co_await connection->close();
  });
  CHECK(cluster.wait_until_stable(20s));
}
