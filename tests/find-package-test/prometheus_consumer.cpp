// A user's program on the installed Prometheus adapter: one hit counted and scraped.
#include <cstdio>
#include <memory>
#include <string>

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include "corocache/memory_backend.hpp"
#include "corocache/prometheus.hpp"

int main() {
  prometheus::Registry registry;
  corocache::prometheus_metrics metrics(registry);
  corocache::instrumented<std::string> cache(
      std::make_unique<corocache::MemoryCacheBackend<std::string>>(), "memory",
      metrics.observer_for("memory"));
  asio::io_context io;
  auto use = [&]() -> asio::awaitable<void> {
    co_await cache.initialize();
    co_await cache.set("k", "v");
    co_await cache.get("k");
    co_await cache.shutdown();
  };
  asio::co_spawn(io, use(), asio::detached);
  io.run();
  const auto scrape = prometheus::TextSerializer().Serialize(registry.Collect());
  const std::string hit =
      "corocache_operations_total{backend=\"memory\",operation=\"get\",result=\"hit\"} 1";
  if (scrape.find(hit) == std::string::npos) {
    std::fprintf(stderr, "no counted hit in the scrape:\n%s\n", scrape.c_str());
    return 1;
  }
  return 0;
}
