// Cache-aside against Redis: look in the cache first, on a miss call the slow function and store
// its result with a TTL; after a write to the source, drop the cached copy.
//
//   cache_aside [redis-url]       default redis://127.0.0.1:6379/0
//
// Exits with status 1 and a message naming the server when Redis cannot be reached.
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <corocache/redis_backend.hpp>

using namespace std::chrono_literals;
using cache_type = corocache::RedisCacheBackend<std::string>;

namespace {

// Stands in for an expensive query: 300ms per call.
asio::awaitable<std::string> fetch_report(const std::string& region) {
  asio::steady_timer delay(co_await asio::this_coro::executor, 300ms);
  co_await delay.async_wait(asio::use_awaitable);
  co_return "sales report for " + region;
}

// The cache-aside read: a cache failure (say, Redis restarting) must not fail the request, so it
// falls back to the source; only the source's own errors propagate.
asio::awaitable<std::string> cached_report(cache_type& cache, const std::string& region) {
  const auto key = "report:" + region;
  try {
    if (auto hit = co_await cache.get(key)) co_return *hit;
  } catch (const corocache::cache_error& e) {
    std::fprintf(stderr, "cache read failed, using the source: %s\n", e.what());
  }
  auto report = co_await fetch_report(region);
  try {
    co_await cache.set(key, report, 10min);
  } catch (const corocache::cache_error& e) {
    std::fprintf(stderr, "cache write failed: %s\n", e.what());
  }
  co_return report;
}

asio::awaitable<void> timed_read(cache_type& cache, const std::string& region) {
  const auto start = std::chrono::steady_clock::now();
  const auto report = co_await cached_report(cache, region);
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  std::printf("%-28s %5lld ms\n", report.c_str(), static_cast<long long>(elapsed.count()));
}

asio::awaitable<void> run(std::string url) {
  cache_type cache(co_await asio::this_coro::executor, url, "example:cache_aside:");
  co_await cache.initialize();  // throws cache_error when the server is unreachable

  co_await timed_read(cache, "emea");  // miss: pays for the query
  co_await timed_read(cache, "emea");  // hit
  if (const auto ttl = co_await cache.get_ttl("report:emea"))
    std::printf("cached copy expires in %lld s\n", static_cast<long long>(ttl->count() / 1000));

  // The source changed: drop the cached copies so the next read fetches fresh data.
  const auto dropped = co_await cache.invalidate_pattern("report:*");
  std::printf("invalidated %zu cached report(s)\n", dropped);
  co_await timed_read(cache, "emea");  // miss again

  co_await cache.clear();
  co_await cache.shutdown();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string url = argc > 1 ? argv[1] : "redis://127.0.0.1:6379/0";
  asio::io_context io;
  int status = 0;
  asio::co_spawn(io, run(url), [&](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "cache_aside: %s\n", error.what());
      status = 1;
    }
  });
  io.run();
  return status;
}
