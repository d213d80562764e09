// Hit ratio simulator: replays Zipf traces against the memory backend (through its coroutine
// interface, get then set on a miss, as a read-through cache would) and against the standalone
// policies of eviction_policies.hpp, at cache sizes given as fractions of the key space.
//
// Every request counts, cold misses included, the same way for every policy. Prints one JSON line
// per (trace, cache size, policy) for bench/run.
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <exception>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "corocache/memory_backend.hpp"
#include "eviction_policies.hpp"
#include "zipf.hpp"

namespace {

struct sim_options {
  std::size_t keys = 1'000'000;
  std::size_t requests = 10'000'000;
  std::vector<double> exponents{0.8, 0.99};
  std::vector<double> fractions{0.001, 0.01, 0.1};
};

std::vector<double> parse_list(const std::string& text) {
  std::vector<double> values;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ',');) values.push_back(std::stod(item));
  return values;
}

sim_options parse(int argc, char** argv) {
  sim_options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const auto eq = arg.find('=');
    const std::string value(eq == std::string_view::npos ? "" : arg.substr(eq + 1));
    const auto name = arg.substr(0, eq);
    if (name == "--keys")
      options.keys = std::stoull(value);
    else if (name == "--requests")
      options.requests = std::stoull(value);
    else if (name == "--exponents")
      options.exponents = parse_list(value);
    else if (name == "--fractions")
      options.fractions = parse_list(value);
    else {
      std::fprintf(stderr,
                   "usage: hit_ratio_sim [--keys=N] [--requests=N] [--exponents=0.8,0.99] "
                   "[--fractions=0.001,0.01,0.1]\n");
      std::exit(2);
    }
  }
  return options;
}

struct outcome {
  std::size_t hits = 0;
  double seconds = 0;
  std::size_t shards = 0;  // memory backend only
};

template <class Policy>
outcome simulate(const std::vector<std::uint32_t>& trace, std::size_t keys, std::size_t capacity) {
  Policy policy(keys, capacity);
  outcome result;
  const auto start = std::chrono::steady_clock::now();
  for (const auto k : trace) result.hits += policy.access(k) ? 1 : 0;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

// The memory backend with its default options (so its default sharding) for this max_size.
outcome simulate_memory_backend(const std::vector<std::uint32_t>& trace, std::size_t capacity,
                                corocache::eviction_policy eviction) {
  corocache::MemoryCacheBackend<std::string> backend(corocache::memory_options{
      .max_size = capacity, .clean_interval = std::chrono::hours(1), .eviction = eviction});
  outcome result;
  result.shards = backend.shard_count();
  asio::io_context io;
  std::exception_ptr failure;
  const auto start = std::chrono::steady_clock::now();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await backend.initialize();
        char buffer[16];
        for (const auto k : trace) {
          const auto end = std::to_chars(buffer, buffer + sizeof buffer, k).ptr;
          std::string key(buffer, end);
          if (co_await backend.get(key)) {
            ++result.hits;
          } else {
            co_await backend.set(std::move(key), "v");
          }
        }
        co_await backend.shutdown();
      },
      [&](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) std::rethrow_exception(failure);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

void print(double exponent, const sim_options& options, std::size_t capacity, double fraction,
           const char* policy, const outcome& r) {
  std::printf(
      "{\"exponent\":%.2f,\"keys\":%zu,\"requests\":%zu,\"fraction\":%g,\"capacity\":%zu,"
      "\"policy\":\"%s\",\"hit_ratio\":%.6f,\"seconds\":%.3f,\"shards\":%zu}\n",
      exponent, options.keys, options.requests, fraction, capacity, policy,
      static_cast<double>(r.hits) / static_cast<double>(options.requests), r.seconds, r.shards);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const auto options = parse(argc, argv);
  for (const double exponent : options.exponents) {
    const auto trace = bench::zipf_trace(options.keys, exponent, options.requests, 42);
    for (const double fraction : options.fractions) {
      const auto capacity = std::max<std::size_t>(
          1, static_cast<std::size_t>(fraction * static_cast<double>(options.keys)));
      print(exponent, options, capacity, fraction, "memory_backend",
            simulate_memory_backend(trace, capacity, corocache::memory_options{}.eviction));
      print(exponent, options, capacity, fraction, "memory_backend_lru",
            simulate_memory_backend(trace, capacity, corocache::eviction_policy::lru));
      print(exponent, options, capacity, fraction, "lru",
            simulate<bench::lru_policy>(trace, options.keys, capacity));
      print(exponent, options, capacity, fraction, "s3fifo",
            simulate<bench::s3fifo_policy>(trace, options.keys, capacity));
      print(exponent, options, capacity, fraction, "wtinylfu",
            simulate<bench::wtinylfu_policy>(trace, options.keys, capacity));
    }
  }
  return 0;
}
