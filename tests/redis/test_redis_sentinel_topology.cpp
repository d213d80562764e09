// The Sentinel test harness against the real processes: the sentinels agree on the master, and a
// killed or paused master is replaced by its replica. The library's own failover handling is
// tested in test_redis_sentinel_failover.cpp.
#include <chrono>
#include <thread>

#include "support/catch.hpp"
#include "support/redis_sentinel.hpp"

using corocache::test::redis_sentinel_group;
using kind = corocache::detail::redis_reply::kind;
using namespace std::chrono_literals;

namespace {

// Bounded in time: a failover takes down-after + an election + a promotion, seconds here.
constexpr auto failover_limit = std::chrono::milliseconds(30'000);

bool wait_for_role(const redis_sentinel_group& group, std::uint16_t port, const std::string& role) {
  const auto deadline = std::chrono::steady_clock::now() + failover_limit;
  while (group.role_of(port) != role) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

}  // namespace

TEST_CASE("the sentinels agree on the master, whose writes reach the replica",
          "[sentinel][topology]") {
  redis_sentinel_group group;
  const auto master = group.data_node(0).port();
  const auto replica = group.data_node(1).port();
  for (std::size_t i = 0; i < redis_sentinel_group::sentinel_count; ++i) {
    INFO("sentinel " << i << " on port " << group.sentinel_port(i));
    CHECK(group.master_port_seen_by(i) == master);
  }
  CHECK(group.role_of(master) == "master");
  CHECK(group.role_of(replica) == "slave");
  REQUIRE(redis_sentinel_group::command(master, {"SET", "k", "v"}).str == "OK");
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (redis_sentinel_group::command(replica, {"GET", "k"}).str != "v" &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  CHECK(redis_sentinel_group::command(replica, {"GET", "k"}).str == "v");
  CHECK(redis_sentinel_group::command(replica, {"SET", "k", "w"}).type == kind::error);
  CHECK(group.sentinel_hosts().find("127.0.0.1:" + std::to_string(group.sentinel_port(2))) !=
        std::string::npos);
}

TEST_CASE("a SIGKILLed master is replaced by its replica", "[sentinel][topology]") {
  redis_sentinel_group group;
  const auto old_master = group.data_node(0).port();
  group.data_node(0).kill();
  const auto started = std::chrono::steady_clock::now();
  const auto new_master = group.wait_for_failover(old_master, failover_limit);
  WARN("failover after SIGKILL took " << std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::steady_clock::now() - started)
                                             .count()
                                      << "ms");
  REQUIRE(new_master == group.data_node(1).port());
  CHECK(redis_sentinel_group::command(new_master, {"SET", "k", "v"}).str == "OK");
}

TEST_CASE("a paused master is failed over and rejoins as a replica once resumed",
          "[sentinel][topology]") {
  redis_sentinel_group group;
  const auto old_master = group.data_node(0).port();
  group.data_node(0).pause();
  const auto new_master = group.wait_for_failover(old_master, failover_limit);
  REQUIRE(new_master == group.data_node(1).port());
  group.data_node(0).resume();
  CHECK(wait_for_role(group, old_master, "slave"));
  CHECK(redis_sentinel_group::command(old_master, {"SET", "k", "v"}).type == kind::error);
}

TEST_CASE("sentinels and data nodes with passwords form a group", "[sentinel][topology]") {
  redis_sentinel_group group(redis_sentinel_group::options{.data_password = "data-secret",
                                                           .sentinel_password = "sentinel-secret"});
  CHECK(group.role_of(group.data_node(0).port()) == "master");
  CHECK(redis_sentinel_group::command(group.sentinel_port(0), {"PING"}).type == kind::error);
  CHECK(group.master_port_seen_by(0) == group.data_node(0).port());
}
