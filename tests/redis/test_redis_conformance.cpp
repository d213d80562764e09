// The shared contract suite against RedisCacheBackend on a real redis-server, with real time.
#include <atomic>
#include <string>
#include <tuple>

#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "corocache/redis_backend.hpp"
#include "support/redis_server.hpp"

namespace {

// One server for the whole executable: starting one per case would dominate the run time, and the
// unique prefix of each fixture keeps the cases apart.
corocache::test::redis_server& shared_server() {
  static corocache::test::redis_server server;
  return server;
}

std::string unique_prefix() {
  static std::atomic<int> next{0};
  return "conformance:" + std::to_string(next++) + ":";
}

struct redis_fixture {
  using value_type = std::string;
  static constexpr const char* name = "redis";

  explicit redis_fixture(asio::any_io_executor executor)
      : executor_(executor),
        cache_(executor, "redis://127.0.0.1:" + std::to_string(shared_server().port()) + "/0",
               unique_prefix()) {}

  corocache::CacheBackend<std::string>& backend() { return cache_; }

  // Redis expires keys on its own clock, so time really has to pass.
  asio::awaitable<void> elapse(std::chrono::milliseconds duration) {
    asio::steady_timer timer(executor_, duration);
    co_await timer.async_wait(asio::use_awaitable);
  }

  // Redis expires with millisecond precision; 100ms keeps the suite fast yet far above the jitter
  // of a loopback round trip.
  std::chrono::milliseconds short_ttl() const { return std::chrono::milliseconds(100); }

  asio::any_io_executor executor_;
  corocache::RedisCacheBackend<std::string> cache_;
};

}  // namespace

using conformance_fixtures = std::tuple<redis_fixture>;
#include "conformance/conformance_suite.hpp"
