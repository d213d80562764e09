// chaos: a RedisCacheBackend under random operations while its server is killed, stopped,
// paused (SIGSTOP/SIGCONT) and restarted, checking invariants on every operation.
//
// Timeline: --seconds of faults (a controller thread injects one fault at a time, with normal
// service in between), then the server is left running and the backend must answer again within
// the recovery bound, then --verify-seconds in which every operation must succeed.
//
// Invariants (each breach counts as a violation; exit 1 unless there are none):
// - every operation completes, with a result or a cache_error, within --command-timeout-ms plus
//   --slack-ms: a watchdog thread watches each coroutine's operation in flight;
// - a value read (get, get_many) names the key it was read from, is intact (length, filler and
//   checksum) and carries a version that was written to that key;
// - incr returns at least 1 (counters start at 0 and only grow; a lost counter restarts), and a
//   counter read back is decimal text;
// - invalidate_pattern removes no more keys than the known keys it matches;
// - after the faults stop the backend answers within command timeout + connect timeout +
//   reconnect_max + slack, and then every operation succeeds.
// - SIGPIPE never kills the process (--sigpipe default, the default: the program leaves SIGPIPE's
//   default action, which the library must keep from killing it; --sigpipe ignore sets SIG_IGN
//   as most servers do; --sigpipe count installs a handler, which the library leaves alone, and
//   reports each SIGPIPE hiredis's writes raise as a violation).
// Everything runs on loopback against a redis-server this program starts; it stops by itself.
#include <signal.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "corocache/glob.hpp"
#include "corocache/redis_backend.hpp"
#include "reliability/program_support.hpp"
#include "support/redis_server.hpp"

namespace {

// SIGPIPEs raised in this process: a write to a socket the server has closed raises one unless the
// writer suppresses it (MSG_NOSIGNAL), and a process that does not handle it dies.
std::atomic<std::uint64_t> sigpipes{0};

extern "C" void count_sigpipe(int) {
  sigpipes.fetch_add(1);
}

using namespace corocache;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;
using string_cache = RedisCacheBackend<std::string>;

struct chaos_settings {
  std::uint64_t seconds;
  std::uint64_t coroutines;
  unsigned threads;
  std::uint64_t seed;
  milliseconds command_timeout;
  milliseconds connect_timeout;
  milliseconds reconnect_min;
  milliseconds reconnect_max;
  milliseconds slack;
  std::uint64_t verify_seconds;
  bool ignore_sigpipe;
};

enum class phase : int { faults, recovering, verifying, stopping };

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch())
      .count();
}

// The keys operations use: plain ones and a few that stress the protocol and the glob escaping.
std::vector<std::string> value_keys() {
  std::vector<std::string> keys;
  for (int i = 0; i < 60; ++i) keys.push_back("k" + std::to_string(i));
  for (const auto* odd : {"k\r\n", "k*", "k[", "k?\\"}) keys.emplace_back(odd);
  keys.push_back(std::string("k\0z", 3));
  return keys;
}

std::vector<std::string> counter_keys() {
  std::vector<std::string> keys;
  for (int i = 0; i < 8; ++i) keys.push_back("c" + std::to_string(i));
  return keys;
}

// Patterns invalidate_pattern uses: some narrow, some that match every key.
const std::array<std::string, 7> patterns = {"k1*", "k?", "k\\*", "k[[]", "c*", "*", "k5?"};

std::uint64_t fnv1a(std::string_view bytes) {
  std::uint64_t hash = 1469598103934665603ull;
  for (const unsigned char c : bytes) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

// A value names its key and its version and carries a filler of a length and content derived
// from the version (0 to 3000 bytes, so values span socket reads), then a checksum of the rest.
std::string filler_for(std::uint64_t version) {
  std::string filler((version * 2654435761u) % 3001, 'a');
  for (std::size_t i = 0; i < filler.size(); ++i)
    filler[i] = static_cast<char>('a' + (version + i) % 26);
  return filler;
}

std::string make_value(const std::string& key, std::uint64_t version) {
  std::string body = key + "|" + std::to_string(version) + "|" + filler_for(version);
  return body + "|" + std::to_string(fnv1a(body));
}

/// The version a value carries when it is intact and belongs to `key`; otherwise why not.
struct parsed_value {
  std::optional<std::uint64_t> version;
  const char* problem = nullptr;
};

parsed_value parse_value(const std::string& key, const std::string& value) {
  const auto last = value.rfind('|');
  if (last == std::string::npos) return {{}, "torn (no checksum)"};
  const std::string_view body(value.data(), last);
  if (std::to_string(fnv1a(body)) != value.substr(last + 1)) return {{}, "torn (checksum)"};
  if (body.substr(0, key.size() + 1) != key + "|") return {{}, "another key's value"};
  const auto rest = body.substr(key.size() + 1);
  const auto bar = rest.find('|');
  if (bar == std::string_view::npos) return {{}, "torn (no version)"};
  std::uint64_t version = 0;
  try {
    version = std::stoull(std::string(rest.substr(0, bar)));
  } catch (const std::exception&) {
    return {{}, "torn (version)"};
  }
  if (rest.substr(bar + 1) != filler_for(version)) return {{}, "torn (filler)"};
  return {version, nullptr};
}

/// Shared state of one run: counters, the versions written per key, the watchdog's slots.
class chaos_state {
 public:
  explicit chaos_state(const chaos_settings& settings)
      : settings_(settings),
        slots_(settings.coroutines),
        keys_(value_keys()),
        counters_(counter_keys()) {}

  const chaos_settings& settings() const { return settings_; }
  milliseconds operation_bound() const { return settings_.command_timeout + settings_.slack; }

  std::atomic<phase> current{phase::faults};
  std::atomic<std::int64_t> faults_end_ns{0};
  std::atomic<std::int64_t> first_success_after_faults_ns{0};
  std::atomic<std::int64_t> verify_start_ns{0};
  std::atomic<bool> workers_done{false};

  /// A version for a new write to `key`, recorded before the write is sent (a write that fails
  /// may still have been applied).
  std::uint64_t new_version(const std::string& key) {
    const auto version = next_version_.fetch_add(1);
    std::lock_guard lock(mutex_);
    written_[version] = key;
    return version;
  }

  /// Checks a value read from `key` (a miss is always fine).
  void check_read(const std::string& key, const std::optional<std::string>& value) {
    if (!value) return;
    const auto parsed = parse_value(key, *value);
    if (!parsed.version)
      return violation(std::string(parsed.problem) + " under key " + detail::printable_key(key));
    std::lock_guard lock(mutex_);
    const auto it = written_.find(*parsed.version);
    if (it == written_.end() || it->second != key) {
      ++violations_["version never written to the key"];
      report_first("version " + std::to_string(*parsed.version) + " was never written to " +
                   detail::printable_key(key));
    }
  }

  /// Counts `count` violations; their kind is `what` up to " under key".
  void violation(const std::string& what, std::uint64_t count = 1) {
    std::lock_guard lock(mutex_);
    violations_[what.substr(0, what.find(" under key"))] += count;
    report_first(what);
  }

  /// The watchdog's view of one coroutine: the operation in flight and since when.
  struct slot {
    std::atomic<std::int64_t> started_ns{0};
    std::atomic<std::uint64_t> operation{0};
    std::atomic<std::uint64_t> flagged{0};
    std::atomic<const char*> name{""};
  };

  void begin(std::size_t worker, const char* name) {
    auto& s = slots_[worker];
    s.name.store(name);
    s.operation.fetch_add(1);
    s.started_ns.store(now_ns());
  }

  /// Records an operation's end: its duration, its outcome, and whether it was late.
  void end(std::size_t worker, const char* name, std::optional<errc> failure) {
    auto& s = slots_[worker];
    const auto started = s.started_ns.exchange(0);
    const auto finished = now_ns();
    const auto took = finished - started;
    auto longest = longest_ns_.load();
    while (took > longest && !longest_ns_.compare_exchange_weak(longest, took)) {
    }
    if (took > std::chrono::nanoseconds(operation_bound()).count()) flag_late(s);
    std::lock_guard lock(mutex_);
    ++outcomes_[name][failure ? error_name(*failure) : "ok"];
    ++operations_;
    const auto p = current.load();
    if (!failure && p != phase::faults && started >= faults_end_ns.load()) {
      std::int64_t none = 0;
      first_success_after_faults_ns.compare_exchange_strong(none, finished);
    }
    const auto verify_start = verify_start_ns.load();
    if (failure && verify_start != 0 && started >= verify_start) {
      ++violations_["operation failed after recovery"];
      report_first(std::string(name) + " failed after recovery: " + error_name(*failure) +
                   " (started " + std::to_string((started - verify_start) / 1'000'000) +
                   " ms into verification, took " + std::to_string(took / 1'000'000) + " ms)");
    }
  }

  /// One pass of the watchdog: flags every operation in flight for longer than the bound.
  void watch() {
    const auto limit = std::chrono::nanoseconds(operation_bound()).count();
    const auto t = now_ns();
    for (auto& s : slots_) {
      const auto started = s.started_ns.load();
      if (started != 0 && t - started > limit) flag_late(s);
    }
  }

  /// Operations still in flight (for the end of the run: they never completed).
  std::size_t in_flight() const {
    std::size_t n = 0;
    for (const auto& s : slots_) n += s.started_ns.load() != 0 ? 1 : 0;
    return n;
  }

  void count_fault(const std::string& kind) {
    std::lock_guard lock(mutex_);
    ++faults_[kind];
    last_fault_ = kind;
  }

  const std::vector<std::string>& keys() const { return keys_; }
  const std::vector<std::string>& counters() const { return counters_; }

  /// Prints the figures; the number of violations.
  std::uint64_t report(double recovery_ms, milliseconds recovery_bound) {
    std::lock_guard lock(mutex_);
    std::printf("%-20s %10s  %s\n", "operation", "count", "outcomes");
    for (const auto& [name, by_outcome] : outcomes_) {
      std::uint64_t total = 0;
      std::string text;
      for (const auto& [outcome, n] : by_outcome) {
        total += n;
        text += outcome + "=" + std::to_string(n) + " ";
      }
      std::printf("%-20s %10llu  %s\n", name.c_str(), static_cast<unsigned long long>(total),
                  text.c_str());
    }
    std::uint64_t faults = 0;
    std::string fault_text;
    for (const auto& [kind, n] : faults_) {
      faults += n;
      fault_text += kind + "=" + std::to_string(n) + " ";
    }
    std::printf("operations %llu, faults injected %llu (%s)\n",
                static_cast<unsigned long long>(operations_),
                static_cast<unsigned long long>(faults), fault_text.c_str());
    std::printf("longest operation %.0f ms (bound %lld ms)\n",
                static_cast<double>(longest_ns_.load()) / 1e6,
                static_cast<long long>(operation_bound().count()));
    std::printf("recovery after the last fault (%s) %.0f ms (bound %lld ms)\n", last_fault_.c_str(),
                recovery_ms, static_cast<long long>(recovery_bound.count()));
    std::uint64_t total = 0;
    for (const auto& [kind, n] : violations_) {
      total += n;
      std::printf("VIOLATION %s: %llu\n", kind.c_str(), static_cast<unsigned long long>(n));
    }
    std::printf("invariant violations %llu\n", static_cast<unsigned long long>(total));
    if (faults == 0 || operations_ == 0) {
      std::printf("FAIL: nothing was exercised\n");
      ++total;
    }
    return total;
  }

 private:
  static std::string error_name(errc e) { return cache_category().message(static_cast<int>(e)); }

  void flag_late(slot& s) {
    const auto operation = s.operation.load();
    if (s.flagged.exchange(operation) == operation) return;
    std::lock_guard lock(mutex_);
    ++violations_["operation exceeded its time bound"];
    report_first(std::string(s.name.load()) + " exceeded " +
                 std::to_string(operation_bound().count()) + " ms");
  }

  // The first few violations are printed as they happen; the rest are only counted.
  void report_first(const std::string& what) {
    if (++printed_ <= 10) std::cerr << "chaos: violation: " << what << '\n';
  }

  chaos_settings settings_;
  std::vector<slot> slots_;
  std::vector<std::string> keys_;
  std::vector<std::string> counters_;
  std::atomic<std::uint64_t> next_version_{1};
  std::atomic<std::int64_t> longest_ns_{0};
  std::mutex mutex_;
  std::unordered_map<std::uint64_t, std::string> written_;
  std::map<std::string, std::map<std::string, std::uint64_t>> outcomes_;
  std::map<std::string, std::uint64_t> violations_;
  std::map<std::string, std::uint64_t> faults_;
  std::uint64_t operations_ = 0;
  std::uint64_t printed_ = 0;
  std::string last_fault_ = "none";
};

// Runs one random operation and checks what it returns; a cache_error is an outcome, not a fault.
class chaos_worker {
 public:
  chaos_worker(chaos_state& state, string_cache& cache, std::size_t index)
      : state_(state),
        cache_(cache),
        index_(index),
        random_(state.settings().seed * 1000 + index) {}

  asio::awaitable<void> run() {
    while (state_.current.load() != phase::stopping) {
      const auto roll = random_() % 100;
      if (roll < 35) {
        co_await timed("get", get());
      } else if (roll < 60) {
        co_await timed("set", set());
      } else if (roll < 70) {
        co_await timed("get_many", get_many());
      } else if (roll < 85) {
        co_await timed("incr", incr());
      } else if (roll < 93) {
        co_await timed("erase", erase());
      } else if (roll < 98) {
        co_await timed("set_many", set_many());
      } else {
        co_await timed("invalidate_pattern", invalidate());
      }
    }
  }

 private:
  asio::awaitable<void> timed(const char* name, asio::awaitable<void> operation) {
    state_.begin(index_, name);
    std::optional<errc> failure;
    try {
      co_await std::move(operation);
    } catch (const cache_error& e) {
      failure = e.error();
    }
    state_.end(index_, name, failure);
    // A failed call returns at once while the server is down: yield so the loop cannot spin.
    if (failure) {
      asio::steady_timer pause(co_await asio::this_coro::executor, 1ms);
      co_await pause.async_wait(asio::use_awaitable);
    }
  }

  const std::string& any_key() { return state_.keys()[random_() % state_.keys().size()]; }
  const std::string& any_counter() {
    return state_.counters()[random_() % state_.counters().size()];
  }

  optional_ttl maybe_ttl() {
    if (random_() % 5 != 0) return std::nullopt;
    return milliseconds(50 + random_() % 1000);
  }

  asio::awaitable<void> get() {
    if (random_() % 5 == 0) {
      const auto& counter = any_counter();
      const auto value = co_await cache_.get(counter);
      if (value && (value->empty() || value->find_first_not_of("0123456789") != std::string::npos))
        state_.violation("counter read back as non-decimal text under key " + counter);
      co_return;
    }
    const auto& key = any_key();
    state_.check_read(key, co_await cache_.get(key));
  }

  asio::awaitable<void> set() {
    const auto& key = any_key();
    auto value = make_value(key, state_.new_version(key));
    co_await cache_.set(key, std::move(value), maybe_ttl());
  }

  asio::awaitable<void> get_many() {
    std::vector<std::string> keys;
    for (int i = 0, n = 1 + static_cast<int>(random_() % 12); i < n; ++i) keys.push_back(any_key());
    auto asked = keys;
    const auto values = co_await cache_.get_many(std::move(asked));
    if (values.size() != keys.size()) state_.violation("get_many answered another count");
    for (std::size_t i = 0; i < keys.size() && i < values.size(); ++i)
      state_.check_read(keys[i], values[i]);
  }

  asio::awaitable<void> incr() {
    const auto& counter = any_counter();
    const auto n = co_await cache_.incr(counter, 1, 0, maybe_ttl());
    if (n < 1) state_.violation("incr returned a value below 1 under key " + counter);
  }

  asio::awaitable<void> erase() { co_await cache_.erase(any_key()); }

  asio::awaitable<void> set_many() {
    string_cache::item_list items;
    for (int i = 0, n = 1 + static_cast<int>(random_() % 6); i < n; ++i) {
      const auto& key = any_key();
      items.emplace_back(key, make_value(key, state_.new_version(key)));
    }
    co_await cache_.set_many(std::move(items), maybe_ttl());
  }

  asio::awaitable<void> invalidate() {
    const auto& pattern = patterns[random_() % patterns.size()];
    std::size_t known = 0;
    for (const auto& key : state_.keys()) known += glob_match(pattern, key) ? 1 : 0;
    for (const auto& key : state_.counters()) known += glob_match(pattern, key) ? 1 : 0;
    const auto removed = co_await cache_.invalidate_pattern(pattern);
    if (removed > known)
      state_.violation("invalidate_pattern removed more keys than it matches under key " + pattern);
  }

  chaos_state& state_;
  string_cache& cache_;
  std::size_t index_;
  std::mt19937_64 random_;
};

// The controller: one fault at a time with service in between, until the fault phase ends.
void inject_faults(chaos_state& state, test::redis_server& server) {
  std::mt19937_64 random(state.settings().seed);
  const auto end = clock_type::now() + std::chrono::seconds(state.settings().seconds);
  auto sleep_ms = [&](std::uint64_t low, std::uint64_t high) {
    std::this_thread::sleep_for(milliseconds(low + random() % (high - low + 1)));
  };
  while (clock_type::now() < end) {
    sleep_ms(200, 1200);  // service between faults
    switch (random() % 4) {
      case 0:
        server.kill();
        state.count_fault("kill");
        sleep_ms(0, 800);
        server.restart();
        break;
      case 1:
        server.stop();
        state.count_fault("stop");
        sleep_ms(0, 800);
        server.restart();
        break;
      case 2:
        server.pause();
        state.count_fault("pause");
        // Shorter and longer than the command timeout.
        sleep_ms(50, 3 * static_cast<std::uint64_t>(state.settings().command_timeout.count()));
        server.resume();
        break;
      default:
        server.restart();
        state.count_fault("restart");
        break;
    }
  }
}

// The controller thread's whole timeline; returns the recovery time in ms (-1: none).
double control(chaos_state& state, test::redis_server& server, milliseconds recovery_bound) {
  inject_faults(state, server);
  server.resume();
  if (!server.running()) server.restart();
  state.faults_end_ns.store(now_ns());
  state.current.store(phase::recovering);
  const auto give_up = clock_type::now() + recovery_bound + 10s;
  while (state.first_success_after_faults_ns.load() == 0 && clock_type::now() < give_up)
    std::this_thread::sleep_for(5ms);
  double recovery_ms = -1;
  if (const auto first = state.first_success_after_faults_ns.load(); first != 0) {
    recovery_ms = static_cast<double>(first - state.faults_end_ns.load()) / 1e6;
    if (recovery_ms > static_cast<double>(recovery_bound.count()))
      state.violation("recovery took longer than its bound");
  } else {
    state.violation("the backend never recovered");
  }
  state.verify_start_ns.store(now_ns());
  state.current.store(phase::verifying);
  std::this_thread::sleep_for(std::chrono::seconds(state.settings().verify_seconds));
  state.current.store(phase::stopping);
  // The harness forks the server from the thread that (re)starts it, with PR_SET_PDEATHSIG: the
  // kernel kills the server when that *thread* exits. Stay until the workers are done.
  while (!state.workers_done.load()) std::this_thread::sleep_for(5ms);
  return recovery_ms;
}

int run_chaos(const chaos_settings& settings) {
  test::redis_server server;
  std::printf("redis-server on 127.0.0.1:%u\n", static_cast<unsigned>(server.port()));
  chaos_state state(settings);
  const auto recovery_bound =
      settings.command_timeout + settings.connect_timeout + settings.reconnect_max + settings.slack;
  double recovery_ms = -1;
  std::atomic<bool> finished{false};
  std::thread watchdog([&] {
    while (!finished.load()) {
      state.watch();
      std::this_thread::sleep_for(10ms);
    }
  });

  asio::io_context io(static_cast<int>(settings.threads));
  {
    string_cache cache(io.get_executor(),
                       redis_options{.url = "redis://127.0.0.1:" + std::to_string(server.port()),
                                     .prefix = "chaos:",
                                     .connect_timeout = settings.connect_timeout,
                                     .command_timeout = settings.command_timeout,
                                     .reconnect_min = settings.reconnect_min,
                                     .reconnect_max = settings.reconnect_max});
    std::exception_ptr error;
    std::atomic<std::size_t> running{0};
    std::thread controller;
    std::vector<std::unique_ptr<chaos_worker>> workers;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          co_await cache.initialize();
          controller = std::thread([&] { recovery_ms = control(state, server, recovery_bound); });
          running.store(settings.coroutines);
          for (std::size_t i = 0; i < settings.coroutines; ++i) {
            workers.push_back(std::make_unique<chaos_worker>(state, cache, i));
            asio::co_spawn(io, workers.back()->run(), [&](std::exception_ptr e) {
              if (e) state.violation("a worker stopped with an exception other than cache_error");
              running.fetch_sub(1);
            });
          }
          // Polling keeps this simple with several threads; stops waiting for a worker whose
          // operation hangs (the watchdog has counted it) after the bound has passed twice.
          asio::steady_timer poll(io);
          std::optional<clock_type::time_point> stop_seen;
          while (running.load() > 0) {
            if (state.current.load() == phase::stopping) {
              if (!stop_seen) stop_seen = clock_type::now();
              if (clock_type::now() - *stop_seen > 2 * state.operation_bound() + 2s) break;
            }
            poll.expires_after(10ms);
            co_await poll.async_wait(asio::use_awaitable);
          }
          co_await cache.shutdown();
          state.workers_done.store(true);
        },
        [&](std::exception_ptr e) {
          error = e;
          io.stop();
        });
    std::vector<std::thread> helpers;
    for (unsigned i = 1; i < settings.threads; ++i) helpers.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& t : helpers) t.join();
    state.workers_done.store(true);  // also when initialize() failed
    if (controller.joinable()) controller.join();
    if (error) std::rethrow_exception(error);
    if (const auto hung = state.in_flight(); hung > 0)
      state.violation(std::to_string(hung) + " operations never completed");
  }
  finished.store(true);
  watchdog.join();
  if (const auto n = sigpipes.load(); n > 0) {
    state.violation("SIGPIPE raised (it kills a process that does not ignore it)", n);
  }
  const auto violations = state.report(recovery_ms, recovery_bound);
  std::printf("chaos: %s\n", violations == 0 ? "PASS" : "FAIL");
  return violations == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const test::program_flags flags(argc, argv,
                                    {{"seconds", "25"},
                                     {"coroutines", "32"},
                                     {"threads", "1"},
                                     {"seed", "1"},
                                     {"command-timeout-ms", "300"},
                                     {"connect-timeout-ms", "300"},
                                     {"reconnect-min-ms", "20"},
                                     {"reconnect-max-ms", "500"},
                                     {"slack-ms", "1000"},
                                     {"verify-seconds", "3"},
                                     {"sigpipe", "default"}});
    if (flags.help()) {
      std::cout << "chaos: faults against a Redis backend; see tests/reliability/chaos.cpp\n"
                << flags.usage();
      return 0;
    }
    const chaos_settings settings{flags.number("seconds"),
                                  flags.number("coroutines"),
                                  static_cast<unsigned>(flags.number("threads")),
                                  flags.number("seed"),
                                  milliseconds(flags.number("command-timeout-ms")),
                                  milliseconds(flags.number("connect-timeout-ms")),
                                  milliseconds(flags.number("reconnect-min-ms")),
                                  milliseconds(flags.number("reconnect-max-ms")),
                                  milliseconds(flags.number("slack-ms")),
                                  flags.number("verify-seconds"),
                                  flags.text("sigpipe") == "ignore"};
    const auto sigpipe_mode = flags.text("sigpipe");
    if (sigpipe_mode != "ignore" && sigpipe_mode != "count" && sigpipe_mode != "default")
      throw std::invalid_argument("--sigpipe takes count, ignore or default");
    // "count" turns each SIGPIPE into a violation; "ignore" is what most servers do anyway;
    // "default" leaves the default action (death) to the library to deal with, as in a program
    // that never thought about SIGPIPE.
    if (sigpipe_mode != "default") {
      struct sigaction action = {};
      action.sa_handler = settings.ignore_sigpipe ? SIG_IGN : count_sigpipe;
      action.sa_flags = SA_RESTART;
      sigemptyset(&action.sa_mask);
      sigaction(SIGPIPE, &action, nullptr);
    }
    if (settings.coroutines == 0 || settings.threads == 0 || settings.command_timeout.count() == 0)
      throw std::invalid_argument("counts and timeouts must be positive");
    std::printf("chaos%s\n", flags.summary().c_str());
    return run_chaos(settings);
  } catch (const std::invalid_argument& e) {
    std::cerr << "chaos: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "chaos: " << e.what() << '\n';
    return 1;
  }
}
