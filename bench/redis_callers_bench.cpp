// Do callers' own code and the cache's replies get in each other's way? Two threads run one
// io_context; 32 coroutines each loop `rounds` times: co_await one GET, then spin on the CPU for
// `work_us` (the caller's own work after the cache answered). With callers resumed on their own
// executor, the two threads run two callers' work at once; resumed inline on the connection, one.
// The baseline runs the same loop with `co_await asio::post(use_awaitable)` in place of the GET:
// the most parallelism this shape of program can have on two threads.
//
//   redis_callers_bench --host=H --port=P [--coroutines=32] [--rounds=20] [--work-us=2000]
// prints one JSON line per client: mean sections at once (busy time / wall time), most at once.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include "corocache/redis_backend.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

struct options {
  std::string host = "127.0.0.1";
  int port = 6379;
  int coroutines = 32;
  int rounds = 20;
  int work_us = 2000;
};

// Counts how many callers are inside their CPU section at once.
struct section_meter {
  std::atomic<int> inside{0};
  std::atomic<int> most{0};
  std::atomic<std::int64_t> busy_ns{0};

  void spin(std::chrono::microseconds work) {
    const int now = inside.fetch_add(1) + 1;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
    const auto start = clock_type::now();
    while (clock_type::now() - start < work) {
    }
    busy_ns +=
        std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - start).count();
    inside.fetch_sub(1);
  }
};

template <class Wait>
void run(const char* client, const options& o, asio::io_context& io, Wait wait) {
  section_meter meter;
  std::exception_ptr failure;
  std::atomic<int> left{o.coroutines};
  const auto work = std::chrono::microseconds(o.work_us);
  const auto start = clock_type::now();
  clock_type::time_point end;
  for (int c = 0; c < o.coroutines; ++c) {
    auto body = [&, c]() -> asio::awaitable<void> {
      for (int r = 0; r < o.rounds; ++r) {
        co_await wait(c);
        meter.spin(work);
      }
    };
    asio::co_spawn(io, body, [&](std::exception_ptr e) {
      if (e && !failure) failure = e;
      if (--left == 0) {
        end = clock_type::now();
        io.stop();  // a connection keeps the io_context busy for good
      }
    });
  }
  std::thread second([&] { io.run(); });
  io.run();
  second.join();
  if (failure) std::rethrow_exception(failure);
  const double wall = std::chrono::duration<double>(end - start).count();
  const double mean = static_cast<double>(meter.busy_ns.load()) * 1e-9 / wall;
  std::printf(
      "{\"client\":\"%s\",\"coroutines\":%d,\"rounds\":%d,\"work_us\":%d,\"threads\":2,"
      "\"seconds\":%.6f,\"mean_parallel\":%.3f,\"max_parallel\":%d}\n",
      client, o.coroutines, o.rounds, o.work_us, wall, mean, meter.most.load());
  std::fflush(stdout);
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const auto eq = arg.find('=');
    if (!arg.starts_with("--") || eq == std::string_view::npos) {
      std::fprintf(stderr,
                   "usage: %s --host=H --port=P [--coroutines=N] [--rounds=N] [--work-us=N]\n",
                   argv[0]);
      std::exit(2);
    }
    const auto name = arg.substr(2, eq - 2);
    const std::string value(arg.substr(eq + 1));
    if (name == "host") o.host = value;
    if (name == "port") o.port = std::atoi(value.c_str());
    if (name == "coroutines") o.coroutines = std::atoi(value.c_str());
    if (name == "rounds") o.rounds = std::atoi(value.c_str());
    if (name == "work-us") o.work_us = std::atoi(value.c_str());
  }
  return o;
}

}  // namespace

// Runs `task` to completion on `io` alone (the connection keeps `io` busy: run() would not return).
void run_alone(asio::io_context& io, asio::awaitable<void> task) {
  std::exception_ptr failure;
  bool done = false;
  asio::co_spawn(io, std::move(task), [&](std::exception_ptr e) {
    failure = e;
    done = true;
  });
  io.restart();
  while (!done) io.run_one();
  if (failure) std::rethrow_exception(failure);
}

int main(int argc, char** argv) try {
  const auto o = parse(argc, argv);

  // Baseline: no cache, just a hop through the io_context.
  {
    asio::io_context io(2);
    run("post", o, io, [&io](int) { return asio::post(io, asio::use_awaitable); });
  }

  // corocache: the backend's connection lives on the io_context its callers run on, as in a
  // service.
  asio::io_context io(2);
  corocache::RedisCacheBackend<std::string> backend(
      io.get_executor(), "redis://" + o.host + ":" + std::to_string(o.port) + "/0",
      "callers_bench:");
  run_alone(io, backend.initialize());
  std::vector<std::string> keys;
  for (int c = 0; c < o.coroutines; ++c) keys.push_back(std::to_string(c));
  auto fill = [&]() -> asio::awaitable<void> {
    for (const auto& key : keys) co_await backend.set(key, "v");
  };
  run_alone(io, fill());
  io.restart();
  run("corocache", o, io, [&](int c) -> asio::awaitable<void> {
    const auto value = co_await backend.get(keys[static_cast<std::size_t>(c)]);
    if (!value) throw std::runtime_error("redis_callers_bench: a GET missed");
  });
  run_alone(io, backend.shutdown());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "redis_callers_bench: %s\n", e.what());
  return 1;
}
