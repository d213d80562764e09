// get_or_set on the in-process backends and on a user's own backend, plus the single-flight
// table on its own.
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <asio/detached.hpp>

#include "conformance/get_or_set_suite.hpp"
#include "corocache/detail/single_flight.hpp"
#include "corocache/memory_backend.hpp"
#include "corocache/null_backend.hpp"
#include "support/catch.hpp"
#include "support/error_of.hpp"
#include "support/manual_clock.hpp"

namespace {

using corocache::test::string_cache;

// A backend as a user would write it: nothing but the protected hooks, no get_or_set code.
class map_backend : public corocache::CacheBackend<std::string> {
 protected:
  using optional_ttl = corocache::optional_ttl;
  asio::awaitable<void> do_initialize() override { co_return; }
  asio::awaitable<void> do_shutdown() override { co_return; }
  asio::awaitable<std::optional<std::string>> do_get(std::string key) override {
    std::lock_guard lock(mutex_);
    auto it = values_.find(key);
    co_return it == values_.end() ? std::nullopt : std::optional(it->second);
  }
  asio::awaitable<bool> do_set(std::string key, std::string value, optional_ttl) override {
    std::lock_guard lock(mutex_);
    values_[key] = std::move(value);
    co_return true;
  }
  asio::awaitable<bool> do_erase(std::string key) override {
    std::lock_guard lock(mutex_);
    co_return values_.erase(key) > 0;
  }
  asio::awaitable<bool> do_exists(std::string key) override {
    std::lock_guard lock(mutex_);
    co_return values_.count(key) > 0;
  }
  asio::awaitable<std::size_t> do_invalidate_pattern(std::string) override { co_return 0; }
  asio::awaitable<bool> do_clear() override {
    std::lock_guard lock(mutex_);
    values_.clear();
    co_return true;
  }
  asio::awaitable<std::vector<std::optional<std::string>>> do_get_many(key_list keys) override {
    co_return std::vector<std::optional<std::string>>(keys.size());
  }
  asio::awaitable<bool> do_set_many(item_list, optional_ttl) override { co_return true; }
  asio::awaitable<std::size_t> do_erase_many(key_list) override { co_return 0; }
  asio::awaitable<std::int64_t> do_incr(std::string, std::int64_t, std::int64_t initial,
                                        optional_ttl) override {
    co_return initial;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::string> values_;
};

// A user's backend with the lock hooks (in memory, TTLs ignored), so that the test plays the
// other process: it holds the lock, stores the value or releases the lock without one.
class locking_map_backend final : public map_backend {
 public:
  std::map<std::string, std::string> locks;  // touched by the test only between awaits
  std::atomic<int> acquisitions{0};

 protected:
  asio::awaitable<bool> do_try_acquire_lock(std::string key, std::string token,
                                            std::chrono::milliseconds) override {
    std::lock_guard lock(lock_mutex_);
    if (!locks.emplace(std::move(key), std::move(token)).second) co_return false;
    ++acquisitions;
    co_return true;
  }
  asio::awaitable<bool> do_release_lock(std::string key, std::string token) override {
    std::lock_guard lock(lock_mutex_);
    auto it = locks.find(key);
    if (it == locks.end() || it->second != token) co_return false;
    locks.erase(it);
    co_return true;
  }

 private:
  std::mutex lock_mutex_;
};

}  // namespace

TEST_CASE("get_or_set loads once per cold key on every in-process backend",
          "[get_or_set][threads]") {
  corocache::test::get_or_set_suite("memory", [](asio::any_io_executor) {
    return std::unique_ptr<string_cache>(
        std::make_unique<corocache::MemoryCacheBackend<std::string>>(100));
  });
  corocache::test::get_or_set_suite("user backend", [](asio::any_io_executor) {
    return std::unique_ptr<string_cache>(std::make_unique<map_backend>());
  });
  corocache::test::get_or_set_suite(
      "null",
      [](asio::any_io_executor) {
        return std::unique_ptr<string_cache>(
            std::make_unique<corocache::NullCacheBackend<std::string>>());
      },
      /*stores_values=*/false);
}

TEST_CASE("the table of loads in progress is bounded and forgets a key when its load ends",
          "[get_or_set]") {
  corocache::detail::flight_table<std::string> table(2);
  auto a = table.join("a");
  auto again = table.join("a");
  CHECK(a.leader);
  CHECK_FALSE(again.leader);
  CHECK(again.flight == a.flight);
  auto b = table.join("b");
  auto c = table.join("c");
  CHECK(b.leader);
  CHECK(c.flight == nullptr);  // full: the caller loads alone
  CHECK(table.size() == 2);
  table.leave("a", a.flight);
  table.leave("a", a.flight);  // twice is harmless
  CHECK(table.size() == 1);
  auto c2 = table.join("c");
  CHECK(c2.leader);
  // A stale leave (an older flight of the same key) never drops the newer flight.
  table.leave("c", a.flight);
  CHECK(table.size() == 2);
  std::weak_ptr<corocache::detail::load_flight<std::string>> gone = a.flight;
  a = {};
  again = {};
  CHECK(gone.expired());  // nothing else holds a finished flight
}

namespace {

asio::awaitable<std::string> load_user(std::string id) {
  co_return "user " + id;
}

// Counts the live copies of a loader's capture, to prove every copy is destroyed exactly once.
struct capture_probe {
  static inline std::atomic<int> alive{0};
  capture_probe() { ++alive; }
  capture_probe(const capture_probe&) { ++alive; }
  capture_probe(capture_probe&&) noexcept { ++alive; }
  ~capture_probe() { --alive; }
};

}  // namespace

// g++ 12 destroys a capturing lambda written inside the co_await expression twice, whatever
// get_or_set's signature (checked under ASan for by-value, forwarding-reference, const-reference
// and std::function parameters). The safe form names the loader first; this pins it.
TEST_CASE("a named capturing loader is destroyed exactly once on every path", "[get_or_set]") {
  corocache::test::run_threaded([](asio::any_io_executor) -> asio::awaitable<void> {
    corocache::MemoryCacheBackend<std::string> cache(10);
    co_await cache.initialize();
    auto owner = std::make_shared<std::string>("owner");
    {
      const std::string id = "42";
      auto loader = [id, owner, probe = capture_probe()] { return load_user(id); };
      CHECK(co_await cache.get_or_set("user:" + id, loader) == "user 42");  // miss: loads
      CHECK(co_await cache.get_or_set("user:" + id, loader) == "user 42");  // hit
      auto failing = [owner, probe = capture_probe()]() -> asio::awaitable<std::string> {
        throw std::runtime_error("down");
        co_return "";
      };
      CHECK_THROWS_AS(co_await cache.get_or_set("other", failing), std::runtime_error);
    }
    CHECK(owner.use_count() == 1);  // no copy of the loader is left anywhere
    CHECK(capture_probe::alive == 0);
    CHECK(cache.loads_in_progress() == 0);
    co_await cache.shutdown();
  });
}

TEST_CASE("stale-while-revalidate serves a stale value at once and refreshes it once",
          "[get_or_set][threads]") {
  using namespace std::chrono_literals;
  corocache::test::manual_clock clock;
  corocache::test::run_threaded([&](asio::any_io_executor) -> asio::awaitable<void> {
    corocache::MemoryCacheBackend<std::string> cache(
        corocache::memory_options{.max_size = 100, .clock = clock.source()});
    co_await cache.initialize();
    corocache::test::gated_loader loader;
    *loader.open = true;
    loader.value = "v1";
    std::atomic<int> refresh_errors{0};
    corocache::get_or_set_options options;
    options.ttl = 10s;
    options.stale_for = 20s;
    options.on_refresh_error = [&](const std::string& key, std::exception_ptr) {
      if (key == "k") ++refresh_errors;
    };
    CHECK(co_await cache.get_or_set("k", loader, options) == "v1");
    clock.advance(5s);
    CHECK(co_await cache.get_or_set("k", loader, options) == "v1");  // fresh: no load
    CHECK(*loader.runs == 1);

    // Stale: served at once, although the refresh's loader cannot finish yet.
    clock.advance(6s);
    *loader.open = false;
    loader.value = "v2";
    CHECK(co_await cache.get_or_set("k", loader, options) == "v1");
    CHECK(co_await cache.get_or_set("k", loader, options) == "v1");
    co_await corocache::test::wait_until([&] { return *loader.runs == 2; }, "the refresh ran");
    CHECK(cache.load_stats().refreshes == 1);  // one refresh for both stale reads
    *loader.open = true;
    co_await corocache::test::wait_until([&] { return cache.loads_in_progress() == 0; },
                                         "the refresh ended");
    CHECK(co_await cache.get_or_set("k", loader, options) == "v2");      // fresh again
    CHECK(co_await cache.get("k") == std::optional<std::string>("v2"));  // plain get: the value
    CHECK(*loader.runs == 2);

    // A failed refresh keeps the stale value, reports the failure and throws at nobody.
    clock.advance(11s);
    *loader.fail = true;
    CHECK(co_await cache.get_or_set("k", loader, options) == "v2");
    co_await corocache::test::wait_until([&] { return refresh_errors.load() == 1; },
                                         "the failed refresh was reported");
    co_await corocache::test::wait_until([&] { return cache.loads_in_progress() == 0; },
                                         "the refresh ended");
    CHECK(cache.load_stats().refresh_failures == 1);
    CHECK(co_await cache.get_or_set("k", loader, options) == "v2");  // still stale, still served

    // Past both windows: a miss, which waits for the loader.
    clock.advance(30s);
    *loader.fail = false;
    loader.value = "v3";
    CHECK(co_await cache.get_or_set("k", loader, options) == "v3");
    co_await cache.shutdown();
  });
}

TEST_CASE("with the lock, a caller waits for another process's load and takes a lock left free",
          "[get_or_set][lock]") {
  using namespace std::chrono_literals;
  const std::string held = std::string("k\x1F") + "lock";
  corocache::test::run_threaded(
      [&](asio::any_io_executor ex) -> asio::awaitable<void> {
        locking_map_backend cache;
        co_await cache.initialize();
        corocache::test::gated_loader loader;
        *loader.open = true;
        loader.value = "mine";
        corocache::get_or_set_options options;
        options.lock = corocache::stampede_lock_options{.poll_min = 1ms, .poll_max = 2ms};

        // Another process holds the lock and then stores its value: no load here.
        cache.locks[held] = "their token";
        std::optional<std::string> got;
        auto call = [&]() -> asio::awaitable<void> {
          got = co_await cache.get_or_set("k", loader, options);
        };
        asio::co_spawn(ex, call(), asio::detached);
        co_await corocache::test::wait_until([&] { return cache.load_stats().lock_waits == 1; },
                                             "the caller waits for the lock");
        CHECK(co_await cache.set("k", "theirs"));
        co_await corocache::test::wait_until([&] { return got.has_value(); }, "served");
        CHECK(*got == "theirs");
        CHECK(*loader.runs == 0);
        CHECK(cache.locks.at(held) == "their token");  // never released someone else's lock

        // The other process's loader failed: it released the lock without a value. The waiting
        // caller takes the lock, loads, and releases it.
        got.reset();
        cache.locks[held] = "their token";
        CHECK(co_await cache.erase("k"));
        asio::co_spawn(ex, call(), asio::detached);
        co_await corocache::test::wait_until([&] { return cache.load_stats().lock_waits == 2; },
                                             "the caller waits again");
        cache.locks.erase(held);
        co_await corocache::test::wait_until([&] { return got.has_value(); }, "served");
        CHECK(*got == "mine");
        CHECK(*loader.runs == 1);
        CHECK(cache.acquisitions == 1);
        CHECK(cache.locks.empty());

        // A holder that never finishes: after max_wait the caller loads without the lock.
        CHECK(co_await cache.erase("k"));
        cache.locks[held] = "their token";
        options.lock->max_wait = 0ms;
        CHECK(co_await cache.get_or_set("k", loader, options) == "mine");
        CHECK(*loader.runs == 2);
        CHECK(cache.load_stats().lock_timeouts == 1);
        CHECK(cache.locks.at(held) == "their token");
        co_await cache.shutdown();
      },
      1);  // one thread: the test edits the lock table between the caller's awaits
}

TEST_CASE("the lock option fails clearly where the backend has no lock, and checks its values",
          "[get_or_set][lock]") {
  using namespace std::chrono_literals;
  corocache::test::run_threaded([&](asio::any_io_executor) -> asio::awaitable<void> {
    corocache::MemoryCacheBackend<std::string> memory(100);
    corocache::NullCacheBackend<std::string> null;
    co_await memory.initialize();
    co_await null.initialize();
    corocache::test::gated_loader loader;
    *loader.open = true;
    corocache::get_or_set_options options;
    options.lock = corocache::stampede_lock_options{};
    for (string_cache* cache :
         {static_cast<string_cache*>(&memory), static_cast<string_cache*>(&null)}) {
      auto call = cache->get_or_set("k", loader, options);
      CHECK(co_await corocache::test::error_of(std::move(call)) == corocache::errc::unsupported);
    }
    CHECK(*loader.runs == 0);  // refused before loading, not loaded without the lock
    CHECK(co_await memory.set("k", "v"));
    auto hit = memory.get_or_set("k", loader, options);  // a hit needs no lock
    CHECK(co_await std::move(hit) == "v");

    auto refused = [&](corocache::stampede_lock_options lock) -> asio::awaitable<bool> {
      corocache::get_or_set_options bad;
      bad.lock = lock;
      co_return co_await corocache::test::error_of(memory.get_or_set("k", loader, bad)) ==
          corocache::errc::invalid_argument;
    };
    // Named first: g++ 12 rejects a braced list inside a co_await expression.
    const corocache::stampede_lock_options no_ttl{.ttl = 0ms}, negative_wait{.max_wait = -1ms},
        no_pause{.poll_min = 0ms}, inverted{.poll_min = 10ms, .poll_max = 5ms};
    CHECK(co_await refused(no_ttl));
    CHECK(co_await refused(negative_wait));
    CHECK(co_await refused(no_pause));
    CHECK(co_await refused(inverted));
    co_await memory.shutdown();
    co_await null.shutdown();
  });
}
