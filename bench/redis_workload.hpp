// What the Redis benchmark drivers share, so that the corocache driver and the raw hiredis
// baseline run exactly the same workload: command-line options, the key set and the order keys
// are drawn in, latency percentiles and the JSON line bench/run parses.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <time.h>

namespace bench {

struct redis_options {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string op = "get";  // get | set | mget
  std::size_t depth = 1;   // commands outstanding on the connection
  std::size_t requests = 100000;
  std::size_t keys = 10000;  // distinct keys drawn from
  std::size_t value_size = 16;
  std::size_t batch = 100;  // keys per MGET / get_many
  bool fill = true;         // store every key before a GET run (off: they are already there)
  std::string tls_ca;       // non-empty: connect with TLS (rediss://), trusting this CA file
  bool cluster = false;     // host:port is a Redis Cluster node (redis-cluster://)
};

[[noreturn]] inline void usage(const char* program) {
  std::fprintf(stderr,
               "usage: %s [--host=H] [--port=P] [--op=get|set|mget] [--depth=D] [--requests=N]\n"
               "          [--keys=K] [--value-size=B] [--batch=B] [--fill=0|1] [--tls-ca=FILE]\n"
               "          [--cluster=0|1]\n",
               program);
  std::exit(2);
}

inline redis_options parse_redis_options(int argc, char** argv, const char* program) {
  redis_options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const auto eq = arg.find('=');
    if (!arg.starts_with("--") || eq == std::string_view::npos) usage(program);
    const auto name = arg.substr(2, eq - 2);
    const std::string value(arg.substr(eq + 1));
    const auto number = [&] { return static_cast<std::size_t>(std::stoull(value)); };
    if (name == "host")
      options.host = value;
    else if (name == "port")
      options.port = static_cast<int>(number());
    else if (name == "op")
      options.op = value;
    else if (name == "depth")
      options.depth = number();
    else if (name == "requests")
      options.requests = number();
    else if (name == "keys")
      options.keys = number();
    else if (name == "value-size")
      options.value_size = number();
    else if (name == "batch")
      options.batch = number();
    else if (name == "fill")
      options.fill = number() != 0;
    else if (name == "tls-ca")
      options.tls_ca = value;
    else if (name == "cluster")
      options.cluster = number() != 0;
    else
      usage(program);
  }
  if (options.op != "get" && options.op != "set" && options.op != "mget") usage(program);
  if (options.depth == 0 || options.requests == 0 || options.keys == 0) usage(program);
  return options;
}

inline std::string key_name(std::size_t index) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "bench:key:%05zu", index);
  return buffer;
}

inline std::string value_of_size(std::size_t size) {
  std::string value(size, 'v');
  for (std::size_t i = 0; i < size; ++i) value[i] = static_cast<char>('a' + i % 26);
  return value;
}

/// Uniformly random keys from a fixed table; the same seed gives both drivers the same sequence.
class key_sampler {
 public:
  explicit key_sampler(std::size_t keys) {
    names_.reserve(keys);
    for (std::size_t i = 0; i < keys; ++i) names_.push_back(key_name(i));
  }

  const std::string& next_key() {
    // xorshift64*: cheap enough that key choice does not show up in the profile.
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return names_[(state_ * 0x2545F4914F6CDD1DULL >> 32) % names_.size()];
  }

 private:
  std::vector<std::string> names_;
  std::uint64_t state_ = 0x9E3779B97F4A7C15ULL;
};

class latency_recorder {
 public:
  void reserve(std::size_t n) { samples_.reserve(n); }
  void add(std::chrono::steady_clock::duration d) { samples_.push_back(d.count()); }

  /// The q-quantile (0 < q < 1) in microseconds, nearest-rank.
  double quantile_us(double q) {
    if (samples_.empty()) return 0;
    const auto rank = static_cast<std::size_t>(q * static_cast<double>(samples_.size() - 1));
    std::nth_element(samples_.begin(), samples_.begin() + static_cast<std::ptrdiff_t>(rank),
                     samples_.end());
    const std::chrono::steady_clock::duration d{samples_[rank]};
    return std::chrono::duration<double, std::micro>(d).count();
  }

 private:
  std::vector<std::chrono::steady_clock::rep> samples_;
};

/// One JSON line: ops/s counts commands (an MGET/get_many of 100 keys is one operation).
/// CPU time the client process has used so far (user and kernel, all threads): compared with the
/// wall time of a run, it shows whether the client or the server was the one working.
inline double process_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

inline void print_redis_result(const char* client, const redis_options& options,
                               std::size_t completed, std::chrono::steady_clock::duration elapsed,
                               double cpu_seconds, latency_recorder& latencies) {
  const double seconds = std::chrono::duration<double>(elapsed).count();
  const double p50 = latencies.quantile_us(0.50);
  const double p99 = latencies.quantile_us(0.99);
  std::printf(
      "{\"client\":\"%s\",\"op\":\"%s\",\"depth\":%zu,\"requests\":%zu,\"batch\":%zu,"
      "\"seconds\":%.6f,\"cpu_seconds\":%.6f,\"ops_per_sec\":%.1f,\"p50_us\":%.2f,"
      "\"p99_us\":%.2f}\n",
      client, options.op.c_str(), options.depth, completed,
      options.op == "mget" ? options.batch : std::size_t{1}, seconds, cpu_seconds,
      static_cast<double>(completed) / seconds, p50, p99);
}

}  // namespace bench
