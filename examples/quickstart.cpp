// Quick start: a cache in front of a slow lookup. Uses the in-process memory backend unless a
// backend URL is given, e.g. `quickstart null://` or `quickstart redis://127.0.0.1:6379/0`.
#include <corocache/corocache.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

using namespace std::chrono_literals;

namespace {

// Stands in for a database query or a remote call.
asio::awaitable<std::string> load_profile(const std::string& user) {
  asio::steady_timer delay(co_await asio::this_coro::executor, 20ms);
  co_await delay.async_wait(asio::use_awaitable);
  co_return "{\"user\":\"" + user + "\"}";
}

asio::awaitable<void> run(std::string url) {
  auto cache = corocache::make_backend<std::string>(url, co_await asio::this_coro::executor);
  co_await cache->initialize();

  for (int round = 1; round <= 2; ++round) {
    const std::string key = "profile:alice";
    auto profile = co_await cache->get(key);
    const bool hit = profile.has_value();
    if (!hit) {
      profile = co_await load_profile("alice");
      co_await cache->set(key, *profile, 30s);
    }
    std::printf("round %d: %s %s\n", round, hit ? "hit " : "miss", profile->c_str());
  }

  const auto visits = co_await cache->incr("visits:alice", 1, 0, 1h);
  std::printf("visits: %lld\n", static_cast<long long>(visits));

  // g++ 12 rejects a braced list inside co_await: build the argument as a named local first.
  std::vector<std::string> keys{"profile:alice", "profile:bob"};
  const auto many = co_await cache->get_many(keys);
  std::printf("get_many: alice %s, bob %s\n", many[0] ? "cached" : "missing",
              many[1] ? "cached" : "missing");

  std::printf("removed %zu key(s) matching profile:*\n",
              co_await cache->invalidate_pattern("profile:*"));
  co_await cache->shutdown();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string url = argc > 1 ? argv[1] : "memory://?max_size=10000&clean_interval=30s";
  asio::io_context io;
  int status = 0;
  asio::co_spawn(io, run(url), [&](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "quickstart: %s\n", error.what());
      status = 1;
    }
  });
  io.run();
  return status;
}
