// Stale-while-revalidate: a value is fresh for 1 s, then served stale for up to 10 s more while
// one background refresh replaces it, so readers never wait for the slow source once the key is
// warm. Uses the memory backend unless a backend URL is given (e.g. redis://127.0.0.1:6379/0).
//
//   stale_while_revalidate [backend-url]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <corocache/corocache.hpp>

using namespace std::chrono_literals;

namespace {

std::atomic<int> version{0};

// The slow source: 400ms per call, a new version each time.
asio::awaitable<std::string> fetch_price() {
  asio::steady_timer delay(co_await asio::this_coro::executor, 400ms);
  co_await delay.async_wait(asio::use_awaitable);
  co_return "price v" + std::to_string(++version);
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::use_awaitable);
}

asio::awaitable<void> read(corocache::CacheBackend<std::string>& cache, const char* when) {
  corocache::get_or_set_options options;
  options.ttl = 1s;
  options.stale_for = 10s;
  options.on_refresh_error = [](const std::string& key, std::exception_ptr) {
    std::fprintf(stderr, "refreshing %s failed; the stale value stays\n", key.c_str());
  };
  auto load = [] { return fetch_price(); };  // named first: see the README on g++ 12
  const auto start = std::chrono::steady_clock::now();
  const auto value = co_await cache.get_or_set("price:widget", load, options);
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  std::printf("%-34s %-10s %4lld ms\n", when, value.c_str(),
              static_cast<long long>(elapsed.count()));
}

asio::awaitable<void> run(std::string url) {
  auto cache = corocache::make_backend<std::string>(url, co_await asio::this_coro::executor);
  co_await cache->initialize();
  co_await cache->erase("price:widget");
  co_await read(*cache, "cold: waits for the source");
  co_await read(*cache, "fresh: from the cache");
  co_await sleep_for(1200ms);
  co_await read(*cache, "stale: served at once, refreshing");
  co_await read(*cache, "stale again: no second refresh");
  co_await sleep_for(800ms);
  co_await read(*cache, "refreshed: the new value");
  std::printf("the source was called %d times\n", version.load());
  co_await cache->erase("price:widget");
  co_await cache->shutdown();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string url = argc > 1 ? argv[1] : "memory://";
  asio::io_context io;
  int status = 0;
  asio::co_spawn(io, run(url), [&](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "stale_while_revalidate: %s\n", error.what());
      status = 1;
    }
  });
  io.run();
  return status;
}
