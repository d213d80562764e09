// Cache-aside with get_or_set: look in the cache, on a miss run the slow function once (however
// many requests ask at the same time) and store its result with a TTL; after a write to the
// source, drop the cached copy. The cache is Redis behind fail_open, so a Redis outage slows
// requests down instead of failing them; when Redis cannot be reached at start, the example uses
// an in-process memory cache instead.
//
//   cache_aside [redis-url]       default redis://127.0.0.1:6379/0
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <corocache/corocache.hpp>
#include <corocache/fail_open.hpp>

using namespace std::chrono_literals;
using cache_type = corocache::CacheBackend<std::string>;

namespace {

std::atomic<int> source_queries{0};

// Stands in for an expensive query: 300ms per call.
asio::awaitable<std::string> fetch_report(std::string region) {
  ++source_queries;
  asio::steady_timer delay(co_await asio::this_coro::executor, 300ms);
  co_await delay.async_wait(asio::use_awaitable);
  co_return "sales report for " + region;
}

asio::awaitable<std::string> cached_report(cache_type& cache, std::string region) {
  // The loader is named before the co_await: g++ 12 destroys a capturing lambda written inside
  // a co_await expression twice.
  auto load = [region] { return fetch_report(region); };
  co_return co_await cache.get_or_set("report:" + region, load, 10min);
}

asio::awaitable<void> timed_read(cache_type& cache, std::string region) {
  const auto start = std::chrono::steady_clock::now();
  const auto report = co_await cached_report(cache, region);
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  std::printf("%-28s %5lld ms\n", report.c_str(), static_cast<long long>(elapsed.count()));
}

// Redis behind fail_open; an in-process cache when Redis cannot be reached at start.
asio::awaitable<std::unique_ptr<cache_type>> open_cache(const std::string& url) {
  auto executor = co_await asio::this_coro::executor;
  const char* separator = url.find('?') == std::string::npos ? "?" : "&";
  auto cache = corocache::make_backend<std::string>(
      "fail-open+" + url + separator + "prefix=example:cache_aside:", executor);
  co_await cache->initialize();  // succeeds even when the server is down
  auto& redis = dynamic_cast<corocache::fail_open<std::string>&>(*cache);
  if (redis.failures(corocache::errc::connection_error) +
          redis.failures(corocache::errc::timeout) ==
      0) {
    redis.on_failure([](const corocache::absorbed_failure& f) {
      std::fprintf(stderr, "cache %.*s failed (errc %d): served from the source\n",
                   static_cast<int>(f.operation.size()), f.operation.data(),
                   static_cast<int>(f.code));
    });
    co_return std::move(cache);
  }
  std::printf("%s is down: using an in-process memory cache\n", url.c_str());
  co_await cache->shutdown();
  auto memory = std::make_unique<corocache::MemoryCacheBackend<std::string>>(10000);
  co_await memory->initialize();
  co_return std::move(memory);
}

asio::awaitable<void> run(std::string url) {
  auto cache = co_await open_cache(url);

  co_await timed_read(*cache, "emea");  // miss: pays for the query
  co_await timed_read(*cache, "emea");  // hit

  // Ten concurrent requests for a cold key: one query, ten answers.
  using namespace asio::experimental::awaitable_operators;
  const int before = source_queries;
  co_await (timed_read(*cache, "apac") && timed_read(*cache, "apac") &&
            timed_read(*cache, "apac") && timed_read(*cache, "apac") &&
            timed_read(*cache, "apac") && timed_read(*cache, "apac") &&
            timed_read(*cache, "apac") && timed_read(*cache, "apac") &&
            timed_read(*cache, "apac") && timed_read(*cache, "apac"));
  std::printf("10 concurrent reads of a cold key ran %d query\n", source_queries - before);

  // The source changed: drop the cached copies so the next read fetches fresh data.
  const auto dropped = co_await cache->invalidate_pattern("report:*");
  std::printf("invalidated %zu cached report(s)\n", dropped);
  co_await timed_read(*cache, "emea");  // miss again

  co_await cache->clear();
  co_await cache->shutdown();
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
