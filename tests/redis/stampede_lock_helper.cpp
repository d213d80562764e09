// One process of the stampede-lock test (test_redis_stampede_lock.cpp): `callers` concurrent
// get_or_set calls on one cold key with get_or_set_options::lock, against a shared Redis.
//
//   stampede_lock_helper <port> <prefix> <key> <callers> <loader_ms> <lock_ttl_ms> <processes>
//
// Each loader run counts itself in Redis ("loader_runs", and "loads:<pid>" so the test can tell
// which process holds the lock) and then sleeps loader_ms. The processes start their callers
// together: each counts itself in "ready" and waits (bounded) until all have. Prints
// "value=<v> loads=<n> lock_waits=<n>" and exits 0 when every caller got the same value; exits 1
// when they did not, 2 on a timeout, 3 on an exception.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "corocache/redis_backend.hpp"

namespace {

using namespace std::chrono_literals;
using cache_type = corocache::RedisCacheBackend<std::string>;

struct settings {
  std::string port, prefix, key;
  int callers = 0;
  std::chrono::milliseconds loader_time{0};
  std::chrono::milliseconds lock_ttl{0};
  int processes = 0;
};

asio::awaitable<void> pause_for(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(asio::use_awaitable);
}

// Every process counts itself in, then waits until all have (at most 10 s).
asio::awaitable<void> start_together(cache_type& cache, int processes) {
  co_await cache.incr("ready");
  for (int i = 0; i < 2000; ++i) {
    if (co_await cache.incr("ready", 0) >= processes) co_return;
    co_await pause_for(5ms);
  }
  throw std::runtime_error("the other processes did not start in time");
}

template <class Loader>
asio::awaitable<void> call(cache_type& cache, std::string key, Loader loader,
                           corocache::get_or_set_options options, std::optional<std::string>& out) {
  out = co_await cache.get_or_set(std::move(key), std::move(loader), std::move(options));
}

asio::awaitable<int> run(const settings& s) {
  const auto executor = co_await asio::this_coro::executor;
  cache_type cache(executor, "redis://127.0.0.1:" + s.port + "/0", s.prefix);
  co_await cache.initialize();
  co_await start_together(cache, s.processes);

  const auto pid = std::to_string(::getpid());
  auto loader = [&cache, &s, pid]() -> asio::awaitable<std::string> {
    co_await cache.incr("loads:" + pid);
    co_await cache.incr("loader_runs");
    co_await pause_for(s.loader_time);
    co_return "loaded by " + pid;
  };
  corocache::get_or_set_options options;
  options.ttl = 60s;
  options.lock = corocache::stampede_lock_options{};
  options.lock->ttl = s.lock_ttl;
  options.lock->max_wait = 30s;

  std::vector<std::optional<std::string>> values(static_cast<std::size_t>(s.callers));
  std::atomic<int> done{0};
  std::exception_ptr failure;
  for (auto& value : values) {
    asio::co_spawn(executor, call(cache, s.key, loader, options, value), [&](std::exception_ptr e) {
      if (e) failure = e;
      ++done;
    });
  }
  for (int i = 0; i < 9000 && done < s.callers; ++i) co_await pause_for(10ms);
  if (done < s.callers) co_return 2;
  if (failure) std::rethrow_exception(failure);

  const auto stats = cache.load_stats();
  std::printf("value=%s loads=%llu lock_waits=%llu\n", values.front().value_or("").c_str(),
              static_cast<unsigned long long>(stats.loads),
              static_cast<unsigned long long>(stats.lock_waits));
  std::fflush(stdout);
  for (const auto& value : values)
    if (!value || *value != *values.front()) co_return 1;
  co_await cache.shutdown();
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 8) {
    std::fprintf(stderr,
                 "usage: %s <port> <prefix> <key> <callers> <loader_ms> <lock_ttl_ms> "
                 "<processes>\n",
                 argv[0]);
    return 64;
  }
  settings s{argv[1],
             argv[2],
             argv[3],
             std::atoi(argv[4]),
             std::chrono::milliseconds(std::atoi(argv[5])),
             std::chrono::milliseconds(std::atoi(argv[6])),
             std::atoi(argv[7])};
  asio::io_context io;
  std::optional<int> status;
  asio::co_spawn(io, run(s), [&](std::exception_ptr e, int code) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        std::fprintf(stderr, "stampede_lock_helper: %s\n", x.what());
      }
      status = 3;
    } else {
      status = code;
    }
    io.stop();
  });
  io.run_for(std::chrono::seconds(120));
  return status.value_or(2);
}
