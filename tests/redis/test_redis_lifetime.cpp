// An operation created before its backend is destroyed, and awaited after, completes with
// errc::shut_down and touches nothing freed (run under the asan preset to prove the second half).
#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include "corocache/instrumented.hpp"
#include "corocache/redis_backend.hpp"
#include "redis/redis_test_support.hpp"
#include "support/catch.hpp"
#include "support/redis_server.hpp"

using namespace corocache;
using namespace corocache::test;

namespace {

using cache_type = RedisCacheBackend<std::string>;

// Every operation of the backend, created (not awaited) on `cache`.
std::vector<asio::awaitable<std::optional<errc>>> every_operation(cache_type& cache) {
  std::vector<asio::awaitable<std::optional<errc>>> operations;
  cache_type::key_list keys{"a", "b"};
  cache_type::item_list items{{"a", "1"}, {"b", "2"}};
  operations.push_back(error_of(cache.get("k")));
  operations.push_back(error_of(cache.set("k", "v")));
  operations.push_back(error_of(cache.set("k", "v", std::chrono::seconds(5))));
  operations.push_back(error_of(cache.erase("k")));
  operations.push_back(error_of(cache.exists("k")));
  operations.push_back(error_of(cache.invalidate_pattern("*")));
  operations.push_back(error_of(cache.clear()));
  operations.push_back(error_of(cache.get_many(keys)));
  operations.push_back(error_of(cache.set_many(items)));
  operations.push_back(error_of(cache.set_many(items, std::chrono::seconds(5))));
  operations.push_back(error_of(cache.erase_many(keys)));
  operations.push_back(error_of(cache.incr("n")));
  operations.push_back(error_of(cache.decr("n")));
  operations.push_back(error_of(cache.get_ttl("k")));
  operations.push_back(error_of(cache.add_to_set("s", "m")));
  operations.push_back(error_of(cache.add_many_to_set("s", {"m", "n"})));
  operations.push_back(error_of(cache.get_set_members("s")));
  operations.push_back(error_of(cache.remove_from_set("s", "m")));
  return operations;
}

}  // namespace

TEST_CASE("operations created before the backend is destroyed complete with shut_down afterwards",
          "[redis][lifetime]") {
  redis_server server;
  asio::io_context io;        // the backend's
  asio::io_context other_io;  // the callers'
  auto cache = std::make_unique<cache_type>(
      io.get_executor(), "redis://127.0.0.1:" + std::to_string(server.port()) + "/0");
  bool initialized = false;
  asio::co_spawn(io, cache->initialize(), [&](std::exception_ptr e) {
    initialized = !e;
    io.stop();  // the open connection would keep run() going
  });
  io.run();
  REQUIRE(initialized);
  io.restart();

  std::vector<std::optional<std::optional<errc>>> outcomes;
  auto operations = every_operation(*cache);
  outcomes.resize(operations.size());
  for (std::size_t i = 0; i < operations.size(); ++i) {
    asio::co_spawn(other_io, std::move(operations[i]),
                   [&outcomes, i](std::exception_ptr e, std::optional<errc> error) {
                     REQUIRE_FALSE(e);
                     outcomes[i] = error;
                   });
  }
  cache.reset();  // before any of them started
  // Both contexts run (one thread, in turn) until every operation completed, for at most 10 s.
  const auto all_done = [&] {
    return std::all_of(outcomes.begin(), outcomes.end(),
                       [](const auto& o) { return o.has_value(); });
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!all_done() && std::chrono::steady_clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(5));
    other_io.run_for(std::chrono::milliseconds(5));
  }
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    INFO("operation " << i);
    REQUIRE(outcomes[i].has_value());
    CHECK(*outcomes[i] == errc::shut_down);
  }
}

TEST_CASE(
    "an operation awaited after its backend and the backend's connection are gone fails cleanly",
    "[redis][lifetime]") {
  redis_server server;
  asio::io_context io;
  auto cache = std::make_unique<cache_type>(
      io.get_executor(), "redis://127.0.0.1:" + std::to_string(server.port()) + "/0");
  std::optional<std::optional<errc>> outcome;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await cache->initialize();
        auto get = cache->get("k");
        co_await cache->shutdown();
        cache.reset();
        outcome = co_await error_of(std::move(get));
      },
      asio::detached);
  io.run();
  REQUIRE(outcome.has_value());
  CHECK(*outcome == errc::shut_down);
}

// instrumented<T> without an observer hands get() and get_many() to the Redis backend's own hooks,
// which count into the backend's tally: the awaitables must own that tally too.
TEST_CASE(
    "a counted get and get_many awaited after the instrumented Redis backend is destroyed "
    "fail with shut_down",
    "[redis][lifetime]") {
  redis_server server;
  asio::io_context io;
  auto wrapped = std::make_unique<instrumented<std::string>>(
      std::make_unique<cache_type>(io.get_executor(),
                                   "redis://127.0.0.1:" + std::to_string(server.port()) + "/0"),
      "redis");
  std::optional<std::optional<errc>> get_outcome;
  std::optional<std::optional<errc>> get_many_outcome;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await wrapped->initialize();
        co_await wrapped->set("k", "v");
        CHECK(co_await wrapped->get("k") == "v");  // counting is on and works
        CHECK(wrapped->stats().hits == 1);
        auto get = wrapped->get("k");
        cache_type::key_list keys{"k", "other"};
        auto get_many = wrapped->get_many(keys);
        wrapped.reset();  // no shutdown: the destructor alone
        get_outcome = co_await error_of(std::move(get));
        get_many_outcome = co_await error_of(std::move(get_many));
      },
      asio::detached);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!get_many_outcome && std::chrono::steady_clock::now() < deadline)
    io.run_for(std::chrono::milliseconds(5));
  REQUIRE(get_outcome.has_value());
  CHECK(*get_outcome == errc::shut_down);
  REQUIRE(get_many_outcome.has_value());
  CHECK(*get_many_outcome == errc::shut_down);
}
