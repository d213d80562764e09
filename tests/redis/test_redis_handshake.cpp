// Nothing is written to a connection before its handshake (AUTH, SELECT) succeeded: a rotated
// password or a database that no longer exists must never let commands run as another user or in
// another database. Against real servers.
#include <atomic>
#include <chrono>
#include <map>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
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

namespace {

redis_options fast_reconnect(std::string url) {
  return redis_options{.url = std::move(url) + "?reconnect_min=10ms&reconnect_max=50ms",
                       .prefix = "k:"};
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::use_awaitable);
}

struct write_outcomes {
  std::map<std::string, bool> acknowledged;  // key -> set() returned true
  int failed = 0;
  std::uint64_t handshake_failures = 0;
};

// 64 coroutines set keys of their own while `fault` runs, for `duration`.
template <class Fault>
asio::awaitable<write_outcomes> write_during(RedisCacheBackend<std::string>& cache, Fault fault,
                                             std::chrono::milliseconds duration) {
  write_outcomes out;
  const auto until = std::chrono::steady_clock::now() + duration;
  auto executor = co_await asio::this_coro::executor;
  bool fault_done = false;
  asio::co_spawn(
      executor,
      [&]() -> asio::awaitable<void> {
        co_await sleep_for(100ms);
        fault();
        fault_done = true;
      },
      asio::detached);
  co_await run_concurrently(64, [&](std::size_t worker) -> asio::awaitable<void> {
    for (int n = 0; std::chrono::steady_clock::now() < until; ++n) {
      const auto key = "w" + std::to_string(worker) + "." + std::to_string(n);
      auto error = co_await error_of(cache.set(key, "v"));
      out.acknowledged[key] = !error;
      if (error) {
        ++out.failed;
        CHECK(*error == errc::connection_error);
        co_await sleep_for(1ms);
      }
    }
  });
  while (!fault_done) co_await sleep_for(10ms);
  out.handshake_failures = cache.connection_stats().handshake_failures;
  co_return out;
}

long long dbsize(const redis_server& server, int db) {
  // A fresh connection as the default user (nopass, as Redis ships it).
  const auto reply = server.command("EVAL \"redis.call('SELECT'," + std::to_string(db) +
                                    ") return redis.call('DBSIZE')\" 0");
  REQUIRE(reply.size() > 1);
  REQUIRE(reply[0] == ':');
  return std::stoll(reply.substr(1));
}

bool key_exists(const redis_server& server, int db, const std::string& key) {
  const auto reply = server.command("EVAL \"redis.call('SELECT'," + std::to_string(db) +
                                    ") return redis.call('EXISTS',KEYS[1])\" 1 " + key);
  return reply == ":1";
}

}  // namespace

TEST_CASE("after a password rotation no command runs as another user or in another database",
          "[redis][handshake]") {
  // The ACL user can only write in db 2; the default user keeps Redis's nopass.
  redis_server server({.config = {"user app on >old-password ~* &* +@all"}});
  const auto url = "redis://app:old-password@127.0.0.1:" + std::to_string(server.port()) + "/2";
  const auto outcomes =
      run_coroutine([&](asio::any_io_executor executor) -> asio::awaitable<write_outcomes> {
        RedisCacheBackend<std::string> cache(executor, fast_reconnect(url));
        co_await cache.initialize();
        auto out = co_await write_during(
            cache,
            [&] {
              CHECK(server.command("ACL SETUSER app resetpass >new-password") == "+OK");
              CHECK(server.command("CLIENT KILL USER app").rfind(':', 0) == 0);
            },
            1500ms);
        co_await cache.shutdown();
        co_return out;
      });
  INFO("acknowledged and failed writes: " << outcomes.acknowledged.size() << ", "
                                          << outcomes.failed);
  CHECK(outcomes.failed > 0);     // the reconnect's AUTH was refused while callers kept writing
  CHECK(dbsize(server, 0) == 0);  // nothing ran as the default user in db 0
  int written_after_failure = 0;
  for (const auto& [key, acknowledged] : outcomes.acknowledged) {
    if (!acknowledged && key_exists(server, 2, "k:" + key)) ++written_after_failure;
  }
  CHECK(written_after_failure == 0);
  CHECK(outcomes.handshake_failures > 0);
}

TEST_CASE("after a restart without the selected database no command runs in database 0",
          "[redis][handshake]") {
  redis_server server({.config = {"databases 16"}});
  const auto url = "redis://127.0.0.1:" + std::to_string(server.port()) + "/5";
  const auto outcomes =
      run_coroutine([&](asio::any_io_executor executor) -> asio::awaitable<write_outcomes> {
        RedisCacheBackend<std::string> cache(executor, fast_reconnect(url));
        co_await cache.initialize();
        auto out = co_await write_during(
            cache,
            [&] {
              server.set_config({"databases 2"});
              server.restart();
            },
            1500ms);
        co_await cache.shutdown();
        co_return out;
      });
  CHECK(outcomes.failed > 0);
  CHECK(dbsize(server, 0) == 0);
  CHECK(dbsize(server, 1) == 0);
}
