// The stampede lock of get_or_set across processes (get_or_set_options::lock) on a real Redis:
// three OS processes of 100 callers each on one cold key, a lock holder killed mid-load, and the
// compare-and-delete release.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "conformance/get_or_set_suite.hpp"
#include "corocache/fail_open.hpp"
#include "corocache/redis_backend.hpp"
#include "support/redis_server.hpp"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using cache_type = corocache::RedisCacheBackend<std::string>;

// One stampede_lock_helper process, its stdout in a file of its own.
struct helper {
  pid_t pid = -1;
  std::string output_path;
  int status = -1;
  bool exited = false;
};

helper spawn_helper(const std::vector<std::string>& args, int index) {
  helper h;
  h.output_path = "/tmp/corocache-stampede-" + std::to_string(::getpid()) + "-" +
                  std::to_string(index) + ".out";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, h.output_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<char*> argv;
  std::string program = COROCACHE_STAMPEDE_HELPER;
  argv.push_back(program.data());
  auto copies = args;
  for (auto& a : copies) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int rc = ::posix_spawn(&h.pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + program);
  return h;
}

// Waits for every helper, at most `timeout` in all; kills those still running then.
void wait_all(std::vector<helper>& helpers, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool running = false;
    for (auto& h : helpers) {
      if (h.exited) continue;
      if (::waitpid(h.pid, &h.status, WNOHANG) == h.pid) {
        h.exited = true;
      } else {
        running = true;
      }
    }
    if (!running) return;
    if (std::chrono::steady_clock::now() > deadline) {
      for (auto& h : helpers) {
        if (h.exited) continue;
        ::kill(h.pid, SIGKILL);
        ::waitpid(h.pid, &h.status, 0);
        h.exited = true;
      }
      FAIL("the helper processes did not finish in time");
    }
    std::this_thread::sleep_for(10ms);
  }
}

std::string output_of(const helper& h) {
  std::ifstream in(h.output_path);
  std::stringstream text;
  text << in.rdbuf();
  std::remove(h.output_path.c_str());
  return text.str();
}

// "value=loaded by 123 loads=..." -> "loaded by 123"
std::string value_in(const std::string& output) {
  const auto start = output.find("value=");
  const auto end = output.find(" loads=");
  if (start == std::string::npos || end == std::string::npos) return {};
  return output.substr(start + 6, end - start - 6);
}

// A counter read straight from the server (":<n>"), independent of the code under test.
long long counter(const corocache::test::redis_server& server, const std::string& key) {
  const auto reply = server.command("INCRBY " + key + " 0");
  if (reply.size() < 2 || reply[0] != ':') throw std::runtime_error("INCRBY answered " + reply);
  return std::stoll(reply.substr(1));
}

std::vector<std::string> helper_args(const corocache::test::redis_server& server,
                                     const std::string& prefix, int loader_ms, int lock_ttl_ms) {
  return {std::to_string(server.port()),
          prefix,
          "cold",
          "100",  // concurrent callers per process
          std::to_string(loader_ms),
          std::to_string(lock_ttl_ms),
          "3"};
}

}  // namespace

TEST_CASE("three processes of 100 callers on one cold key run the loader once",
          "[get_or_set][lock][redis]") {
  corocache::test::redis_server server;
  const std::string prefix = "stampede:";
  std::vector<helper> helpers;
  for (int i = 0; i < 3; ++i)
    helpers.push_back(spawn_helper(helper_args(server, prefix, 300, 10'000), i));
  wait_all(helpers, 90s);

  std::vector<std::string> values;
  for (auto& h : helpers) {
    const auto output = output_of(h);
    INFO("helper " << h.pid << " printed: " << output);
    REQUIRE(WIFEXITED(h.status));
    CHECK(WEXITSTATUS(h.status) == 0);  // its 100 callers all got one value
    values.push_back(value_in(output));
  }
  CHECK(counter(server, prefix + "loader_runs") == 1);
  // Every process got the value of that one run, loaded by one of them.
  CHECK(values[0] == values[1]);
  CHECK(values[1] == values[2]);
  const bool loaded_by_a_helper = values[0] == "loaded by " + std::to_string(helpers[0].pid) ||
                                  values[0] == "loaded by " + std::to_string(helpers[1].pid) ||
                                  values[0] == "loaded by " + std::to_string(helpers[2].pid);
  CHECK(loaded_by_a_helper);
  // The lock was released after the load.
  CHECK(server.command("EXISTS " + prefix + "cold\x1F" + "lock") == ":0");
}

TEST_CASE("a lock holder killed mid-load: another process loads once its lock expires",
          "[get_or_set][lock][redis]") {
  corocache::test::redis_server server;
  const std::string prefix = "stampede_kill:";
  std::vector<helper> helpers;
  // The loader sleeps 1.5 s under a 3 s lock: the holder is killed while it sleeps.
  for (int i = 0; i < 3; ++i)
    helpers.push_back(spawn_helper(helper_args(server, prefix, 1500, 3000), i));

  // Bounded wait for the first loader run, then find its process through "loads:<pid>".
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (counter(server, prefix + "loader_runs") < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  REQUIRE(counter(server, prefix + "loader_runs") == 1);
  std::size_t holder = helpers.size();
  for (std::size_t i = 0; i < helpers.size(); ++i)
    if (counter(server, prefix + "loads:" + std::to_string(helpers[i].pid)) == 1) holder = i;
  REQUIRE(holder < helpers.size());
  REQUIRE(::kill(helpers[holder].pid, SIGKILL) == 0);
  const auto killed = helpers[holder].pid;

  wait_all(helpers, 90s);
  std::vector<std::string> values;
  for (std::size_t i = 0; i < helpers.size(); ++i) {
    const auto output = output_of(helpers[i]);
    INFO("helper " << helpers[i].pid << " printed: " << output);
    if (i == holder) {
      CHECK(WIFSIGNALED(helpers[i].status));
      continue;
    }
    REQUIRE(WIFEXITED(helpers[i].status));
    CHECK(WEXITSTATUS(helpers[i].status) == 0);
    values.push_back(value_in(output));
  }
  // The killed run stored nothing; exactly one survivor loaded again, for both.
  CHECK(counter(server, prefix + "loader_runs") == 2);
  REQUIRE(values.size() == 2);
  CHECK(values[0] == values[1]);
  CHECK(values[0] != "loaded by " + std::to_string(killed));
  CHECK(values[0].rfind("loaded by ", 0) == 0);
}

TEST_CASE("release_lock deletes the lock only while it holds the caller's token",
          "[get_or_set][lock][redis]") {
  corocache::test::redis_server server;
  const auto url = "redis://127.0.0.1:" + std::to_string(server.port()) + "/0";
  corocache::test::run_threaded([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    cache_type cache(ex, url, "locks:");
    co_await cache.initialize();
    CHECK(co_await cache.try_acquire_lock("lk", "token-a", 10s));
    CHECK_FALSE(co_await cache.try_acquire_lock("lk", "token-b", 10s));  // SET NX: taken
    CHECK(co_await cache.get("lk") == std::optional<std::string>("token-a"));
    const auto ttl = co_await cache.get_ttl("lk");  // SET PX: it expires
    REQUIRE(ttl);
    CHECK(ttl->count() > 0);
    CHECK(*ttl <= 10s);

    // The lock expired and another holder took it: the first holder's release must not delete it.
    CHECK(server.command("SET locks:lk token-b") == "+OK");
    CHECK_FALSE(co_await cache.release_lock("lk", "token-a"));
    CHECK(co_await cache.get("lk") == std::optional<std::string>("token-b"));
    CHECK(co_await cache.release_lock("lk", "token-b"));
    CHECK_FALSE(co_await cache.exists("lk"));
    CHECK_FALSE(co_await cache.release_lock("lk", "token-b"));  // nothing left to release

    // An expired lock can be taken again.
    CHECK(co_await cache.try_acquire_lock("short", "token-a", 20ms));
    asio::steady_timer pause(ex, 200ms);
    co_await pause.async_wait(asio::use_awaitable);
    CHECK(co_await cache.try_acquire_lock("short", "token-b", 10s));
    co_await cache.shutdown();
  });
}

TEST_CASE("two backend objects with the lock share one load and a failed load frees the lock",
          "[get_or_set][lock][redis]") {
  corocache::test::redis_server server;
  const auto url = "redis://127.0.0.1:" + std::to_string(server.port()) + "/0";
  corocache::test::run_threaded([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    cache_type first(ex, url, "two:");
    cache_type second(ex, url, "two:");
    co_await first.initialize();
    co_await second.initialize();
    auto runs = std::make_shared<std::atomic<int>>(0);
    auto loader = [runs, ex]() -> asio::awaitable<std::string> {
      ++*runs;
      asio::steady_timer pause(ex, 300ms);  // long enough for every caller to miss
      co_await pause.async_wait(asio::use_awaitable);
      co_return "loaded";
    };
    corocache::get_or_set_options options;
    options.lock = corocache::stampede_lock_options{};
    auto done = std::make_shared<std::atomic<int>>(0);
    auto fails = std::make_shared<std::atomic<int>>(0);
    for (int i = 0; i < 100; ++i) {
      auto& cache = i % 2 == 0 ? first : second;
      asio::co_spawn(ex, cache.get_or_set("k", loader, options),
                     [done, fails](std::exception_ptr e, std::string value) {
                       if (e || value != "loaded") ++*fails;
                       ++*done;
                     });
    }
    co_await corocache::test::wait_until([&] { return *done == 100; }, "every caller served");
    CHECK(*fails == 0);
    CHECK(*runs == 1);
    // One object loaded; the other waited for it through the lock.
    CHECK(first.load_stats().lock_waits + second.load_stats().lock_waits == 1);

    // A loader that throws releases the lock: the next call takes it and loads.
    auto failing = []() -> asio::awaitable<std::string> {
      throw std::runtime_error("source down");
      co_return "";
    };
    std::string error;
    try {
      co_await first.get_or_set("f", failing, options);
    } catch (const std::runtime_error& e) {
      error = e.what();
    }
    CHECK(error == "source down");
    CHECK_FALSE(
        co_await first.exists("f\x1F"
                              "lock"));
    CHECK(co_await second.get_or_set("f", loader, options) == "loaded");
    co_await first.shutdown();
    co_await second.shutdown();
  });
}

TEST_CASE("fail-open over a dead Redis: get_or_set with the lock loads without it",
          "[get_or_set][lock][fail_open][redis]") {
  corocache::test::redis_server server;
  const auto url = "redis://127.0.0.1:" + std::to_string(server.port()) +
                   "/0?connect_timeout=500ms&command_timeout=1s";
  corocache::test::run_threaded([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto inner = std::make_unique<cache_type>(ex, url, "dead:");
    corocache::fail_open<std::string> cache(std::move(inner));
    co_await cache.initialize();
    server.kill();
    corocache::get_or_set_options options;
    options.lock = corocache::stampede_lock_options{};
    auto loader = []() -> asio::awaitable<std::string> { co_return "from the source"; };
    CHECK(co_await cache.get_or_set("k", loader, options) == "from the source");
    CHECK(cache.load_stats().lock_waits == 0);  // the absorbed lock failure did not make it wait
    co_await cache.shutdown();
  });
}
