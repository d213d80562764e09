// One RedisCacheBackend shared by 10,000 coroutines on an io_context that two threads run: every
// value read back is the one written for that key. Labelled "threads": the tsan run includes it.
#include <asio/bind_executor.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "corocache/redis_backend.hpp"
#include "support/catch.hpp"
#include "support/redis_server.hpp"

namespace {

constexpr int coroutines = 10'000;

std::string value_for(int i) {
  return "value of key " + std::to_string(i);
}

struct outcome {
  std::atomic<int> matched{0};
  std::atomic<int> wrong{0};
  std::atomic<int> failed{0};
};

asio::awaitable<void> write_then_read(corocache::CacheBackend<std::string>& cache, int i,
                                      outcome& result) {
  const auto key = "k" + std::to_string(i);
  co_await cache.set(key, value_for(i));
  const auto value = co_await cache.get(key);
  if (value == value_for(i)) {
    ++result.matched;
  } else {
    ++result.wrong;
  }
}

// Spawns every worker on the two-thread io_context and waits on `strand` until all finished.
asio::awaitable<void> run_all(corocache::CacheBackend<std::string>& cache, asio::io_context& io,
                              asio::strand<asio::io_context::executor_type> strand,
                              outcome& result) {
  co_await cache.initialize();
  int remaining = coroutines;  // touched only on `strand`
  asio::steady_timer all_done(strand, asio::steady_timer::time_point::max());
  for (int i = 0; i < coroutines; ++i) {
    auto finished = [&](std::exception_ptr error) {
      if (error) ++result.failed;
      if (--remaining == 0) all_done.cancel();
    };
    asio::co_spawn(io, write_then_read(cache, i, result), asio::bind_executor(strand, finished));
  }
  asio::error_code cancelled;
  co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, cancelled));
  co_await cache.shutdown();
}

}  // namespace

TEST_CASE("10k coroutines on two threads each read back their own key's value",
          "[redis_backend][threads]") {
  corocache::test::redis_server server;
  asio::io_context io(2);
  auto strand = asio::make_strand(io);
  corocache::RedisCacheBackend<std::string> cache(
      io.get_executor(), "redis://127.0.0.1:" + std::to_string(server.port()) + "/0", "threads:");
  outcome result;
  std::exception_ptr error;
  bool done = false;
  asio::co_spawn(strand, run_all(cache, io, strand, result), [&](std::exception_ptr e) {
    error = e;
    done = true;
    io.stop();  // the connection's own timers would keep run() going
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) threads.emplace_back([&] { io.run_for(std::chrono::seconds(120)); });
  for (auto& t : threads) t.join();

  REQUIRE(done);
  if (error) std::rethrow_exception(error);
  CHECK(result.failed == 0);
  CHECK(result.wrong == 0);
  CHECK(result.matched == coroutines);
}

namespace {

// Keeps this thread busy for `duration` (CPU work, not a sleep).
void spin_for(std::chrono::microseconds duration) {
  const auto until = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < until) {
  }
}

struct sections {
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  std::atomic<int> failed{0};
};

// get(), then CPU work after the co_await: the caller's own code, which must not run on the
// connection's strand.
asio::awaitable<void> get_then_work(corocache::CacheBackend<std::string>& cache, sections& s) {
  for (int round = 0; round < 20; ++round) {
    co_await cache.get("shared");
    const int now = ++s.running;
    int most = s.most.load();
    while (now > most && !s.most.compare_exchange_weak(most, now)) {
    }
    spin_for(std::chrono::milliseconds(2));
    --s.running;
  }
}

}  // namespace

TEST_CASE("callers resumed by the connection run their code on both threads at once",
          "[redis_backend][threads]") {
  corocache::test::redis_server server;
  asio::io_context io(2);
  auto strand = asio::make_strand(io);
  corocache::RedisCacheBackend<std::string> cache(
      io.get_executor(), "redis://127.0.0.1:" + std::to_string(server.port()) + "/0", "threads:");
  sections s;
  std::exception_ptr error;
  bool done = false;
  auto run = [&]() -> asio::awaitable<void> {
    co_await cache.initialize();
    co_await cache.set("shared", "v");
    int remaining = 32;  // touched only on `strand`
    asio::steady_timer all_done(strand, asio::steady_timer::time_point::max());
    for (int i = 0; i < 32; ++i) {
      auto finished = [&](std::exception_ptr e) {
        if (e) ++s.failed;
        if (--remaining == 0) all_done.cancel();
      };
      asio::co_spawn(io, get_then_work(cache, s), asio::bind_executor(strand, finished));
    }
    asio::error_code cancelled;
    co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, cancelled));
    co_await cache.shutdown();
  };
  asio::co_spawn(strand, run(), [&](std::exception_ptr e) {
    error = e;
    done = true;
    io.stop();
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) threads.emplace_back([&] { io.run_for(std::chrono::seconds(120)); });
  for (auto& t : threads) t.join();

  REQUIRE(done);
  if (error) std::rethrow_exception(error);
  CHECK(s.failed == 0);
  // With callers resumed on the connection's strand, at most one section ever ran at a time.
  CHECK(s.most == 2);
}
