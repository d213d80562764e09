// The Prometheus adapter, scraped through prometheus-cpp's text serializer.
#include <memory>
#include <sstream>
#include <string>

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "corocache/memory_backend.hpp"
#include "corocache/prometheus.hpp"
#include "support/catch.hpp"
#include "support/error_of.hpp"
#include "support/run_coroutine.hpp"

namespace {

// The value of the sample line that starts with `series` (name and labels as serialized).
std::optional<double> sample(const std::string& scrape, const std::string& series) {
  std::istringstream lines(scrape);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("the Prometheus adapter counts and times every operation it saw", "[prometheus]") {
  prometheus::Registry registry;
  corocache::prometheus_metrics metrics(registry);
  corocache::instrumented<std::string> cache(
      std::make_unique<corocache::MemoryCacheBackend<std::string>>(), "memory",
      metrics.observer_for("memory"));
  corocache::test::run_coroutine([&]() -> asio::awaitable<void> {
    co_await cache.initialize();
    co_await cache.set("a", "1");
    co_await cache.get("a");
    co_await cache.get("a");
    co_await cache.get("missing");
    CHECK(co_await corocache::test::error_of(cache.incr("a", 1)) == std::nullopt);
    co_await cache.set("word", "x");
    CHECK(co_await corocache::test::error_of(cache.incr("word")) == corocache::errc::not_a_counter);
    co_await cache.shutdown();
  });
  const auto scrape = prometheus::TextSerializer().Serialize(registry.Collect());
  const std::string ops = "corocache_operations_total{backend=\"memory\",";
  CHECK(sample(scrape, ops + "operation=\"get\",result=\"hit\"}") == 2.0);
  CHECK(sample(scrape, ops + "operation=\"get\",result=\"miss\"}") == 1.0);
  CHECK(sample(scrape, ops + "operation=\"set\",result=\"ok\"}") == 2.0);
  CHECK(sample(scrape, ops + "operation=\"incr\",result=\"ok\"}") == 1.0);
  CHECK(sample(scrape, ops + "operation=\"incr\",result=\"error\"}") == 1.0);
  CHECK(sample(scrape, ops + "operation=\"erase\",result=\"ok\"}") == 0.0);
  const std::string durations = "corocache_operation_duration_seconds";
  CHECK(sample(scrape, durations + "_count{backend=\"memory\",operation=\"get\"}") == 3.0);
  CHECK(sample(scrape, durations + "_count{backend=\"memory\",operation=\"incr\"}") == 2.0);
  const auto get_seconds = sample(scrape, durations + "_sum{backend=\"memory\",operation=\"get\"}");
  REQUIRE(get_seconds);
  CHECK(*get_seconds > 0.0);
  CHECK(*get_seconds < 60.0);
  CHECK(sample(scrape, durations + "_bucket{backend=\"memory\",operation=\"get\",le=\"+Inf\"}") ==
        3.0);
}
