// The failover-following decisions of a redis-sentinel:// connection, without a server: reading
// +switch-master announcements, the order and pace of subscriptions, when the master connection
// is dropped.
#include "corocache/detail/redis_sentinel_watch.hpp"

#include <set>
#include <string>

#include "support/catch.hpp"
#include "support/reply_builders.hpp"

using namespace corocache::detail;
using namespace corocache::test;
using namespace std::chrono_literals;

namespace {

redis_reply message(std::string channel, std::string payload) {
  return array({bulk("message"), bulk(std::move(channel)), bulk(std::move(payload))});
}

sentinel_switch announcement(std::string name, std::string host, std::uint16_t port) {
  return {std::move(name), "127.0.0.1", 7000, std::move(host), port};
}

}  // namespace

TEST_CASE("a +switch-master message gives the master's name, old and new address", "[sentinel]") {
  const auto s = parse_switch_master(message("+switch-master", "mymaster 127.0.0.1 7000 ::1 7001"));
  REQUIRE(s);
  CHECK(s->master_name == "mymaster");
  CHECK(s->old_host == "127.0.0.1");
  CHECK(s->old_port == 7000);
  CHECK(s->new_host == "::1");
  CHECK(s->new_port == 7001);
}

TEST_CASE("other pubsub messages and malformed announcements are not switches", "[sentinel]") {
  // The subscription's confirmation and a pong in subscribe mode.
  CHECK_FALSE(parse_switch_master(array({bulk("subscribe"), bulk("+switch-master"), integer(1)})));
  CHECK_FALSE(parse_switch_master(array({bulk("pong"), bulk("")})));
  CHECK_FALSE(parse_switch_master(message("+sdown", "master mymaster 127.0.0.1 7000")));
  CHECK_FALSE(parse_switch_master(message("+switch-master", "mymaster 127.0.0.1 7000 ::1")));
  CHECK_FALSE(
      parse_switch_master(message("+switch-master", "mymaster 127.0.0.1 7000 ::1 7001 extra")));
  CHECK_FALSE(parse_switch_master(message("+switch-master", "mymaster 127.0.0.1 7000 ::1 0")));
  CHECK_FALSE(parse_switch_master(message("+switch-master", "mymaster 127.0.0.1 7000 ::1 65536")));
  CHECK_FALSE(parse_switch_master(message("+switch-master", "mymaster 127.0.0.1 x ::1 7001")));
  CHECK_FALSE(parse_switch_master(error("ERR unknown")));
  CHECK_FALSE(parse_switch_master(array({bulk("message"), bulk("+switch-master"), integer(1)})));
}

TEST_CASE("only READONLY error replies count as a demoted master", "[sentinel]") {
  CHECK(is_readonly_error(error("READONLY You can't write against a read only replica.")));
  CHECK_FALSE(is_readonly_error(status("READONLY")));
  CHECK_FALSE(is_readonly_error(bulk("READONLY")));
  CHECK_FALSE(is_readonly_error(error("ERR READONLY")));
  CHECK_FALSE(is_readonly_error(error("MOVED 1 127.0.0.1:7000")));
}

TEST_CASE("an announcement drops the connection only when it moves our master elsewhere",
          "[sentinel]") {
  sentinel_master_watch watch("mymaster", 1000ms);
  // No master in use yet: the coming discovery asks the sentinels anyway.
  CHECK_FALSE(watch.on_switch(announcement("mymaster", "127.0.0.1", 7001)));
  watch.on_master("127.0.0.1", 7000);
  CHECK(watch.on_switch(announcement("mymaster", "127.0.0.1", 7001)));
  CHECK(watch.on_switch(announcement("mymaster", "127.0.0.2", 7000)));
  CHECK_FALSE(watch.on_switch(announcement("othermaster", "127.0.0.1", 7001)));
  // Already on the announced master (discovery found it before the announcement arrived).
  watch.on_master("127.0.0.1", 7001);
  CHECK_FALSE(watch.on_switch(announcement("mymaster", "127.0.0.1", 7001)));
}

TEST_CASE("READONLY drops the connection at most once per period", "[sentinel]") {
  sentinel_master_watch watch("mymaster", 1000ms);
  const std::chrono::steady_clock::time_point t0{};
  CHECK(watch.on_readonly(t0 + 5s));
  CHECK_FALSE(watch.on_readonly(t0 + 5s));
  CHECK_FALSE(watch.on_readonly(t0 + 5s + 999ms));
  CHECK(watch.on_readonly(t0 + 6s));
  CHECK_FALSE(watch.on_readonly(t0 + 6s + 1ms));
}

TEST_CASE("subscriptions go round the sentinels, with a bounded growing delay after failures",
          "[sentinel]") {
  sentinel_subscription_schedule schedule(3, 100ms, 800ms, 42);
  const auto first = schedule.first();
  CHECK(first.sentinel == 0);
  CHECK(first.delay == 0ms);
  std::set<std::size_t> visited;
  auto previous = first.sentinel;
  for (int i = 0; i < 20; ++i) {
    const auto next = schedule.after_failure();
    CHECK(next.sentinel == (previous + 1) % 3);
    CHECK(next.delay <= 800ms);
    if (i >= 5) CHECK(next.delay >= 400ms);  // capped at max, jitter keeps at least half
    visited.insert(next.sentinel);
    previous = next.sentinel;
  }
  CHECK(visited.size() == 3);
  // A confirmed subscription resets the pace: the next failure retries at once, elsewhere.
  schedule.on_subscribed();
  const auto after_reset = schedule.after_failure();
  CHECK(after_reset.delay == 0ms);
  CHECK(after_reset.sentinel == (previous + 1) % 3);
}

TEST_CASE("a single sentinel is retried in place", "[sentinel]") {
  sentinel_subscription_schedule schedule(1, 10ms, 20ms, 1);
  CHECK(schedule.first().sentinel == 0);
  CHECK(schedule.after_failure().sentinel == 0);
  CHECK(schedule.after_failure().sentinel == 0);
}
