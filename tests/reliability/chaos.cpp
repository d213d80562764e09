// chaos: a RedisCacheBackend under random operations while its server is killed, stopped,
// paused (SIGSTOP/SIGCONT) and restarted, checking invariants on every operation. With --cluster 1
// the backend runs over a local Redis Cluster of 3 masters + 3 replicas (redis-cluster://), and
// each fault hits a random node, master or replica.
//
// Timeline: --seconds of faults (a controller thread injects one fault at a time, with normal
// service in between; in cluster mode the next fault waits until the cluster serves every slot
// again with a synced replica per master), then the servers are left running and the backend must
// answer again within the recovery bound, then --verify-seconds in which every operation must
// succeed, then every key is read once more.
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
// - every acknowledged write is still readable at the end (every key is read once the servers
//   are back to normal and nothing else runs) unless a write or erase that may have come after it
//   replaced it (a failed operation may have been applied, at any time), it had a TTL, or a fault
//   that can lose it hit the server holding it and was not over (servers back to normal) 1 s
//   before the write started: a kill, stop or restart of the single server (persistence is off),
//   or any fault of a cluster master (it restarts empty, or its replica takes over without the
//   writes it had not received yet, as Redis documents). Keys no such fault reached are checked
//   strictly; the report says how many of each there were. A fiftieth of the operations write a key
//   of their own, once, through a second backend whose prefix no invalidate_pattern reaches, so
//   that writes made during the faults are checked too.
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
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "corocache/detail/cluster_slot.hpp"
#include "corocache/glob.hpp"
#include "corocache/redis_backend.hpp"
#include "reliability/program_support.hpp"
#include "support/redis_cluster.hpp"
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
  bool cluster;
};

constexpr const char* key_prefix = "chaos:";
// Keys written once each, through a second backend whose prefix no invalidate_pattern reaches:
// whether an acknowledged write survives the faults that came after it.
constexpr const char* once_prefix = "chaos-once:";
constexpr std::uint64_t once_keys_max = 20000;

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
  std::atomic<std::int64_t> first_once_success_after_faults_ns{0};  // the second backend's
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

  /// Records a write (version > 0) or an erase (version 0) of `key` about to be sent; returns
  /// its id for acknowledged().
  std::uint64_t sent(const std::string& key, std::uint64_t version, bool expires) {
    const auto id = next_op_.fetch_add(1);
    std::lock_guard lock(mutex_);
    history_[key].push_back({id, version, expires, now_ns(), never});
    return id;
  }

  /// The write or erase `id` of `key` succeeded: it took effect before now. Forgets what it
  /// surely replaced (acknowledged before it started).
  void acknowledged(const std::string& key, std::uint64_t id) {
    const auto t = now_ns();
    std::lock_guard lock(mutex_);
    auto& ops = history_[key];
    std::int64_t start = 0;
    for (auto& op : ops) {
      if (op.id == id) {
        op.end_ns = t;
        start = op.start_ns;
      }
    }
    std::erase_if(ops, [&](const op_record& op) { return op.end_ns < start; });
  }

  /// A fault that can lose what the servers of `slots` hold (empty: every slot) from `start_ns`;
  /// `end_ns` is when the servers were back to normal.
  void exposed(std::vector<bool> slots, std::int64_t start_ns, std::int64_t end_ns) {
    std::lock_guard lock(mutex_);
    exposures_.push_back({std::move(slots), start_ns, end_ns});
  }

  /// Checks the value read from `key` at the end, when nothing else runs, against its history.
  void check_final(const std::string& key, const std::optional<std::string>& value,
                   const std::string& prefix = key_prefix) {
    check_read(key, value);
    std::lock_guard lock(mutex_);
    const auto& ops = history_[key];
    // What the key may hold: any operation no acknowledged one started after the end of.
    std::vector<const op_record*> candidates;
    const op_record* latest_acknowledged = nullptr;
    for (const auto& op : ops) {
      bool replaced = false;
      for (const auto& other : ops)
        replaced = replaced || (other.end_ns != never && other.start_ns > op.end_ns);
      if (replaced) continue;
      candidates.push_back(&op);
      if (op.end_ns != never &&
          (latest_acknowledged == nullptr || op.start_ns > latest_acknowledged->start_ns))
        latest_acknowledged = &op;
    }
    if (latest_acknowledged == nullptr) return ++final_unchecked_, void();
    const auto key_slot = detail::cluster_key_slot(prefix + key);
    for (const auto& e : exposures_) {
      if (e.end_ns >= latest_acknowledged->start_ns && (e.slots.empty() || e.slots[key_slot]))
        return ++final_exposed_, void();
    }
    ++final_checked_;
    const auto version = value ? parse_value(key, *value).version : std::nullopt;
    if (value && !version) return;  // check_read counted it
    const bool fits = std::any_of(candidates.begin(), candidates.end(), [&](const op_record* op) {
      return version ? op->version == *version : op->version == 0 || op->expires;
    });
    if (!fits) {
      ++violations_[value ? "an acknowledged write was replaced by an older one"
                          : "an acknowledged write was lost"];
      report_first("at the end " + detail::printable_key(key) + " holds " +
                   (version ? "version " + std::to_string(*version) : std::string("nothing")) +
                   ", the last acknowledged write is " +
                   (latest_acknowledged->version == 0
                        ? std::string("an erase")
                        : "version " + std::to_string(latest_acknowledged->version)));
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
      (std::string_view(name) == "set_once" ? first_once_success_after_faults_ns
                                            : first_success_after_faults_ns)
          .compare_exchange_strong(none, finished);
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

  /// Keeps the first message of each kind of error, for the report.
  void first_message(errc e, const char* what) {
    std::lock_guard lock(mutex_);
    messages_.try_emplace(error_name(e), what);
  }

  void count_fault(const std::string& kind, const std::string& role) {
    std::lock_guard lock(mutex_);
    ++faults_[kind + role];
    last_fault_ = kind + role;
  }

  const std::vector<std::string>& keys() const { return keys_; }

  /// A key never written before, for the backend with once_prefix; empty once there are enough.
  std::string new_once_key() {
    const auto n = next_once_.fetch_add(1);
    return n < once_keys_max ? "o" + std::to_string(n) : std::string();
  }
  std::uint64_t once_keys() const { return std::min(next_once_.load(), once_keys_max); }
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
    for (const auto& [kind, what] : messages_)
      std::printf("first %s: %s\n", kind.c_str(), what.c_str());
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
    std::printf(
        "acknowledged writes at the end: %llu keys checked, %llu exempt (a fault that can lose "
        "writes reached their server after the last one), %llu never acknowledged\n",
        static_cast<unsigned long long>(final_checked_),
        static_cast<unsigned long long>(final_exposed_),
        static_cast<unsigned long long>(final_unchecked_));
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

  static constexpr std::int64_t never = std::numeric_limits<std::int64_t>::max();
  struct op_record {
    std::uint64_t id;
    std::uint64_t version;  // 0: an erase
    bool expires;
    std::int64_t start_ns;
    std::int64_t end_ns;  // never: not acknowledged (it may still take effect)
  };
  struct exposure {
    std::vector<bool> slots;
    std::int64_t start_ns;
    std::int64_t end_ns;
  };

  chaos_settings settings_;
  std::vector<slot> slots_;
  std::vector<std::string> keys_;
  std::vector<std::string> counters_;
  std::atomic<std::uint64_t> next_version_{1};
  std::atomic<std::uint64_t> next_op_{1};
  std::atomic<std::uint64_t> next_once_{0};
  std::atomic<std::int64_t> longest_ns_{0};
  std::mutex mutex_;
  std::unordered_map<std::uint64_t, std::string> written_;
  std::map<std::string, std::map<std::string, std::uint64_t>> outcomes_;
  std::map<std::string, std::uint64_t> violations_;
  std::map<std::string, std::uint64_t> faults_;
  std::map<std::string, std::string> messages_;
  std::unordered_map<std::string, std::vector<op_record>> history_;
  std::vector<exposure> exposures_;
  std::uint64_t final_checked_ = 0;
  std::uint64_t final_exposed_ = 0;
  std::uint64_t final_unchecked_ = 0;
  std::uint64_t operations_ = 0;
  std::uint64_t printed_ = 0;
  std::string last_fault_ = "none";
};

// Runs one random operation and checks what it returns; a cache_error is an outcome, not a fault.
class chaos_worker {
 public:
  chaos_worker(chaos_state& state, string_cache& cache, string_cache& once, std::size_t index)
      : state_(state),
        cache_(cache),
        once_(once),
        index_(index),
        random_(state.settings().seed * 1000 + index) {}

  asio::awaitable<void> run() {
    while (state_.current.load() != phase::stopping) {
      const auto roll = random_() % 100;
      if (roll < 35) {
        co_await timed("get", get());
      } else if (roll < 58) {
        co_await timed("set", set());
      } else if (roll < 60) {
        co_await timed("set_once", set_once());
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
      state_.first_message(e.error(), e.what());
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

  // A key of its own, written once and read only at the end (when there are enough of them:
  // a read of the first one).
  asio::awaitable<void> set_once() {
    const auto key = state_.new_once_key();
    if (key.empty()) {
      state_.check_read("o0", co_await once_.get("o0"));
      co_return;
    }
    const auto version = state_.new_version(key);
    auto value = make_value(key, version);
    const auto id = state_.sent(key, version, false);
    co_await once_.set(key, std::move(value));
    state_.acknowledged(key, id);
  }

  asio::awaitable<void> set() {
    const auto& key = any_key();
    const auto version = state_.new_version(key);
    auto value = make_value(key, version);
    const auto ttl = maybe_ttl();
    const auto id = state_.sent(key, version, ttl.has_value());
    co_await cache_.set(key, std::move(value), ttl);
    state_.acknowledged(key, id);
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

  asio::awaitable<void> erase() {
    const auto& key = any_key();
    const auto id = state_.sent(key, 0, false);
    co_await cache_.erase(key);
    state_.acknowledged(key, id);
  }

  asio::awaitable<void> set_many() {
    string_cache::item_list items;
    std::vector<std::pair<std::string, std::uint64_t>> sent;
    const auto ttl = maybe_ttl();
    for (int i = 0, n = 1 + static_cast<int>(random_() % 6); i < n; ++i) {
      const auto& key = any_key();
      const auto version = state_.new_version(key);
      items.emplace_back(key, make_value(key, version));
      sent.emplace_back(key, state_.sent(key, version, ttl.has_value()));
    }
    co_await cache_.set_many(std::move(items), ttl);
    for (const auto& [key, id] : sent) state_.acknowledged(key, id);
  }

  asio::awaitable<void> invalidate() {
    const auto& pattern = patterns[random_() % patterns.size()];
    std::size_t known = 0;
    std::vector<std::pair<std::string, std::uint64_t>> sent;
    for (const auto& key : state_.keys()) {
      if (!glob_match(pattern, key)) continue;
      ++known;
      sent.emplace_back(key, state_.sent(key, 0, false));
    }
    for (const auto& key : state_.counters()) known += glob_match(pattern, key) ? 1 : 0;
    const auto removed = co_await cache_.invalidate_pattern(pattern);
    for (const auto& [key, id] : sent) state_.acknowledged(key, id);
    if (removed > known)
      state_.violation("invalidate_pattern removed more keys than it matches under key " + pattern);
  }

  chaos_state& state_;
  string_cache& cache_;
  string_cache& once_;
  std::size_t index_;
  std::mt19937_64 random_;
};

// What the faults hit: one redis-server, or the six nodes of a cluster.
class fault_target {
 public:
  virtual ~fault_target() = default;
  [[nodiscard]] virtual std::string url() const = 0;
  [[nodiscard]] virtual std::size_t size() const = 0;
  [[nodiscard]] virtual test::redis_server& node(std::size_t i) = 0;
  /// "" for a single server, otherwise " master" or " replica" (for the fault counts).
  [[nodiscard]] virtual std::string role(std::size_t i) = 0;
  /// The slots whose writes a fault of `kind` on node i can lose (empty: none); every slot is
  /// {true} (one element) for a single server.
  [[nodiscard]] virtual std::vector<bool> loses(std::size_t i, const std::string& kind) = 0;
  /// Longest time a killed or stopped node stays down, and a paused one paused.
  [[nodiscard]] virtual milliseconds longest_down() const = 0;
  [[nodiscard]] virtual milliseconds longest_pause() const = 0;
  /// Resumes and restarts what is not serving and waits until it serves normally again.
  [[nodiscard]] virtual bool restore(milliseconds timeout) = 0;
};

class single_server final : public fault_target {
 public:
  explicit single_server(const chaos_settings& settings) : settings_(settings) {}
  std::string url() const override { return "redis://127.0.0.1:" + std::to_string(server_.port()); }
  std::size_t size() const override { return 1; }
  test::redis_server& node(std::size_t) override { return server_; }
  std::string role(std::size_t) override { return ""; }
  // Persistence is off: a server that comes back has lost everything; a pause loses nothing.
  std::vector<bool> loses(std::size_t, const std::string& kind) override {
    if (kind == "pause") return {};
    return {true};
  }
  milliseconds longest_down() const override { return 800ms; }
  // Shorter and longer than the command timeout.
  milliseconds longest_pause() const override { return 3 * settings_.command_timeout; }
  bool restore(milliseconds) override {
    server_.resume();
    if (!server_.running()) server_.restart();
    return true;
  }

 private:
  const chaos_settings& settings_;
  test::redis_server server_;
};

class cluster_nodes final : public fault_target {
 public:
  cluster_nodes() : cluster_(test::redis_cluster::options{.node_timeout = 1000ms}) {}
  std::string url() const override {
    std::string url = "redis-cluster://";
    for (std::size_t i = 0; i < cluster_.size(); ++i)
      url += (i == 0 ? "" : ",") + std::string("127.0.0.1:") + std::to_string(cluster_.port(i));
    return url;
  }
  std::size_t size() const override { return cluster_.size(); }
  test::redis_server& node(std::size_t i) override { return cluster_.node(i); }
  std::string role(std::size_t i) override {
    return master_slots(i).empty() ? " replica" : " master";
  }
  // A master that restarts empty, or whose replica takes over while it is down or paused, loses
  // what it held (or had not replicated yet); a replica holds nothing the master does not.
  std::vector<bool> loses(std::size_t i, const std::string&) override { return master_slots(i); }
  // Shorter and longer than cluster-node-timeout (1 s): some faults end in a failover.
  milliseconds longest_down() const override { return 3000ms; }
  milliseconds longest_pause() const override { return 3000ms; }
  bool restore(milliseconds timeout) override {
    const auto deadline = clock_type::now() + timeout;
    for (std::size_t i = 0; i < cluster_.size(); ++i) {
      auto& node = cluster_.node(i);
      node.resume();
      if (!node.running()) node.restart();
    }
    // Every slot served, one replica per master, and every replica in sync: a replica still
    // loading its first copy would lose the shard if its master failed next.
    while (clock_type::now() < deadline) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - clock_type::now());
      if (cluster_.wait_until_stable(left) && replicas_in_sync()) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

 private:
  // Node i's slots if it is a master, asked of another node (empty for a replica).
  std::vector<bool> master_slots(std::size_t i) {
    for (std::size_t j = 0; j < cluster_.size(); ++j) {
      if (j == i || !cluster_.node(j).running()) continue;
      try {
        const auto map = cluster_.slot_map(j);
        std::vector<bool> slots(detail::cluster_slot_count, false);
        bool any = false;
        for (std::uint32_t slot = 0; slot < detail::cluster_slot_count; ++slot) {
          const auto* master = map.master_for(static_cast<std::uint16_t>(slot));
          if (master != nullptr && master->port == cluster_.port(i)) slots[slot] = any = true;
        }
        return any ? slots : std::vector<bool>{};
      } catch (const std::exception&) {
        continue;
      }
    }
    // No other node answered: assume the worst.
    return std::vector<bool>(detail::cluster_slot_count, true);
  }

  bool replicas_in_sync() const {
    for (std::size_t i = 0; i < cluster_.size(); ++i) {
      const auto info = cluster_.command(i, {"INFO", "replication"});
      if (info.type != detail::redis_reply::kind::string) return false;
      if (info.str.find("role:slave") != std::string::npos &&
          info.str.find("master_link_status:up") == std::string::npos)
        return false;
    }
    return true;
  }

  test::redis_cluster cluster_;
};

// The controller: one fault at a time with service in between, until the fault phase ends.
// False when the servers could not be brought back to normal (the run is then void).
bool inject_faults(chaos_state& state, fault_target& target) {
  std::mt19937_64 random(state.settings().seed);
  const auto end = clock_type::now() + std::chrono::seconds(state.settings().seconds);
  auto sleep_ms = [&](std::uint64_t low, std::uint64_t high) {
    std::this_thread::sleep_for(milliseconds(low + random() % (high - low + 1)));
  };
  const auto down = static_cast<std::uint64_t>(target.longest_down().count());
  const auto paused = static_cast<std::uint64_t>(target.longest_pause().count());
  while (clock_type::now() < end) {
    sleep_ms(200, 1200);  // service between faults
    const auto i = random() % target.size();
    auto& server = target.node(i);
    const auto role = target.role(i);
    const auto start = now_ns();
    std::string kind;
    switch (random() % 4) {
      case 0:
        server.kill();
        state.count_fault(kind = "kill", role);
        sleep_ms(0, down);
        server.restart();
        break;
      case 1:
        server.stop();
        state.count_fault(kind = "stop", role);
        sleep_ms(0, down);
        server.restart();
        break;
      case 2:
        server.pause();
        state.count_fault(kind = "pause", role);
        sleep_ms(50, paused);
        server.resume();
        break;
      default:
        server.restart();
        state.count_fault(kind = "restart", role);
        break;
    }
    const auto lost = target.loses(i, kind);
    if (!target.restore(60s)) return false;
    // A second of margin: the backend may still hold a connection to a node that has just
    // been demoted.
    if (!lost.empty())
      state.exposed(lost.size() == 1 ? std::vector<bool>{} : lost, start,
                    now_ns() + std::chrono::nanoseconds(1s).count());
  }
  return true;
}

// The controller thread's whole timeline; returns the recovery time in ms (-1: none).
double control(chaos_state& state, fault_target& target, milliseconds recovery_bound) {
  const bool restored = inject_faults(state, target) && target.restore(60s);
  if (!restored) state.violation("the servers did not come back to normal within 60 s");
  state.faults_end_ns.store(now_ns());
  state.current.store(phase::recovering);
  const auto give_up = clock_type::now() + recovery_bound + 10s;
  // Both backends must have answered.
  const auto first_of_both = [&]() -> std::int64_t {
    const auto a = state.first_success_after_faults_ns.load();
    const auto b = state.first_once_success_after_faults_ns.load();
    return a == 0 || b == 0 ? 0 : std::max(a, b);
  };
  while (first_of_both() == 0 && clock_type::now() < give_up) std::this_thread::sleep_for(5ms);
  double recovery_ms = -1;
  if (const auto first = first_of_both(); first != 0) {
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
  std::unique_ptr<fault_target> target;
  if (settings.cluster)
    target = std::make_unique<cluster_nodes>();
  else
    target = std::make_unique<single_server>(settings);
  std::printf("servers: %s\n", target->url().c_str());
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
    string_cache cache(io.get_executor(), redis_options{.url = target->url(),
                                                        .prefix = key_prefix,
                                                        .connect_timeout = settings.connect_timeout,
                                                        .command_timeout = settings.command_timeout,
                                                        .reconnect_min = settings.reconnect_min,
                                                        .reconnect_max = settings.reconnect_max});
    std::exception_ptr error;
    std::atomic<std::size_t> running{0};
    std::thread controller;
    string_cache once(io.get_executor(), redis_options{.url = target->url(),
                                                       .prefix = once_prefix,
                                                       .connect_timeout = settings.connect_timeout,
                                                       .command_timeout = settings.command_timeout,
                                                       .reconnect_min = settings.reconnect_min,
                                                       .reconnect_max = settings.reconnect_max});
    std::vector<std::unique_ptr<chaos_worker>> workers;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          co_await cache.initialize();
          co_await once.initialize();
          controller = std::thread([&] { recovery_ms = control(state, *target, recovery_bound); });
          running.store(settings.coroutines);
          for (std::size_t i = 0; i < settings.coroutines; ++i) {
            workers.push_back(std::make_unique<chaos_worker>(state, cache, once, i));
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
          // Every key once more, with the servers back to normal and nothing else running.
          if (running.load() == 0) {
            for (const auto& key : state.keys()) {
              try {
                state.check_final(key, co_await cache.get(key));
              } catch (const cache_error& e) {
                state.violation("a read at the end failed: " + std::string(e.what()));
              }
            }
            for (std::uint64_t i = 0; i < state.once_keys(); ++i) {
              const auto key = "o" + std::to_string(i);
              try {
                state.check_final(key, co_await once.get(key), once_prefix);
              } catch (const cache_error& e) {
                state.violation("a read at the end failed: " + std::string(e.what()));
              }
            }
          }
          co_await once.shutdown();
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
                                     {"sigpipe", "default"},
                                     {"cluster", "0"}});
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
                                  flags.text("sigpipe") == "ignore",
                                  flags.number("cluster") != 0};
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
