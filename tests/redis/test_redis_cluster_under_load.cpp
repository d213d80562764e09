// RedisCacheBackend over redis-cluster:// under a steady load of 64 coroutines doing set-then-get,
// while the cluster changes under it (each case forms its own cluster):
// - one master is SIGKILLed: keys of the other masters keep working throughout; keys of the dead
//   master fail (connection_error or timeout) until its replica is promoted and a refresh finds
//   it, then work again; no read ever returns another key's value;
// - a manual CLUSTER FAILOVER: no acknowledged write is lost, every read returns the value just
//   written;
// - one slot is resharded to another master key by key (SETSLOT IMPORTING/MIGRATING, MIGRATE):
//   the backend follows ASK, then MOVED; no caller sees an error and every read returns the value
//   its worker wrote last.
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "corocache/detail/cluster_slot.hpp"
#include "corocache/redis_backend.hpp"
#include "support/catch.hpp"
#include "support/redis_cluster.hpp"
#include "support/run_coroutine.hpp"

using namespace corocache;
using namespace std::chrono_literals;
using corocache::test::redis_cluster;
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

long long ms_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

struct load_state {
  bool stop = false;
  std::size_t successes = 0;
  std::size_t wrong_values = 0;
  std::size_t other_errors = 0;
  std::size_t survivor_failures = 0;  // on keys of masters that were not killed
  std::size_t victim_failures = 0;
  std::size_t victim_successes_after_recovery = 0;
  std::optional<clock_type::time_point> fault_at;
  std::optional<clock_type::time_point> first_victim_failure;
  std::optional<clock_type::time_point> first_victim_success_after_failure;
};

// One worker: sets its key to a fresh value and reads it back. A read may miss (a write the dead
// master acknowledged may not have reached its replica) but never shows another key's value.
asio::awaitable<void> worker(RedisCacheBackend<std::string>& backend, load_state& state,
                             std::string key, bool on_victim) {
  for (std::size_t n = 0; !state.stop; ++n) {
    const auto value = key + "=" + std::to_string(n);
    bool failed = false;
    try {
      co_await backend.set(key, value);
      const auto got = co_await backend.get(key);
      if (got && got->rfind(key + "=", 0) != 0) ++state.wrong_values;
      ++state.successes;
      if (on_victim && state.first_victim_failure) {
        if (!state.first_victim_success_after_failure)
          state.first_victim_success_after_failure = clock_type::now();
        ++state.victim_successes_after_recovery;
      }
    } catch (const cache_error& e) {
      failed = true;
      if (e.error() != errc::connection_error && e.error() != errc::timeout) {
        ++state.other_errors;
        UNSCOPED_INFO("unexpected error: " << e.what());
      }
      if (!on_victim) {
        ++state.survivor_failures;
        UNSCOPED_INFO("a key of a surviving master failed: " << e.what());
      } else {
        ++state.victim_failures;
        if (state.fault_at && !state.first_victim_failure)
          state.first_victim_failure = clock_type::now();
      }
    }
    if (failed) co_await sleep_for(10ms);  // failures are fast while the master is gone
  }
}

}  // namespace

TEST_CASE("a SIGKILLed master: other masters keep serving, its keys come back on the replica",
          "[cluster][topology]") {
  redis_cluster cluster;
  const auto map = cluster.slot_map(0);
  REQUIRE(map.shards().size() == 3);
  const auto victim_port = map.shards().front().master.port;
  const auto victim = cluster.index_of(victim_port);
  REQUIRE(victim < cluster.size());

  // Worker keys over every master; which ones the victim holds.
  std::vector<std::pair<std::string, bool>> keys;
  std::set<std::uint16_t> masters;
  for (std::size_t i = 0; i < workers; ++i) {
    auto key = "w" + std::to_string(i);
    const auto* master = map.master_for(detail::cluster_key_slot("fo:" + key));
    REQUIRE(master != nullptr);
    masters.insert(master->port);
    keys.emplace_back(std::move(key), master->port == victim_port);
  }
  REQUIRE(masters.size() == 3);

  load_state state;
  const auto url = "redis-cluster://127.0.0.1:" + std::to_string(cluster.port(0)) +
                   ",127.0.0.1:" + std::to_string(cluster.port(1)) +
                   ",127.0.0.1:" + std::to_string(cluster.port(2)) +
                   "?prefix=fo:&command_timeout=1s&connect_timeout=500ms&reconnect_min=20ms"
                   "&reconnect_max=200ms";
  run_coroutine(
      [&](asio::any_io_executor executor) -> asio::awaitable<void> {
        RedisCacheBackend<std::string> backend(executor, url);
        co_await backend.initialize();
        std::size_t done = 0;
        for (const auto& [key, on_victim] : keys) {
          asio::co_spawn(executor, worker(backend, state, key, on_victim),
                         [&](std::exception_ptr e) {
                           ++done;
                           if (e) std::rethrow_exception(e);
                         });
        }
        const auto deadline = clock_type::now() + recovery_limit;
        while (state.successes < workers * 10 && clock_type::now() < deadline)
          co_await sleep_for(10ms);
        REQUIRE(state.successes >= workers * 10);
        state.fault_at = clock_type::now();
        cluster.node(victim).kill();
        while (state.victim_successes_after_recovery < workers * 5 && clock_type::now() < deadline)
          co_await sleep_for(20ms);
        state.stop = true;
        while (done < workers) co_await sleep_for(10ms);
        co_await backend.shutdown();
      },
      recovery_limit + 30s);

  REQUIRE(state.first_victim_failure);
  REQUIRE(state.first_victim_success_after_failure);
  WARN(
      "SIGKILL of master " << victim_port << " (cluster-node-timeout "
                           << cluster.node_timeout().count() << "ms): first failure "
                           << ms_between(*state.fault_at, *state.first_victim_failure)
                           << "ms after the kill, its keys served again "
                           << ms_between(*state.fault_at, *state.first_victim_success_after_failure)
                           << "ms after it; " << state.successes << " operations ok, "
                           << state.victim_failures << " failed on its keys, "
                           << state.survivor_failures << " on the other masters' keys");
  CHECK(state.wrong_values == 0);
  CHECK(state.other_errors == 0);
  CHECK(state.survivor_failures == 0);
  CHECK(state.victim_successes_after_recovery >= workers * 5);
  // The replica took over: the cluster's own map names another master for the victim's slots.
  const auto after = cluster.slot_map(cluster.index_of(map.shards()[1].master.port));
  const auto* now = after.master_for(detail::cluster_key_slot("fo:" + keys.front().first));
  REQUIRE(now != nullptr);
  if (keys.front().second) CHECK(now->port != victim_port);
}

TEST_CASE("a slot resharded under load: ASK then MOVED are followed, no error, no stale read",
          "[cluster][topology]") {
  redis_cluster cluster;
  const auto map = cluster.slot_map(0);
  // Every worker key shares the hash tag, so all of them live in the slot that moves.
  const std::string tag = "{moving}";
  const auto slot = detail::cluster_key_slot(tag);
  const auto slot_text = std::to_string(slot);
  const auto* source = map.master_for(slot);
  REQUIRE(source != nullptr);
  const detail::cluster_node* destination = nullptr;
  for (const auto& shard : map.shards()) {
    if (!shard.master.same_address(*source)) destination = &shard.master;
  }
  REQUIRE(destination != nullptr);
  const auto src = cluster.index_of(source->port);
  const auto dst = cluster.index_of(destination->port);
  const auto asking_calls = [&] {
    const auto info = cluster.command(dst, {"INFO", "commandstats"}).str;
    const auto at = info.find("cmdstat_asking:calls=");
    return at == std::string::npos ? 0L : std::stol(info.substr(at + 21));
  };
  const auto asking_before = asking_calls();

  std::size_t successes = 0;
  std::size_t stale_reads = 0;
  std::size_t errors = 0;
  bool stop = false;
  const auto url = "redis-cluster://127.0.0.1:" + std::to_string(cluster.port(0)) +
                   "?prefix=rs:&command_timeout=2s";
  run_coroutine(
      [&](asio::any_io_executor executor) -> asio::awaitable<void> {
        RedisCacheBackend<std::string> backend(executor, url);
        co_await backend.initialize();
        std::size_t done = 0;
        auto one_worker = [&](std::string key) -> asio::awaitable<void> {
          for (std::size_t n = 0; !stop; ++n) {
            const auto value = key + "=" + std::to_string(n);
            bool failed = false;
            try {
              co_await backend.set(key, value);
              const auto got = co_await backend.get(key);
              if (got != value) {
                ++stale_reads;
                UNSCOPED_INFO(key << ": wrote " << value << ", read " << got.value_or("nothing"));
              }
              ++successes;
            } catch (const cache_error& e) {
              failed = true;
              ++errors;
              UNSCOPED_INFO(key << ": " << e.what());
            }
            if (failed) co_await sleep_for(10ms);
          }
        };
        for (std::size_t i = 0; i < workers; ++i) {
          asio::co_spawn(executor, one_worker(tag + ":w" + std::to_string(i)),
                         [&](std::exception_ptr e) {
                           ++done;
                           if (e) std::rethrow_exception(e);
                         });
        }
        const auto deadline = clock_type::now() + recovery_limit;
        while (successes < workers * 10 && clock_type::now() < deadline) co_await sleep_for(10ms);
        REQUIRE(successes >= workers * 10);

        // Move the slot one key at a time, letting the workers run between steps.
        REQUIRE(
            cluster.command(dst, {"CLUSTER", "SETSLOT", slot_text, "IMPORTING", source->id}).str ==
            "OK");
        REQUIRE(
            cluster.command(src, {"CLUSTER", "SETSLOT", slot_text, "MIGRATING", destination->id})
                .str == "OK");
        for (;;) {
          const auto keys = cluster.command(src, {"CLUSTER", "GETKEYSINSLOT", slot_text, "1"});
          REQUIRE(keys.type == detail::redis_reply::kind::array);
          if (keys.elements.empty()) break;
          const auto moved =
              cluster.command(src, {"MIGRATE", "127.0.0.1", std::to_string(destination->port), "",
                                    "0", "5000", "KEYS", keys.elements[0].str});
          REQUIRE(moved.type == detail::redis_reply::kind::status);
          co_await sleep_for(5ms);
          REQUIRE(clock_type::now() < deadline);
        }
        const auto keys_moved_at = successes;
        co_await sleep_for(100ms);  // new keys and migrated keys: ASK for a while
        for (const auto node : {dst, src}) {
          REQUIRE(cluster.command(node, {"CLUSTER", "SETSLOT", slot_text, "NODE", destination->id})
                      .str == "OK");
        }
        while (successes < keys_moved_at + workers * 10 && clock_type::now() < deadline)
          co_await sleep_for(10ms);
        stop = true;
        while (done < workers) co_await sleep_for(10ms);
        co_await backend.shutdown();
      },
      recovery_limit + 30s);

  const auto asks = asking_calls() - asking_before;
  WARN("slot " << slot << " moved from " << source->port << " to " << destination->port
               << " under load: " << successes << " operations, " << asks
               << " ASKING received by the destination");
  CHECK(errors == 0);
  CHECK(stale_reads == 0);
  CHECK(asks > 0);
  CHECK(cluster.command(dst, {"CLUSTER", "COUNTKEYSINSLOT", slot_text}).integer == workers);
  CHECK(cluster.command(src, {"CLUSTER", "COUNTKEYSINSLOT", slot_text}).integer == 0);
}

TEST_CASE("a manual CLUSTER FAILOVER under load loses no acknowledged write",
          "[cluster][topology]") {
  redis_cluster cluster;
  const auto map = cluster.slot_map(0);
  const auto& shard = map.shards().front();
  REQUIRE(shard.replicas.size() == 1);
  const auto old_master = cluster.index_of(shard.master.port);
  const auto replica = cluster.index_of(shard.replicas.front().port);

  struct key_state {
    std::string key;
    std::optional<std::size_t> acknowledged;  // the last write the backend confirmed
    std::optional<std::size_t> uncertain;     // a later write that failed: it may have run
  };
  std::vector<key_state> keys(workers);
  for (std::size_t i = 0; i < workers; ++i) keys[i].key = "w" + std::to_string(i);
  std::size_t successes = 0;
  std::size_t lost_reads = 0;
  std::size_t other_errors = 0;
  std::size_t failures = 0;
  bool stop = false;
  std::vector<std::string> lost_at_end;
  const auto url = "redis-cluster://127.0.0.1:" + std::to_string(cluster.port(0)) +
                   "?prefix=mf:&command_timeout=2s";
  run_coroutine(
      [&](asio::any_io_executor executor) -> asio::awaitable<void> {
        RedisCacheBackend<std::string> backend(executor, url);
        co_await backend.initialize();
        std::size_t done = 0;
        auto one_worker = [&](key_state& state) -> asio::awaitable<void> {
          for (std::size_t n = 0; !stop; ++n) {
            const auto value = state.key + "=" + std::to_string(n);
            bool failed = false;
            try {
              co_await backend.set(state.key, value);
              state.acknowledged = n;
              state.uncertain.reset();
              const auto got = co_await backend.get(state.key);
              if (got != value) {
                ++lost_reads;
                UNSCOPED_INFO(state.key << ": wrote " << value << ", read "
                                        << got.value_or("nothing"));
              }
              ++successes;
            } catch (const cache_error& e) {
              failed = true;
              ++failures;
              if (!state.uncertain) state.uncertain = n;
              if (e.error() != errc::connection_error && e.error() != errc::timeout) {
                ++other_errors;
                UNSCOPED_INFO(state.key << ": " << e.what());
              }
            }
            if (failed) co_await sleep_for(10ms);
          }
        };
        for (auto& state : keys) {
          asio::co_spawn(executor, one_worker(state), [&](std::exception_ptr e) {
            ++done;
            if (e) std::rethrow_exception(e);
          });
        }
        const auto deadline = clock_type::now() + recovery_limit;
        while (successes < workers * 10 && clock_type::now() < deadline) co_await sleep_for(10ms);
        REQUIRE(successes >= workers * 10);
        REQUIRE(cluster.command(replica, {"CLUSTER", "FAILOVER"}).str == "OK");
        for (;;) {
          const auto role = cluster.command(replica, {"ROLE"});
          if (role.type == detail::redis_reply::kind::array && !role.elements.empty() &&
              role.elements[0].str == "master")
            break;
          REQUIRE(clock_type::now() < deadline);
          co_await sleep_for(20ms);
        }
        const auto promoted_at = successes;
        while (successes < promoted_at + workers * 10 && clock_type::now() < deadline)
          co_await sleep_for(10ms);
        stop = true;
        while (done < workers) co_await sleep_for(10ms);
        // Every key holds its last acknowledged value, or a later one whose write failed.
        for (const auto& state : keys) {
          const auto got = co_await backend.get(state.key);
          const auto is = [&](const std::optional<std::size_t>& n) {
            return n && got == state.key + "=" + std::to_string(*n);
          };
          if (state.acknowledged && !is(state.acknowledged) && !is(state.uncertain))
            lost_at_end.push_back(state.key + " holds " + got.value_or("nothing"));
        }
        co_await backend.shutdown();
      },
      recovery_limit + 30s);

  WARN("manual failover of " << cluster.port(old_master) << " to " << cluster.port(replica)
                             << " under load: " << successes << " operations ok, " << failures
                             << " failed");
  for (const auto& lost : lost_at_end) UNSCOPED_INFO(lost);
  CHECK(lost_at_end.empty());
  CHECK(lost_reads == 0);
  CHECK(other_errors == 0);
  // The old master is a replica now: its slots answer MOVED to the promoted node.
  const auto role = cluster.command(old_master, {"ROLE"});
  REQUIRE(role.type == detail::redis_reply::kind::array);
  CHECK(role.elements[0].str == "slave");
}
