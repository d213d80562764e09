// Cancellation through asio's cancellation slots, health checks of an idle connection, starting
// without a server, and the connection's counters, against real servers that are paused
// (SIGSTOP), resumed and stopped.
#include <chrono>
#include <optional>
#include <string>
#include <variant>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "corocache/redis_backend.hpp"
#include "redis/redis_test_support.hpp"
#include "support/catch.hpp"
#include "support/redis_server.hpp"
#include "support/run_coroutine.hpp"

using namespace corocache;
using namespace corocache::test;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

std::string url_of(const redis_server& server, const std::string& parameters) {
  return "redis://127.0.0.1:" + std::to_string(server.port()) + "/0?" + parameters;
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::use_awaitable);
}

// Polls `done` every 10 ms for at most `limit`; returns how long it took, or nothing.
template <class Condition>
asio::awaitable<std::optional<std::chrono::milliseconds>> time_until(
    Condition done, std::chrono::milliseconds limit) {
  const auto start = clock_type::now();
  while (clock_type::now() - start < limit) {
    if (done())
      co_return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
    co_await sleep_for(10ms);
  }
  co_return std::nullopt;
}

}  // namespace

TEST_CASE("get || timer against a paused server returns with the timer and keeps the connection",
          "[redis][cancellation]") {
  using namespace asio::experimental::awaitable_operators;
  redis_server server;
  run_coroutine([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    RedisCacheBackend<std::string> cache(
        executor, url_of(server, "command_timeout=2s&health_check_interval=0s"));
    co_await cache.initialize();
    for (int i = 0; i < 1000; ++i) co_await cache.set("k" + std::to_string(i), std::to_string(i));
    const auto before = cache.connection_stats();

    server.pause();
    asio::steady_timer timer(executor, 100ms);
    auto get = cache.get("k1");
    auto wait = timer.async_wait(asio::use_awaitable);
    const auto start = clock_type::now();
    const auto winner = co_await (std::move(get) || std::move(wait));
    const auto elapsed = clock_type::now() - start;
    CHECK(winner.index() == 1);
    std::printf("get || 100 ms timer against a paused server returned after %lld ms\n",
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
    // Well before the 2 s command timeout: the cancelled get did not wait for it.
    CHECK(elapsed < 1500ms);
    server.resume();

    // The cancelled command's reply arrives now and is discarded: each of the next 1,000
    // operations gets its own reply, with no reconnect and no timeout.
    for (int i = 0; i < 1000; ++i) {
      const auto value = co_await cache.get("k" + std::to_string(i));
      REQUIRE(value == std::to_string(i));
    }
    const auto after = cache.connection_stats();
    CHECK(after.reconnects == before.reconnects);
    CHECK(after.timeouts == 0);
    CHECK(after.cancellations == before.cancellations + 1);
  });
}

TEST_CASE("an operation cancelled through a bound slot fails with errc::cancelled",
          "[redis][cancellation]") {
  redis_server server;
  run_coroutine([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    RedisCacheBackend<std::string> cache(executor, url_of(server, "command_timeout=5s"));
    co_await cache.initialize();
    server.pause();
    asio::cancellation_signal signal;
    std::optional<std::optional<errc>> outcome;
    asio::co_spawn(executor, error_of(cache.get("k")),
                   asio::bind_cancellation_slot(
                       signal.slot(),
                       [&](std::exception_ptr, std::optional<errc> error) { outcome = error; }));
    co_await sleep_for(50ms);  // the GET is written
    signal.emit(asio::cancellation_type::terminal);
    const auto took = co_await time_until([&] { return outcome.has_value(); }, 3s);
    REQUIRE(took);
    CHECK(*outcome == errc::cancelled);
    server.resume();
    CHECK(co_await cache.set("after", "1"));
    CHECK(co_await cache.get("after") == "1");
  });
}

TEST_CASE("a server that stops answering an idle connection is found by the health check",
          "[redis][health]") {
  redis_server server;
  run_coroutine(
      [&](asio::any_io_executor executor) -> asio::awaitable<void> {
        RedisCacheBackend<std::string> cache(
            executor, url_of(server,
                             "health_check_interval=200ms&command_timeout=300ms&"
                             "connect_timeout=300ms&reconnect_min=10ms&reconnect_max=50ms"));
        co_await cache.initialize();
        co_await sleep_for(500ms);
        CHECK(cache.connection_stats().health_checks >= 1);  // PINGs while idle

        server.pause();  // the connection stays open; nothing answers
        const auto detected =
            co_await time_until([&] { return cache.connection_stats().disconnects >= 1; }, 5s);
        REQUIRE(detected);
        std::printf(
            "idle connection to a paused server reset after %lld ms "
            "(health_check_interval 200 ms + command_timeout 300 ms)\n",
            static_cast<long long>(detected->count()));

        server.resume();
        const auto back =
            co_await time_until([&] { return cache.connection_stats().reconnects >= 1; }, 10s);
        REQUIRE(back);
        CHECK(co_await cache.set("k", "v"));
        CHECK(co_await cache.get("k") == "v");
      },
      60s);
}

TEST_CASE(
    "allow_start_offline: initialize succeeds without a server and the backend works once it is up",
    "[redis][health]") {
  redis_server server;
  server.stop();
  run_coroutine(
      [&](asio::any_io_executor executor) -> asio::awaitable<void> {
        RedisCacheBackend<std::string> cache(
            executor,
            url_of(server, "allow_start_offline=true&reconnect_min=10ms&reconnect_max=50ms"));
        co_await cache.initialize();
        CHECK(co_await error_of(cache.get("k")) == errc::connection_error);
        server.restart();
        // The handshake's reply is the first one the connection reads.
        const auto up =
            co_await time_until([&] { return cache.connection_stats().replies > 0; }, 10s);
        REQUIRE(up);
        CHECK(co_await cache.set("k", "v"));
        CHECK(co_await cache.get("k") == "v");
        CHECK(co_await cache.incr("n") == 1);  // the counter script works without SCRIPT LOAD
      },
      60s);
}

TEST_CASE("without allow_start_offline, initialize fails when no server answers",
          "[redis][health]") {
  redis_server server;
  server.stop();
  run_coroutine([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    RedisCacheBackend<std::string> cache(executor, url_of(server, "connect_timeout=500ms"));
    CHECK(co_await error_of(cache.initialize()) == errc::connection_error);
  });
}

TEST_CASE("the connection counts commands, replies, errors by errc and operations in flight",
          "[redis][stats]") {
  redis_server server;
  run_coroutine([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    RedisCacheBackend<std::string> cache(executor, url_of(server, "reconnect_min=10ms"));
    co_await cache.initialize();
    const auto start = cache.connection_stats();
    for (int i = 0; i < 10; ++i) co_await cache.set("k", "v");
    auto s = cache.connection_stats();
    CHECK(s.commands_sent == start.commands_sent + 10);
    CHECK(s.replies == start.replies + 10);
    CHECK(s.in_flight == 0);
    server.kill();
    co_await sleep_for(100ms);
    CHECK(co_await error_of(cache.get("k")) == errc::connection_error);
    s = cache.connection_stats();
    CHECK(s.errors_with(errc::connection_error) >= 1);
    CHECK(s.disconnects >= 1);
    CHECK(s.in_flight == 0);
  });
}
