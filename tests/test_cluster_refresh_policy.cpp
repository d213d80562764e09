// The topology refresh policy, driven with made-up time points.
#include "corocache/detail/cluster_refresh_policy.hpp"

#include "support/catch.hpp"

using namespace corocache::detail;
using namespace std::chrono_literals;

namespace {
const cluster_refresh_policy::time_point t0{std::chrono::seconds(1000)};
}

TEST_CASE("the first request starts a refresh at once", "[cluster_refresh_policy]") {
  cluster_refresh_policy policy(100ms);
  CHECK(policy.request(t0));
  CHECK(policy.in_flight());
  CHECK(policy.started() == 1);
  CHECK_FALSE(policy.due().has_value());
}

TEST_CASE("requests while a refresh runs join it", "[cluster_refresh_policy]") {
  cluster_refresh_policy policy(100ms);
  REQUIRE(policy.request(t0));
  for (int i = 0; i < 63; ++i) CHECK_FALSE(policy.request(t0 + 500ms));  // long after min_interval
  CHECK(policy.started() == 1);
  CHECK(policy.coalesced() == 63);
  CHECK_FALSE(policy.due().has_value());  // a joined request schedules nothing
  policy.finished(true);
  CHECK_FALSE(policy.in_flight());
  CHECK_FALSE(policy.on_timer(t0 + 10s));
}

TEST_CASE("a request too soon after the last refresh is scheduled for later",
          "[cluster_refresh_policy]") {
  cluster_refresh_policy policy(100ms);
  REQUIRE(policy.request(t0));
  policy.finished(true);
  CHECK_FALSE(policy.request(t0 + 30ms));
  REQUIRE(policy.due().has_value());
  CHECK(*policy.due() == t0 + 100ms);
  CHECK_FALSE(policy.request(t0 + 40ms));  // joins the scheduled one
  CHECK(*policy.due() == t0 + 100ms);
  CHECK_FALSE(policy.on_timer(t0 + 99ms));  // a timer that fires early starts nothing
  CHECK(policy.on_timer(t0 + 100ms));
  CHECK(policy.in_flight());
  CHECK_FALSE(policy.due().has_value());
  CHECK(policy.started() == 2);
  CHECK_FALSE(policy.on_timer(t0 + 200ms));  // at most one start per schedule
}

TEST_CASE("a request after the interval starts at once", "[cluster_refresh_policy]") {
  cluster_refresh_policy policy(100ms);
  REQUIRE(policy.request(t0));
  policy.finished(true);
  CHECK(policy.request(t0 + 100ms));
  CHECK(policy.started() == 2);
}

TEST_CASE("a failed refresh is retried one interval after it started", "[cluster_refresh_policy]") {
  cluster_refresh_policy policy(100ms);
  REQUIRE(policy.request(t0));
  policy.finished(false);
  REQUIRE(policy.due().has_value());
  CHECK(*policy.due() == t0 + 100ms);
  CHECK_FALSE(policy.request(t0 + 50ms));
  CHECK(policy.on_timer(t0 + 150ms));
  policy.finished(true);
  CHECK_FALSE(policy.due().has_value());
}

TEST_CASE("a zero interval only keeps refreshes single-flight", "[cluster_refresh_policy]") {
  cluster_refresh_policy policy(0ms);
  REQUIRE(policy.request(t0));
  CHECK_FALSE(policy.request(t0));
  policy.finished(true);
  CHECK(policy.request(t0));
  policy.finished(false);
  CHECK(policy.on_timer(t0));
}

TEST_CASE("a timer or finished() out of turn changes nothing", "[cluster_refresh_policy]") {
  cluster_refresh_policy policy(100ms);
  policy.finished(false);
  CHECK_FALSE(policy.due().has_value());
  CHECK_FALSE(policy.on_timer(t0));
  CHECK(policy.started() == 0);
  REQUIRE(policy.request(t0));
  CHECK_FALSE(policy.on_timer(t0 + 1s));  // in flight
  CHECK(policy.started() == 1);
}

TEST_CASE("random event sequences keep the policy single-flight and rate-limited",
          "[cluster_refresh_policy]") {
  const auto interval = 100ms;
  cluster_refresh_policy policy(interval);
  std::uint64_t state = 42;
  auto next = [&state] {
    return (state = state * 6364136223846793005ULL + 1442695040888963407ULL) >> 33;
  };
  auto now = t0;
  std::optional<cluster_refresh_policy::time_point> last_start;
  bool running = false;
  for (int step = 0; step < 20000; ++step) {
    now += std::chrono::milliseconds(next() % 40);
    bool started = false;
    switch (next() % 3) {
      case 0:
        started = policy.request(now);
        break;
      case 1:
        started = policy.on_timer(now);
        break;
      case 2:
        if (running) {
          policy.finished(next() % 4 != 0);
          running = false;
        }
        break;
    }
    if (started) {
      REQUIRE_FALSE(running);
      if (last_start) REQUIRE(now - *last_start >= interval);
      last_start = now;
      running = true;
    }
    REQUIRE(policy.in_flight() == running);
    if (policy.due()) REQUIRE(*policy.due() >= *last_start + interval);
  }
  CHECK(policy.started() > 10);
}
