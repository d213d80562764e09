// get_or_set on RedisCacheBackend against a real redis-server, with two io threads.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "conformance/get_or_set_suite.hpp"
#include "corocache/fail_open.hpp"
#include "corocache/instrumented.hpp"
#include "corocache/redis_backend.hpp"
#include "corocache/registry.hpp"
#include "support/error_of.hpp"
#include "support/redis_server.hpp"

namespace {

using corocache::errc;

corocache::test::redis_server& shared_server() {
  static corocache::test::redis_server server;
  return server;
}

std::string unique_prefix() {
  static std::atomic<int> next{0};
  return "get_or_set:" + std::to_string(next++) + ":";
}

}  // namespace

TEST_CASE("get_or_set loads once per cold key on Redis", "[get_or_set][redis]") {
  // Started here, on the main thread: the server dies with the thread that forked it
  // (PR_SET_PDEATHSIG), and the io threads of each case end with the case.
  const auto port = std::to_string(shared_server().port());
  corocache::test::get_or_set_suite("redis", [port](asio::any_io_executor executor) {
    return std::unique_ptr<corocache::test::string_cache>(
        std::make_unique<corocache::RedisCacheBackend<std::string>>(
            executor, "redis://127.0.0.1:" + port + "/0", unique_prefix()));
  });
}

TEST_CASE("fail-open over Redis: a dead server means misses, and get_or_set loads",
          "[fail_open][redis]") {
  corocache::test::redis_server server;
  const auto url = "fail-open+redis://127.0.0.1:" + std::to_string(server.port()) +
                   "/0?prefix=fail_open:&connect_timeout=500ms&command_timeout=1s";
  corocache::test::run_threaded([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto cache = corocache::make_backend<std::string>(url, ex);
    auto& wrapper = dynamic_cast<corocache::fail_open<std::string>&>(*cache);
    co_await cache->initialize();
    std::atomic<int> runs{0};
    auto loader = [&runs]() -> asio::awaitable<std::string> {
      ++runs;
      co_return "from the source";
    };
    CHECK(co_await cache->get_or_set("k", loader) == "from the source");
    CHECK(co_await cache->get("k") == std::optional<std::string>("from the source"));
    server.kill();
    CHECK_FALSE(co_await cache->get("k"));           // down: a miss, not an exception
    CHECK_FALSE(co_await cache->set("k", "other"));  // not stored
    CHECK(co_await cache->get_or_set("k2", loader) == "from the source");
    CHECK(runs == 2);
    CHECK(wrapper.failures(corocache::errc::connection_error) +
              wrapper.failures(corocache::errc::timeout) >=
          3);
    server.restart();
    // Back: the connection reconnects on its own; bounded wait until a set is stored again.
    auto stored_again = [&]() -> asio::awaitable<bool> {
      asio::steady_timer pause(ex);
      for (int attempt = 0; attempt < 200; ++attempt) {
        if (co_await cache->set("k3", "v")) co_return true;
        pause.expires_after(std::chrono::milliseconds(50));
        co_await pause.async_wait(asio::use_awaitable);
      }
      co_return false;
    };
    CHECK(co_await stored_again());
    CHECK(co_await cache->get("k3") == std::optional<std::string>("v"));
    co_await cache->shutdown();
  });
}

TEST_CASE("fail-open over Redis starts while the server is down and connects later",
          "[fail_open][redis]") {
  corocache::test::redis_server server;
  const auto url = "fail-open+redis://127.0.0.1:" + std::to_string(server.port()) +
                   "/0?prefix=fail_open_start:&connect_timeout=500ms&command_timeout=1s";
  server.stop();
  corocache::test::run_threaded([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto cache = corocache::make_backend<std::string>(url, ex);
    auto& wrapper = dynamic_cast<corocache::fail_open<std::string>&>(*cache);
    std::atomic<int> initialize_failures{0};
    wrapper.on_failure([&](const corocache::absorbed_failure& f) {
      if (f.operation == "initialize" && f.code == corocache::errc::connection_error)
        ++initialize_failures;
    });
    co_await cache->initialize();  // succeeds: the cache is merely down
    CHECK(initialize_failures == 1);
    CHECK_FALSE(co_await cache->get("k"));
    server.restart();
    auto stored_again = [&]() -> asio::awaitable<bool> {
      asio::steady_timer pause(ex);
      for (int attempt = 0; attempt < 200; ++attempt) {
        if (co_await cache->set("k", "v")) co_return true;
        pause.expires_after(std::chrono::milliseconds(50));
        co_await pause.async_wait(asio::use_awaitable);
      }
      co_return false;
    };
    CHECK(co_await stored_again());
    CHECK(co_await cache->get("k") == std::optional<std::string>("v"));
    co_await cache->shutdown();
  });
}

TEST_CASE("stale-while-revalidate freshness is shared by every instance on one Redis",
          "[get_or_set][redis]") {
  using namespace std::chrono_literals;
  const auto url = "redis://127.0.0.1:" + std::to_string(shared_server().port()) + "/0";
  corocache::test::run_threaded([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    // Two backend objects stand for two processes: they share nothing but the server.
    corocache::RedisCacheBackend<std::string> first(ex, url, "swr:");
    corocache::RedisCacheBackend<std::string> second(ex, url, "swr:");
    co_await first.initialize();
    co_await second.initialize();
    co_await first.clear();
    corocache::test::gated_loader first_loader, second_loader;
    *first_loader.open = true;
    *second_loader.open = true;
    first_loader.value = "from first";
    second_loader.value = "from second";
    corocache::get_or_set_options options;
    options.ttl = 60s;
    options.stale_for = 60s;
    CHECK(co_await first.get_or_set("k", first_loader, options) == "from first");
    // The stored format: the value as it is, living ttl + stale_for, and a marker living ttl.
    CHECK(co_await second.get("k") == std::optional<std::string>("from first"));
    const auto value_ttl = co_await second.get_ttl("k");
    const auto marker_ttl = co_await second.get_ttl(
        "k\x1F"
        "fresh");
    REQUIRE(value_ttl);
    REQUIRE(marker_ttl);
    CHECK(*value_ttl > 60s);
    CHECK(*value_ttl <= 120s);
    CHECK(*marker_ttl <= 60s);
    CHECK(*marker_ttl > 0s);
    // Fresh for the other instance too: it does not load.
    CHECK(co_await second.get_or_set("k", second_loader, options) == "from first");
    CHECK(*second_loader.runs == 0);
    // Once the marker is gone (its window ended), any instance serves the stale value and
    // refreshes it; the others then see it fresh.
    CHECK(
        co_await second.erase("k\x1F"
                              "fresh"));
    CHECK(co_await second.get_or_set("k", second_loader, options) == "from first");
    co_await corocache::test::wait_until([&] { return second.loads_in_progress() == 0; },
                                         "the refresh ended");
    CHECK(*second_loader.runs == 1);
    CHECK(co_await first.get_or_set("k", first_loader, options) == "from second");
    CHECK(*first_loader.runs == 1);
    co_await first.clear();
    co_await first.shutdown();
    co_await second.shutdown();
  });
}

TEST_CASE("instrumented over Redis reports the connection's counters in cache_stats",
          "[stats][redis]") {
  corocache::test::redis_server server;
  const auto url = "redis://127.0.0.1:" + std::to_string(server.port()) +
                   "/0?connect_timeout=500ms&command_timeout=1s";
  corocache::test::run_threaded([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    using redis_cache = corocache::RedisCacheBackend<std::string>;
    auto redis = std::make_unique<redis_cache>(ex, url, "stats:");
    const auto* connection = redis.get();
    corocache::instrumented<std::string> cache(std::move(redis), "redis");
    CHECK(cache.stats().connection);  // there before any command: all zero
    co_await cache.initialize();
    CHECK(co_await cache.set("k", "v"));
    CHECK(co_await cache.get("k"));
    CHECK_FALSE(co_await cache.get("missing"));

    // Idle now, so the two reads agree exactly; the same struct as connection_stats().
    const auto stats = cache.stats();
    const corocache::redis_connection_stats direct = connection->connection_stats();
    REQUIRE(stats.connection);
    CHECK(stats.connection->commands_sent == direct.commands_sent);
    CHECK(stats.connection->replies == direct.replies);
    CHECK(stats.connection->commands_sent >= 3);  // the handshake's and the three above
    CHECK(stats.connection->in_flight == 0);
    CHECK(stats.hits == 1);
    CHECK(stats.misses == 1);

    // A failure shows both as the operation's error and in the connection's counters.
    server.kill();
    auto failed = cache.get("k");
    CHECK((co_await corocache::test::error_of(std::move(failed))).has_value());
    const auto after = cache.stats();
    REQUIRE(after.connection);
    CHECK(after.errors_total() == 1);
    CHECK(after.connection->disconnects + after.connection->timeouts +
              after.connection->errors_with(corocache::errc::connection_error) >=
          1);
    co_await cache.shutdown();
  });
}

TEST_CASE("instrumented over Redis counts failed reads by errc, get_many too", "[stats][redis]") {
  // Reads pass through instrumented to the backend, which counts them as it decodes replies:
  // a read of another Redis type and a value the codec cannot read each count once.
  corocache::test::redis_server server;
  const auto url = "redis://127.0.0.1:" + std::to_string(server.port()) + "/0";
  corocache::test::run_threaded([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    corocache::RedisCacheBackend<std::string> text(ex, url, "reads:");
    co_await text.initialize();
    co_await text.set("word", "abc");
    co_await text.set("number", "42");
    co_await text.add_to_set("members", "m");

    corocache::instrumented<int> numbers(
        std::make_unique<corocache::RedisCacheBackend<int>>(ex, url, "reads:"), "redis");
    co_await numbers.initialize();
    CHECK(co_await numbers.get("number") == 42);
    CHECK_FALSE(co_await numbers.get("missing"));
    CHECK(co_await corocache::test::error_of(numbers.get("word")) == errc::codec_error);
    CHECK(co_await corocache::test::error_of(numbers.get("members")) == errc::wrong_type);
    std::vector<std::string> keys{"number", "missing", "number"};
    CHECK((co_await numbers.get_many(keys)).size() == 3);
    std::vector<std::string> unreadable{"number", "word"};
    CHECK(co_await corocache::test::error_of(numbers.get_many(unreadable)) == errc::codec_error);
    // Reads on the backend below, after wrapping, are the decorator's too.
    auto& below = dynamic_cast<corocache::RedisCacheBackend<int>&>(numbers.inner());
    CHECK(co_await below.get("number") == 42);

    const auto stats = numbers.stats();
    CHECK(stats.hits == 4);
    CHECK(stats.misses == 2);
    CHECK(stats.errors[corocache::errc_slot(errc::codec_error)] == 2);
    CHECK(stats.errors[corocache::errc_slot(errc::wrong_type)] == 1);
    CHECK(stats.errors_total() == 3);
    co_await numbers.shutdown();
    co_await text.shutdown();
  });
}

TEST_CASE("instrumented over fail_open over Redis still finds the connection's counters",
          "[stats][fail_open][redis]") {
  corocache::test::redis_server server;
  const auto url = "fail-open+redis://127.0.0.1:" + std::to_string(server.port()) + "/0";
  corocache::test::run_threaded([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    corocache::instrumented<std::string> cache(corocache::make_backend<std::string>(url, ex),
                                               "redis");
    co_await cache.initialize();
    CHECK(co_await cache.set("k", "v"));
    const auto stats = cache.stats();
    REQUIRE(stats.connection);
    CHECK(stats.connection->commands_sent >= 1);
    co_await cache.shutdown();
  });
}
