// RedisCacheBackend over redis-sentinel:// through real failovers (support/redis_sentinel.hpp):
// under a steady load of gets and sets, the master is SIGKILLed or paused; the backend must follow
// the promoted replica by itself, never return a value for the wrong key, and write to the new
// master afterwards. Operations during the failover may fail (connection_error or timeout).
#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "corocache/redis_backend.hpp"
#include "redis/redis_test_support.hpp"
#include "support/catch.hpp"
#include "support/redis_sentinel.hpp"
#include "support/run_coroutine.hpp"

using namespace corocache;
using namespace std::chrono_literals;
using corocache::test::redis_sentinel_group;
using corocache::test::run_coroutine;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr std::size_t workers = 64;
// Bounds on waiting, not timing assertions: a failover here takes seconds.
constexpr auto recovery_limit = 60s;

asio::awaitable<void> sleep_for(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::use_awaitable);
}

struct load_state {
  bool stop = false;
  std::size_t successes = 0;
  std::size_t failures = 0;
  std::size_t wrong_values = 0;
  std::size_t other_errors = 0;
  std::optional<clock_type::time_point> fault_at;
  std::optional<clock_type::time_point> first_failure_after_fault;
  std::optional<clock_type::time_point> first_success_after_failure;
  std::size_t successes_after_recovery = 0;
};

// One worker: sets its own key to a fresh value, reads it back. A read may miss (a write the old
// master acknowledged can be lost in a failover) but must never show another key's value.
asio::awaitable<void> worker(RedisCacheBackend<std::string>& backend, load_state& state,
                             std::size_t id) {
  const auto key = "worker:" + std::to_string(id);
  for (std::size_t n = 0; !state.stop; ++n) {
    const auto value = key + ":" + std::to_string(n);
    bool failed = false;
    try {
      co_await backend.set(key, value);
      const auto got = co_await backend.get(key);
      if (got && got->rfind(key + ":", 0) != 0) ++state.wrong_values;
      ++state.successes;
      if (state.first_failure_after_fault) {
        if (!state.first_success_after_failure)
          state.first_success_after_failure = clock_type::now();
        ++state.successes_after_recovery;
      }
    } catch (const cache_error& e) {
      failed = true;
      ++state.failures;
      if (e.error() != errc::connection_error && e.error() != errc::timeout) ++state.other_errors;
      if (state.fault_at && !state.first_failure_after_fault)
        state.first_failure_after_fault = clock_type::now();
    }
    if (failed) co_await sleep_for(10ms);  // commands fail fast while disconnected: do not spin
  }
}

std::string sentinel_url(const redis_sentinel_group& group, const std::string& timeouts) {
  return "redis-sentinel://" + group.sentinel_hosts() +
         "/0?master=" + group.settings().master_name +
         "&prefix=t:&reconnect_min=20ms&reconnect_max=200ms&" + timeouts;
}

long long ms_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

// Runs the load, applies `fault` once it is steady, and waits until every worker has succeeded
// again several times. Returns the load's counters.
template <class Fault>
load_state failover_under_load(redis_sentinel_group& group, const std::string& url, Fault fault) {
  load_state state;
  run_coroutine(
      [&](asio::any_io_executor executor) -> asio::awaitable<void> {
        RedisCacheBackend<std::string> backend(executor, url);
        co_await backend.initialize();
        std::size_t done = 0;
        for (std::size_t i = 0; i < workers; ++i) {
          asio::co_spawn(executor, worker(backend, state, i), [&](std::exception_ptr e) {
            ++done;
            if (e) std::rethrow_exception(e);
          });
        }
        const auto deadline = clock_type::now() + recovery_limit;
        while (state.successes < workers * 10 && clock_type::now() < deadline)
          co_await sleep_for(10ms);
        REQUIRE(state.successes >= workers * 10);
        state.fault_at = clock_type::now();
        fault();
        while (state.successes_after_recovery < workers * 10 && clock_type::now() < deadline)
          co_await sleep_for(20ms);
        state.stop = true;
        while (done < workers) co_await sleep_for(10ms);

        // Writes now go to the new master: find the key on the server and ask it its role.
        CHECK(co_await backend.set("after-failover", std::string("yes")));
        const auto new_master = group.data_node(1).port();
        CHECK(redis_sentinel_group::command(new_master, {"GET", "t:after-failover"}).str == "yes");
        CHECK(group.role_of(new_master) == "master");
        CHECK(co_await backend.get("after-failover") == std::optional<std::string>("yes"));
        co_await backend.shutdown();
      },
      recovery_limit + 30s);
  return state;
}

void report(const char* what, const load_state& state) {
  REQUIRE(state.first_failure_after_fault);
  REQUIRE(state.first_success_after_failure);
  WARN(what << ": first failure " << ms_between(*state.fault_at, *state.first_failure_after_fault)
            << "ms after the fault, first success again "
            << ms_between(*state.fault_at, *state.first_success_after_failure)
            << "ms after it; operations " << state.successes << " ok, " << state.failures
            << " failed");
}

}  // namespace

TEST_CASE("the backend follows a SIGKILLed master to the promoted replica under load",
          "[sentinel][topology]") {
  redis_sentinel_group group;
  const auto old_master = group.data_node(0).port();
  const auto state =
      failover_under_load(group, sentinel_url(group, "command_timeout=1s&connect_timeout=1s"),
                          [&] { group.data_node(0).kill(); });
  report("SIGKILL", state);
  CHECK(state.wrong_values == 0);
  CHECK(state.other_errors == 0);
  CHECK(state.successes_after_recovery >= workers * 10);
  CHECK(group.wait_for_failover(old_master, 10s) == group.data_node(1).port());
}

TEST_CASE("a paused master is abandoned for the promoted replica", "[sentinel][topology]") {
  redis_sentinel_group group;
  const auto old_master = group.data_node(0).port();
  const auto state =
      failover_under_load(group, sentinel_url(group, "command_timeout=500ms&connect_timeout=1s"),
                          [&] { group.data_node(0).pause(); });
  report("SIGSTOP", state);
  CHECK(state.wrong_values == 0);
  CHECK(state.other_errors == 0);
  CHECK(state.successes_after_recovery >= workers * 10);
  // Back from the pause, the old master is still not the one the sentinels name.
  group.data_node(0).resume();
  CHECK(group.wait_for_failover(old_master, 10s) == group.data_node(1).port());
}

namespace {

// What a manual failover does to a loaded backend. Times are from the SENTINEL FAILOVER command.
struct manual_failover_state {
  bool stop = false;
  std::size_t successes = 0;
  std::size_t wrong_values = 0;  // a value that was never written to the key
  std::size_t stale_values = 0;  // an older value of the key (a write the old master lost)
  std::size_t readonly_errors = 0;
  std::size_t readonly_after_announcement = 0;
  std::size_t connection_errors = 0;
  std::size_t other_errors = 0;
  std::atomic<bool> announced{false};  // a sentinel names the new master
};

asio::awaitable<void> set_then_get(RedisCacheBackend<std::string>& backend,
                                   manual_failover_state& state, std::size_t id) {
  const auto key = "worker:" + std::to_string(id);
  for (std::size_t n = 0; !state.stop; ++n) {
    const auto value = key + ":" + std::to_string(n);
    bool failed = false;
    try {
      co_await backend.set(key, value);
      const auto got = co_await backend.get(key);
      if (got && got->rfind(key + ":", 0) != 0) ++state.wrong_values;
      if (got && got->rfind(key + ":", 0) == 0 && *got != value) ++state.stale_values;
      ++state.successes;
    } catch (const cache_error& e) {
      failed = true;
      const std::string what = e.what();
      if (e.error() == errc::server_error && what.find("READONLY") != std::string::npos) {
        ++state.readonly_errors;
        if (state.announced) ++state.readonly_after_announcement;
      } else if (e.error() == errc::connection_error || e.error() == errc::timeout) {
        ++state.connection_errors;
      } else {
        ++state.other_errors;
      }
    }
    if (failed) co_await sleep_for(10ms);
  }
}

}  // namespace

TEST_CASE("a manual SENTINEL FAILOVER is followed while the old master's connection is healthy",
          "[sentinel][topology]") {
  redis_sentinel_group group;
  const auto old_master = group.data_node(0).port();
  const auto new_master = group.data_node(1).port();
  manual_failover_state state;
  std::optional<long long> announced_ms;
  std::optional<long long> landed_ms;  // a write of the backend is on the new master
  run_coroutine(
      [&](asio::any_io_executor executor) -> asio::awaitable<void> {
        RedisCacheBackend<std::string> backend(
            executor, sentinel_url(group, "command_timeout=1s&connect_timeout=1s"));
        co_await backend.initialize();
        std::size_t done = 0;
        for (std::size_t i = 0; i < workers; ++i) {
          asio::co_spawn(executor, set_then_get(backend, state, i), [&](std::exception_ptr e) {
            ++done;
            if (e) std::rethrow_exception(e);
          });
        }
        const auto deadline = clock_type::now() + recovery_limit;
        while (state.successes < workers * 10 && clock_type::now() < deadline)
          co_await sleep_for(10ms);
        REQUIRE(state.successes >= workers * 10);
        // The subscription is up well before the failover: initialize() started it.
        const auto reply = redis_sentinel_group::command(
            group.sentinel_port(0), {"SENTINEL", "FAILOVER", group.settings().master_name});
        REQUIRE(reply.type == detail::redis_reply::kind::status);
        const auto started = clock_type::now();
        // Polls the sentinels for the announcement, and the new master for a probe written
        // through the backend.
        for (std::size_t n = 0; !landed_ms && clock_type::now() < deadline; ++n) {
          if (!state.announced) {
            for (std::size_t i = 0; i < redis_sentinel_group::sentinel_count; ++i) {
              if (group.master_port_seen_by(i) == new_master) {
                state.announced = true;
                announced_ms = ms_between(started, clock_type::now());
                break;
              }
            }
          }
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
              redis_sentinel_group::command(new_master, {"GET", "t:probe"}).str == probe) {
            landed_ms = ms_between(started, clock_type::now());
          }
          co_await sleep_for(5ms);
        }
        // The load runs on for a while on the new master.
        const auto after = state.successes;
        while (state.successes < after + workers * 10 && clock_type::now() < deadline)
          co_await sleep_for(10ms);
        state.stop = true;
        while (done < workers) co_await sleep_for(10ms);
        co_await backend.shutdown();
      },
      recovery_limit + 30s);
  REQUIRE(announced_ms);
  REQUIRE(landed_ms);
  WARN("SENTINEL FAILOVER: a sentinel names the new master after "
       << *announced_ms << "ms, writes land on it after " << *landed_ms << "ms; operations "
       << state.successes << " ok, " << state.connection_errors << " connection_error/timeout, "
       << state.readonly_errors << " READONLY (" << state.readonly_after_announcement
       << " after the announcement), " << state.stale_values << " stale reads");
  CHECK(state.wrong_values == 0);
  CHECK(state.other_errors == 0);
  CHECK(state.readonly_after_announcement == 0);
  // The old master ends up a replica of the new one (the sentinels reconfigure it).
  const auto until = clock_type::now() + 20s;
  while (group.role_of(old_master) != "slave" && clock_type::now() < until)
    std::this_thread::sleep_for(50ms);
  CHECK(group.role_of(old_master) == "slave");
}

TEST_CASE("a master the sentinels moved away from is left even when it stays a master",
          "[sentinel][topology]") {
  // The old master cannot be demoted (no REPLICAOF, so the sentinels' reconfiguration and its
  // CLIENT KILL fail): it keeps answering as master and keeps every connection. Only the
  // +switch-master announcement can move the backend.
  redis_sentinel_group::options options;
  options.master_config = {"rename-command REPLICAOF \"\"", "rename-command SLAVEOF \"\""};
  redis_sentinel_group group(options);
  const auto old_master = group.data_node(0).port();
  const auto new_master = group.data_node(1).port();
  std::optional<long long> landed_ms;
  std::size_t lost_to_announcement = 0;
  run_coroutine(
      [&](asio::any_io_executor executor) -> asio::awaitable<void> {
        RedisCacheBackend<std::string> backend(
            executor, sentinel_url(group, "command_timeout=1s&connect_timeout=1s"));
        co_await backend.initialize();
        CHECK(co_await backend.set("before", std::string("old")));
        REQUIRE(redis_sentinel_group::command(old_master, {"GET", "t:before"}).str == "old");
        const auto reply = redis_sentinel_group::command(
            group.sentinel_port(0), {"SENTINEL", "FAILOVER", group.settings().master_name});
        REQUIRE(reply.type == detail::redis_reply::kind::status);
        const auto started = clock_type::now();
        const auto deadline = started + recovery_limit;
        for (std::size_t n = 0; !landed_ms && clock_type::now() < deadline; ++n) {
          // Promoted before the write: the new master no longer replicates the old one, so a
          // probe found there was written there.
          const bool promoted = group.role_of(new_master) == "master";
          const auto probe = std::to_string(n);
          bool written = false;
          try {
            written = co_await backend.set("probe", probe);
          } catch (const cache_error& e) {
            if (std::string(e.what()).find("the sentinels moved master") != std::string::npos)
              ++lost_to_announcement;
          }
          if (promoted && written &&
              redis_sentinel_group::command(new_master, {"GET", "t:probe"}).str == probe)
            landed_ms = ms_between(started, clock_type::now());
          co_await sleep_for(5ms);
        }
        CHECK(co_await backend.set("after", std::string("new")));
        co_await backend.shutdown();
      },
      recovery_limit + 30s);
  REQUIRE(landed_ms);
  WARN("SENTINEL FAILOVER, old master not demoted: writes land on the new master after "
       << *landed_ms << "ms; " << lost_to_announcement
       << " probes failed as the announcement dropped the connection");
  CHECK(group.role_of(old_master) == "master");  // never demoted: the announcement moved us
  CHECK(redis_sentinel_group::command(new_master, {"GET", "t:after"}).str == "new");
  CHECK(redis_sentinel_group::command(old_master, {"GET", "t:after"}).type ==
        detail::redis_reply::kind::nil);
}
