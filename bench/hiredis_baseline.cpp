// The raw hiredis + libevent baseline for the Redis benchmarks: one connection, a sliding window
// of `depth` outstanding commands (GET, SET of a 16-byte value, or MGET of `batch` keys), no
// corocache in the path. bench/run compares the corocache Redis driver against it.
//
// Prints one JSON line (see redis_workload.hpp) with ops/s and the p50/p99 latency of a command,
// measured from the call that queues it to its reply callback.
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "redis_workload.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

struct run_state {
  redisAsyncContext* context = nullptr;
  const bench::redis_options* options = nullptr;
  bench::key_sampler sampler{0};
  std::string value;
  std::vector<clock_type::time_point> sent_at;  // one slot per window position
  std::vector<const char*> argv;                // reused so that issuing does not allocate
  std::vector<std::size_t> lengths;
  bench::latency_recorder latencies;
  std::size_t issued = 0;
  std::size_t completed = 0;
  bool failed = false;
};

void on_reply(redisAsyncContext* context, void* reply, void* privdata);

// Queues the next command into window slot `slot`; privdata carries the slot so the reply can
// find its send time without a map lookup.
void issue(run_state& state, std::size_t slot) {
  static const std::string get = "GET", set = "SET", mget = "MGET";
  const auto& options = *state.options;
  auto& argv = state.argv;
  auto& lengths = state.lengths;
  argv.clear();
  lengths.clear();
  // hiredis copies the arguments into its output buffer, so pointers into the key table do.
  const auto push = [&](const std::string& arg) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  };
  push(options.op == "set" ? set : options.op == "mget" ? mget : get);
  const std::size_t key_count = options.op == "mget" ? options.batch : 1;
  for (std::size_t i = 0; i < key_count; ++i) push(state.sampler.next_key());
  if (options.op == "set") push(state.value);
  state.sent_at[slot] = clock_type::now();
  ++state.issued;
  if (redisAsyncCommandArgv(state.context, on_reply, reinterpret_cast<void*>(slot),
                            static_cast<int>(argv.size()), argv.data(),
                            lengths.data()) != REDIS_OK) {
    std::fprintf(stderr, "hiredis_baseline: cannot queue a command\n");
    state.failed = true;
  }
}

void on_reply(redisAsyncContext* context, void* reply, void* privdata) {
  auto& state = *static_cast<run_state*>(context->data);
  const auto slot = reinterpret_cast<std::size_t>(privdata);
  const auto* r = static_cast<redisReply*>(reply);
  if (r == nullptr || r->type == REDIS_REPLY_ERROR) {
    if (!state.failed) {
      std::fprintf(stderr, "hiredis_baseline: %s\n", r ? r->str : context->errstr);
    }
    state.failed = true;
    redisAsyncDisconnect(context);
    return;
  }
  state.latencies.add(clock_type::now() - state.sent_at[slot]);
  ++state.completed;
  if (state.issued < state.options->requests) {
    issue(state, slot);
  } else if (state.completed == state.options->requests) {
    redisAsyncDisconnect(context);
  }
}

// Stores every key once so that the GET/MGET runs measure hits.
bool fill_keys(const bench::redis_options& options, const std::string& value) {
  redisContext* sync = redisConnect(options.host.c_str(), options.port);
  if (sync == nullptr || sync->err) {
    std::fprintf(stderr, "hiredis_baseline: cannot connect to %s:%d\n", options.host.c_str(),
                 options.port);
    return false;
  }
  for (std::size_t i = 0; i < options.keys; ++i) {
    const std::string key = bench::key_name(i);
    redisAppendCommand(sync, "SET %b %b", key.data(), key.size(), value.data(), value.size());
  }
  bool ok = true;
  for (std::size_t i = 0; i < options.keys; ++i) {
    void* reply = nullptr;
    if (redisGetReply(sync, &reply) != REDIS_OK) ok = false;
    if (reply != nullptr) freeReplyObject(reply);
  }
  redisFree(sync);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  const auto options = bench::parse_redis_options(argc, argv, "hiredis_baseline");
  // One connection to one node: no slot routing.
  if (options.cluster) bench::usage("hiredis_baseline");
  run_state state;
  state.options = &options;
  state.sampler = bench::key_sampler(options.keys);
  state.value = bench::value_of_size(options.value_size);
  state.sent_at.resize(options.depth);
  state.latencies.reserve(options.requests);
  if (options.op != "set" && options.fill && !fill_keys(options, state.value)) return 1;

  event_base* base = event_base_new();
  state.context = redisAsyncConnect(options.host.c_str(), options.port);
  if (state.context == nullptr || state.context->err) {
    std::fprintf(stderr, "hiredis_baseline: cannot connect to %s:%d\n", options.host.c_str(),
                 options.port);
    return 1;
  }
  state.context->data = &state;
  redisLibeventAttach(state.context, base);

  const auto start = clock_type::now();
  const auto cpu_start = bench::process_cpu_seconds();
  for (std::size_t slot = 0; slot < options.depth && state.issued < options.requests; ++slot) {
    issue(state, slot);
  }
  event_base_dispatch(base);
  const auto elapsed = clock_type::now() - start;
  const auto cpu_seconds = bench::process_cpu_seconds() - cpu_start;
  event_base_free(base);
  if (state.failed || state.completed != options.requests) return 1;

  bench::print_redis_result("hiredis", options, state.completed, elapsed, cpu_seconds,
                            state.latencies);
  return 0;
}
