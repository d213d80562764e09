// RedisCacheBackend over redis-sentinel:// through real failovers (support/redis_sentinel.hpp):
// under a steady load of gets and sets, the master is SIGKILLed or paused; the backend must follow
// the promoted replica by itself, never return a value for the wrong key, and write to the new
// master afterwards. Operations during the failover may fail (connection_error or timeout).
#include <atomic>
#include <chrono>
#include <string>

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
