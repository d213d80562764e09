// The conformance suite's fixture for RedisCacheBackend on a real redis-server, shared by the plain
// and the TLS runs: each names itself and says how to reach the one server of its executable
// (starting a server per case would dominate the run time; the unique prefix of each fixture keeps
// the cases apart).
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "corocache/redis_backend.hpp"

namespace corocache::test {

inline std::string unique_conformance_prefix() {
  static std::atomic<int> next{0};
  return "conformance:" + std::to_string(next++) + ":";
}

// Name: the fixture's name in the suite's output; url: the shared server's URL.
template <const char* Name, std::string (*url)()>
struct redis_conformance_fixture {
  using value_type = std::string;
  static constexpr const char* name = Name;

  explicit redis_conformance_fixture(asio::any_io_executor executor)
      : executor_(executor), cache_(executor, url(), unique_conformance_prefix()) {}

  CacheBackend<std::string>& backend() { return cache_; }

  // Redis expires keys on its own clock, so time really has to pass.
  asio::awaitable<void> elapse(std::chrono::milliseconds duration) {
    asio::steady_timer timer(executor_, duration);
    co_await timer.async_wait(asio::use_awaitable);
  }

  // Redis expires with millisecond precision; 100ms keeps the suite fast yet far above the jitter
  // of a loopback round trip.
  std::chrono::milliseconds short_ttl() const { return std::chrono::milliseconds(100); }

  asio::any_io_executor executor_;
  RedisCacheBackend<std::string> cache_;
};

}  // namespace corocache::test
