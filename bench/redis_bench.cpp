// The corocache Redis driver: one RedisCacheBackend<std::string>, so one connection, and `depth`
// coroutines on one io_context issuing GET, SET of a 16-byte value, or get_many of `batch` keys
// until `requests` operations have completed (with --cluster=1, over a Redis Cluster: then one
// connection per master). Same options, keys and JSON line as the raw hiredis baseline
// (redis_workload.hpp), so bench/run can put the two side by side.
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "corocache/redis_backend.hpp"
#include "redis_workload.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using backend_type = corocache::RedisCacheBackend<std::string>;

struct run_state {
  const bench::redis_options& options;
  backend_type& backend;
  bench::key_sampler sampler;
  std::string value;
  bench::latency_recorder latencies;
  std::size_t issued = 0;
  std::size_t completed = 0;
  std::size_t running = 0;  // callers not finished yet
};

// One of the `depth` concurrent callers: takes the next request while any is left.
asio::awaitable<void> caller(run_state& state) {
  const auto& options = state.options;
  while (state.issued < options.requests) {
    ++state.issued;
    const auto start = clock_type::now();
    if (options.op == "set") {
      co_await state.backend.set(state.sampler.next_key(), state.value);
    } else if (options.op == "get") {
      const auto value = co_await state.backend.get(state.sampler.next_key());
      if (!value) throw std::runtime_error("redis_bench: a GET missed; the fill did not happen");
    } else {
      std::vector<std::string> keys;
      keys.reserve(options.batch);
      for (std::size_t i = 0; i < options.batch; ++i) keys.push_back(state.sampler.next_key());
      const auto values = co_await state.backend.get_many(std::move(keys));
      if (values.size() != options.batch) throw std::runtime_error("redis_bench: short get_many");
    }
    state.latencies.add(clock_type::now() - start);
    ++state.completed;
  }
}

// Stores every key once (set_many, 1000 at a time) so that the GET runs measure hits.
asio::awaitable<void> fill_keys(run_state& state) {
  backend_type::item_list items;
  for (std::size_t i = 0; i < state.options.keys; ++i) {
    items.emplace_back(bench::key_name(i), state.value);
    if (items.size() == 1000 || i + 1 == state.options.keys) {
      co_await state.backend.set_many(std::move(items));
      items.clear();
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const auto options = bench::parse_redis_options(argc, argv, "redis_bench");
  asio::io_context io(1);
  // An empty prefix stores the very keys the hiredis baseline uses. Over a cluster the node is
  // only where discovery starts; the keys (no hash tags) spread over every slot.
  const std::string node = options.host + ":" + std::to_string(options.port);
  const std::string url = options.cluster          ? "redis-cluster://" + node
                          : options.tls_ca.empty() ? "redis://" + node + "/0"
                                                   : "rediss://" + node + "/0?ca=" + options.tls_ca;
  if (options.cluster && !options.tls_ca.empty()) bench::usage("redis_bench");
  backend_type backend(io.get_executor(), url, "");
  run_state state{options,
                  backend,
                  bench::key_sampler(options.keys),
                  bench::value_of_size(options.value_size),
                  {}};
  state.latencies.reserve(options.requests);

  std::exception_ptr failure;
  clock_type::time_point start, end;
  double cpu_start = 0, cpu_end = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await backend.initialize();
        if (options.op != "set" && options.fill) co_await fill_keys(state);
        start = clock_type::now();
        cpu_start = bench::process_cpu_seconds();
        state.running = options.depth;
        // This coroutine returns at once: the callers' handlers must refer to nothing in its frame.
        for (std::size_t i = 0; i < options.depth; ++i) {
          asio::co_spawn(io, caller(state), [&](std::exception_ptr e) {
            if (e && !failure) failure = e;
            if (--state.running == 0) {
              end = clock_type::now();
              cpu_end = bench::process_cpu_seconds();
              asio::co_spawn(io, backend.shutdown(), [](std::exception_ptr) {});
            }
          });
        }
      },
      [&](std::exception_ptr e) {
        if (e) failure = e;
      });
  io.run();
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "redis_bench: %s\n", e.what());
    }
    return 1;
  }
  const char* client = options.cluster          ? "corocache-cluster"
                       : options.tls_ca.empty() ? "corocache"
                                                : "corocache-tls";
  bench::print_redis_result(client, options, state.completed, end - start, cpu_end - cpu_start,
                            state.latencies);
  return 0;
}
