// The shared contract suite against RedisCacheBackend over rediss://, on a TLS-only redis-server
// with certificates made for the run. Registered as one test (not one per case) so that the
// certificates and the server are made once.
#include <atomic>
#include <string>
#include <tuple>

#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "corocache/redis_backend.hpp"
#include "support/redis_server.hpp"
#include "support/redis_tls.hpp"

namespace {

struct tls_server {
  corocache::test::tls_certificates certificates;
  corocache::test::redis_server server{certificates.server_options()};
};

tls_server& shared_server() {
  static tls_server instance;
  return instance;
}

std::string unique_prefix() {
  static std::atomic<int> next{0};
  return "conformance:" + std::to_string(next++) + ":";
}

struct redis_tls_fixture {
  using value_type = std::string;
  static constexpr const char* name = "redis over TLS";

  explicit redis_tls_fixture(asio::any_io_executor executor)
      : executor_(executor),
        cache_(executor, shared_server().certificates.url(shared_server().server),
               unique_prefix()) {}

  corocache::CacheBackend<std::string>& backend() { return cache_; }

  asio::awaitable<void> elapse(std::chrono::milliseconds duration) {
    asio::steady_timer timer(executor_, duration);
    co_await timer.async_wait(asio::use_awaitable);
  }

  std::chrono::milliseconds short_ttl() const { return std::chrono::milliseconds(100); }

  asio::any_io_executor executor_;
  corocache::RedisCacheBackend<std::string> cache_;
};

}  // namespace

using conformance_fixtures = std::tuple<redis_tls_fixture>;
#include "conformance/conformance_suite.hpp"
