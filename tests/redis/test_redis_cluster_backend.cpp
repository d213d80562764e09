// RedisCacheBackend over a real local cluster (3 masters + 3 replicas) through redis-cluster://:
// every key lands on its slot's master, multi-key operations span all masters, clear and
// invalidate_pattern reach every master and stay inside the prefix, and a redis:// URL that names
// a cluster node fails at initialize() saying to use redis-cluster://. The conformance suite runs
// in the same executable (test_redis_cluster_conformance.cpp) on the same cluster.
#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <asio/bind_executor.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>

#include "corocache/detail/cluster_slot.hpp"
#include "corocache/instrumented.hpp"
#include "corocache/redis_backend.hpp"
#include "corocache/registry.hpp"
#include "support/catch.hpp"
#include "support/redis_cluster.hpp"
#include "support/run_coroutine.hpp"

using namespace corocache;
using corocache::detail::cluster_key_slot;
using corocache::test::run_coroutine;
using kind = corocache::detail::redis_reply::kind;
using namespace std::chrono_literals;

namespace {

std::string cluster_url(std::string_view parameters = "") {
  auto& cluster = corocache::test::shared_redis_cluster();
  // Two seeds, the second a replica: discovery needs only one that answers.
  return "redis-cluster://127.0.0.1:" + std::to_string(cluster.port(0)) +
         ",127.0.0.1:" + std::to_string(cluster.port(cluster.size() - 1)) + std::string(parameters);
}

// The index of the master that holds `stored_key` now.
std::size_t owner_of(const std::string& stored_key) {
  auto& cluster = corocache::test::shared_redis_cluster();
  const auto map = cluster.slot_map(0);
  const auto* master = map.master_for(cluster_key_slot(stored_key));
  REQUIRE(master != nullptr);
  return cluster.index_of(master->port);
}

// `count` keys whose stored form (prefix + key) lands on every master.
std::vector<std::string> keys_on_every_master(const std::string& prefix, int count) {
  std::vector<std::string> keys;
  std::set<std::size_t> owners;
  for (int i = 0; i < count; ++i) {
    keys.push_back("k" + std::to_string(i));
    owners.insert(owner_of(prefix + keys.back()));
  }
  REQUIRE(owners.size() == 3);
  return keys;
}

}  // namespace

TEST_CASE("make_backend with redis-cluster:// stores each key on its slot's master",
          "[cluster][backend]") {
  const std::string prefix = "placement:";
  const auto keys = keys_on_every_master(prefix, 30);
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto backend = make_backend<std::string>(cluster_url("?prefix=" + prefix), ex);
    co_await backend->initialize();
    for (const auto& key : keys) CHECK(co_await backend->set(key, "value of " + key));
    for (const auto& key : keys) CHECK(co_await backend->get(key) == "value of " + key);
    CHECK(co_await backend->exists(keys[0]));
    CHECK(co_await backend->erase(keys[0]));
    CHECK_FALSE(co_await backend->exists(keys[0]));
    CHECK_FALSE(co_await backend->get(keys[0]));
    co_await backend->shutdown();
  });
  // The servers agree: each key is on the master the slot map names, under the prefix.
  auto& cluster = corocache::test::shared_redis_cluster();
  for (std::size_t i = 1; i < keys.size(); ++i) {
    const auto reply = cluster.command(owner_of(prefix + keys[i]), {"GET", prefix + keys[i]});
    REQUIRE(reply.type == kind::string);
    CHECK(reply.str == "value of " + keys[i]);
  }
}

TEST_CASE("get_many, set_many and erase_many span every master in the caller's order",
          "[cluster][backend]") {
  const std::string prefix = "many:";
  auto keys = keys_on_every_master(prefix, 100);
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    RedisCacheBackend<std::string> backend(ex,
                                           redis_options{.url = cluster_url(), .prefix = prefix});
    co_await backend.initialize();
    std::vector<std::pair<std::string, std::string>> items;
    for (std::size_t i = 0; i < keys.size(); i += 2) items.emplace_back(keys[i], "v" + keys[i]);
    items.emplace_back(keys[0], "last wins");  // a duplicate: the later value is kept
    CHECK(co_await backend.set_many(items, 10s));

    std::vector<std::string> asked = keys;
    asked.push_back(keys[0]);
    asked.push_back(keys[1]);  // a duplicate miss
    const auto values = co_await backend.get_many(asked);
    REQUIRE(values.size() == asked.size());
    for (std::size_t i = 0; i < asked.size(); ++i) {
      INFO(asked[i]);
      const auto index = static_cast<std::size_t>(std::stoi(asked[i].substr(1)));
      if (index == 0) {
        CHECK(values[i] == "last wins");
      } else if (index % 2 == 0) {
        CHECK(values[i] == "v" + asked[i]);
      } else {
        CHECK_FALSE(values[i]);
      }
    }
    // Every key got the TTL, whichever master holds it.
    for (std::size_t i = 0; i < keys.size(); i += 2) {
      const auto ttl = co_await backend.get_ttl(keys[i]);
      REQUIRE(ttl);
      CHECK(*ttl > 0ms);
      CHECK(*ttl <= 10s);
    }
    // Without a TTL: MSET per slot.
    std::vector<std::pair<std::string, std::string>> plain{{keys[1], "one"}, {keys[3], "three"}};
    CHECK(co_await backend.set_many(plain));
    CHECK(co_await backend.get_ttl(keys[1]) == no_expiry);

    // Stored: 50 even keys + keys[1] + keys[3]. Duplicates and misses count once or not at all.
    std::vector<std::string> erase = keys;
    erase.push_back(keys[2]);
    erase.push_back("never-stored");
    CHECK(co_await backend.erase_many(erase) == 52);
    const auto gone = co_await backend.get_many(keys);
    CHECK(std::none_of(gone.begin(), gone.end(), [](const auto& v) { return v.has_value(); }));
    co_await backend.shutdown();
  });
}

TEST_CASE("keys sharing a hash tag share a slot, and set_many on them is one atomic command",
          "[cluster][backend]") {
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    RedisCacheBackend<std::string> backend(ex, cluster_url(), "tagged:");
    co_await backend.initialize();
    std::vector<std::pair<std::string, std::string>> items{
        {"{user:42}:profile", "p"}, {"{user:42}:settings", "s"}, {"{user:42}:cart", "c"}};
    CHECK(co_await backend.set_many(items, 5s));
    const std::vector<std::string> asked{"{user:42}:cart", "{user:42}:profile", "{user:42}:none"};
    const auto values = co_await backend.get_many(asked);
    CHECK(values == std::vector<std::optional<std::string>>{"c", "p", std::nullopt});
    co_await backend.clear();
    co_await backend.shutdown();
  });
  CHECK(cluster_key_slot("tagged:{user:42}:profile") == cluster_key_slot("tagged:{user:42}:cart"));
}

TEST_CASE("clear and invalidate_pattern remove the prefix's keys on every master, no others",
          "[cluster][backend]") {
  const auto keys = keys_on_every_master("scoped:", 60);
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    RedisCacheBackend<std::string> mine(ex, cluster_url(), "scoped:");
    RedisCacheBackend<std::string> other(ex, cluster_url(), "scoped-other:");
    co_await mine.initialize();
    co_await other.initialize();
    for (const auto& key : keys) {
      CHECK(co_await mine.set(key, "mine"));
      CHECK(co_await mine.set("x" + key, "mine"));
      CHECK(co_await other.set(key, "other"));
    }
    // "x*" matches the 60 x-keys only, spread over every master.
    CHECK(co_await mine.invalidate_pattern("x*") == keys.size());
    CHECK(co_await mine.get(keys[5]) == "mine");
    CHECK_FALSE(co_await mine.get("x" + keys[5]));
    CHECK(co_await mine.clear());
    const auto left = co_await mine.get_many(keys);
    CHECK(std::none_of(left.begin(), left.end(), [](const auto& v) { return v.has_value(); }));
    const auto kept = co_await other.get_many(keys);
    CHECK(std::all_of(kept.begin(), kept.end(), [](const auto& v) { return v == "other"; }));
    co_await other.clear();
    co_await mine.shutdown();
    co_await other.shutdown();
  });
}

TEST_CASE("counters and set operations work on keys of every master", "[cluster][backend]") {
  const auto keys = keys_on_every_master("counters:", 30);
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    RedisCacheBackend<std::int64_t> backend(ex, cluster_url(), "counters:");
    co_await backend.initialize();
    for (const auto& key : keys) {
      CHECK(co_await backend.incr(key, 5) == 5);
      CHECK(co_await backend.decr(key, 2) == 3);
      CHECK(co_await backend.add_to_set("set" + key, 7));
      const auto members = co_await backend.get_set_members("set" + key);
      CHECK(members == std::vector<std::int64_t>{7});
    }
    CHECK(backend.connection_stats().commands_sent > 4 * keys.size());
    co_await backend.clear();
    co_await backend.shutdown();
  });
}

TEST_CASE("instrumented over a cluster counts the reads of every master, failures too",
          "[cluster][backend][stats]") {
  // On a cluster, get is routed and get_many split by slot: the backend counts both all the same.
  const auto keys = keys_on_every_master("counted:", 6);
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    RedisCacheBackend<std::string> text(ex, cluster_url(), "counted:");
    co_await text.initialize();
    for (const auto& key : keys) co_await text.set(key, "12");
    co_await text.set("word", "abc");
    instrumented<std::int64_t> numbers(
        std::make_unique<RedisCacheBackend<std::int64_t>>(ex, cluster_url(), "counted:"),
        "redis-cluster");
    co_await numbers.initialize();
    for (const auto& key : keys) CHECK(co_await numbers.get(key) == 12);
    CHECK_FALSE(co_await numbers.get("missing"));
    auto spread = keys;
    spread.push_back("missing");
    CHECK((co_await numbers.get_many(spread)).size() == keys.size() + 1);
    std::optional<errc> unreadable;
    try {
      co_await numbers.get("word");
    } catch (const cache_error& e) {
      unreadable = e.error();
    }
    CHECK(unreadable == errc::codec_error);
    const auto stats = numbers.stats();
    CHECK(stats.hits == 2 * keys.size());
    CHECK(stats.misses == 2);
    CHECK(stats.errors[errc_slot(errc::codec_error)] == 1);
    CHECK(stats.errors_total() == 1);
    co_await text.clear();
    co_await numbers.shutdown();
    co_await text.shutdown();
  });
}

TEST_CASE("a redis:// URL that names a cluster node fails at initialize, naming redis-cluster://",
          "[cluster][backend]") {
  auto& cluster = corocache::test::shared_redis_cluster();
  const auto url = "redis://127.0.0.1:" + std::to_string(cluster.port(0));
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto backend = make_backend<std::string>(url, ex);
    try {
      co_await backend->initialize();
      FAIL("initialize() accepted a cluster node over redis://");
    } catch (const cache_error& e) {
      CHECK(e.error() == errc::invalid_argument);
      CHECK_THAT(e.what(),
                 Catch::Contains("redis-cluster://127.0.0.1:" + std::to_string(cluster.port(0))));
    }
  });
}

TEST_CASE("a cluster with no reachable seed fails initialize naming the seeds",
          "[cluster][backend]") {
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    // Port 1 on loopback: nothing listens there.
    auto backend = make_backend<std::string>(
        "redis-cluster://u:hunter2@127.0.0.1:1?connect_timeout=200ms", ex);
    try {
      co_await backend->initialize();
      FAIL("initialize() succeeded without a cluster");
    } catch (const cache_error& e) {
      CHECK(e.error() == errc::connection_error);
      CHECK_THAT(e.what(), Catch::Contains("127.0.0.1:1"));
      CHECK_THAT(e.what(), !Catch::Contains("hunter2"));
    }
  });
}

namespace {

// One worker of the two-thread case: its own keys, spread over the masters, through every
// multi-key operation; counts values that are not the ones it wrote.
asio::awaitable<void> spread_worker(RedisCacheBackend<std::string>& backend, int id,
                                    std::atomic<int>& wrong) {
  std::vector<std::string> keys;
  std::vector<std::pair<std::string, std::string>> items;
  for (int i = 0; i < 20; ++i) {
    keys.push_back("t" + std::to_string(id) + ":" + std::to_string(i));
    items.emplace_back(keys.back(), "v" + keys.back());
  }
  for (int round = 0; round < 5; ++round) {
    co_await backend.set_many(items, 30s);
    const auto values = co_await backend.get_many(keys);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (values[i] != "v" + keys[i]) ++wrong;
    }
    if (co_await backend.erase_many(keys) != keys.size()) ++wrong;
  }
}

}  // namespace

TEST_CASE("multi-key operations spread over the masters from two threads",
          "[cluster][backend][threads]") {
  asio::io_context io(2);
  auto strand = asio::make_strand(io);
  RedisCacheBackend<std::string> backend(io.get_executor(), cluster_url(), "two-threads:");
  std::atomic<int> wrong{0};
  std::atomic<int> failed{0};
  std::atomic<int> remaining{50};
  std::exception_ptr error;
  std::atomic<bool> done{false};
  auto run = [&]() -> asio::awaitable<void> {
    co_await backend.initialize();
    asio::steady_timer all_done(strand, asio::steady_timer::time_point::max());
    for (int id = 0; id < 50; ++id) {
      auto finished = [&](std::exception_ptr e) {
        if (e) ++failed;
        if (--remaining == 0) all_done.cancel();
      };
      asio::co_spawn(io, spread_worker(backend, id, wrong), asio::bind_executor(strand, finished));
    }
    asio::error_code cancelled;
    co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, cancelled));
    co_await backend.shutdown();
  };
  asio::co_spawn(strand, run(), [&](std::exception_ptr e) {
    error = e;
    done = true;
    io.stop();
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) threads.emplace_back([&] { io.run_for(std::chrono::seconds(120)); });
  for (auto& t : threads) t.join();
  REQUIRE(done);
  if (error) std::rethrow_exception(error);
  CHECK(failed == 0);
  CHECK(wrong == 0);
}

TEST_CASE("a { in the prefix makes it every key's hash tag: all keys on one master",
          "[cluster][backend]") {
  const std::string prefix = "{app}:";
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    RedisCacheBackend<std::string> backend(ex, cluster_url(), prefix);
    co_await backend.initialize();
    std::vector<std::pair<std::string, std::string>> items;
    for (int i = 0; i < 30; ++i) items.emplace_back("k" + std::to_string(i), "v");
    CHECK(co_await backend.set_many(items, 30s));
    // The servers agree: one master holds all 30 keys, in the slot of "app".
    auto& cluster = corocache::test::shared_redis_cluster();
    const auto owner = owner_of(prefix + "k0");
    const auto slot = std::to_string(cluster_key_slot("app"));
    CHECK(cluster.command(owner, {"CLUSTER", "COUNTKEYSINSLOT", slot}).integer == 30);
    CHECK(co_await backend.clear());
    CHECK(cluster.command(owner, {"CLUSTER", "COUNTKEYSINSLOT", slot}).integer == 0);
    co_await backend.shutdown();
  });
}
