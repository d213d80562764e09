// fail_open: which failures become misses, what each operation then returns, what is reported,
// and the "fail-open+" URL form over every built-in and a user backend.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "corocache/fail_open.hpp"
#include "corocache/memory_backend.hpp"
#include "corocache/registry.hpp"
#include "support/catch.hpp"
#include "support/error_of.hpp"
#include "support/run_coroutine.hpp"

namespace {

using corocache::errc;
using corocache::fail_open;
using corocache::optional_ttl;
using corocache::test::error_of;
using corocache::test::run_coroutine;

// A backend whose every operation fails with `code` (once initialized), or works when code is 0.
class broken_backend final : public corocache::CacheBackend<std::string> {
 public:
  explicit broken_backend(std::shared_ptr<std::atomic<int>> code) : code_(std::move(code)) {}

 protected:
  void fail() const {
    if (*code_ != 0) corocache::detail::throw_error(static_cast<errc>(code_->load()), "broken");
  }
  asio::awaitable<void> do_initialize() override { co_return; }
  asio::awaitable<void> do_shutdown() override { co_return; }
  asio::awaitable<std::optional<std::string>> do_get(std::string) override {
    fail();
    co_return "stored";
  }
  asio::awaitable<bool> do_set(std::string, std::string, optional_ttl) override {
    fail();
    co_return true;
  }
  asio::awaitable<bool> do_erase(std::string) override {
    fail();
    co_return true;
  }
  asio::awaitable<bool> do_exists(std::string) override {
    fail();
    co_return true;
  }
  asio::awaitable<std::size_t> do_invalidate_pattern(std::string) override {
    fail();
    co_return 7;
  }
  asio::awaitable<bool> do_clear() override {
    fail();
    co_return true;
  }
  asio::awaitable<std::vector<std::optional<std::string>>> do_get_many(key_list keys) override {
    fail();
    co_return std::vector<std::optional<std::string>>(keys.size(), "stored");
  }
  asio::awaitable<bool> do_set_many(item_list, optional_ttl) override {
    fail();
    co_return true;
  }
  asio::awaitable<std::size_t> do_erase_many(key_list keys) override {
    fail();
    co_return keys.size();
  }
  asio::awaitable<std::int64_t> do_incr(std::string, std::int64_t, std::int64_t,
                                        optional_ttl) override {
    fail();
    co_return 42;
  }

 private:
  std::shared_ptr<std::atomic<int>> code_;
};

struct recorded {
  errc code;
  std::string operation;
  std::string key;
};

}  // namespace

TEST_CASE("fail_open turns infrastructure failures into misses and reports each", "[fail_open]") {
  const auto code =
      GENERATE(errc::connection_error, errc::timeout, errc::server_error, errc::protocol_error);
  auto failing = std::make_shared<std::atomic<int>>(0);
  std::vector<recorded> reports;
  fail_open<std::string> cache(
      std::make_unique<broken_backend>(failing), [&](const corocache::absorbed_failure& f) {
        reports.push_back({f.code, std::string(f.operation), std::string(f.key)});
      });
  run_coroutine([&]() -> asio::awaitable<void> {
    co_await cache.initialize();
    CHECK(co_await cache.get("k") == std::optional<std::string>("stored"));  // healthy: passes
    *failing = static_cast<int>(code);
    CHECK_FALSE(co_await cache.get("k"));
    CHECK_FALSE(co_await cache.set("k", "v"));
    CHECK_FALSE(co_await cache.erase("k"));
    CHECK_FALSE(co_await cache.exists("k"));
    CHECK(co_await cache.invalidate_pattern("k*") == 0);
    CHECK_FALSE(co_await cache.clear());
    std::vector<std::string> keys{"a", "b"};
    auto many = co_await cache.get_many(keys);
    CHECK(many.size() == 2);
    CHECK_FALSE(many[0]);
    CHECK_FALSE(many[1]);
    std::vector<std::pair<std::string, std::string>> items{{"a", "1"}};
    CHECK_FALSE(co_await cache.set_many(items));
    CHECK(co_await cache.erase_many(keys) == 0);
    // A counter has no miss: its failure goes through.
    CHECK(co_await error_of(cache.incr("n")) == code);
  });
  REQUIRE(reports.size() == 9);  // incr is not absorbed, so not reported
  const std::vector<std::string> operations{
      "get",   "set",      "erase",    "exists",    "invalidate_pattern",
      "clear", "get_many", "set_many", "erase_many"};
  for (std::size_t i = 0; i < operations.size(); ++i) {
    CHECK(reports[i].operation == operations[i]);
    CHECK(reports[i].code == code);
  }
  CHECK(reports[0].key == "k");
  CHECK(reports[4].key == "k*");
  CHECK(reports[6].key == "a");
  CHECK(cache.failures(code) == 9);
}

TEST_CASE("fail_open never hides programming errors or a cancellation", "[fail_open]") {
  const auto code =
      GENERATE(errc::invalid_argument, errc::codec_error, errc::not_a_counter, errc::overflow,
               errc::wrong_type, errc::unsupported, errc::cancelled, errc::shut_down);
  auto failing = std::make_shared<std::atomic<int>>(static_cast<int>(code));
  int reports = 0;
  fail_open<std::string> cache(std::make_unique<broken_backend>(failing),
                               [&](const corocache::absorbed_failure&) { ++reports; });
  run_coroutine([&]() -> asio::awaitable<void> {
    co_await cache.initialize();
    CHECK(co_await error_of(cache.get("k")) == code);
    CHECK(co_await error_of(cache.set("k", "v")) == code);
    std::vector<std::string> keys{"a"};
    CHECK(co_await error_of(cache.get_many(keys)) == code);
  });
  CHECK(reports == 0);
}

TEST_CASE("get_or_set through fail_open loads when the cache is down", "[fail_open]") {
  auto failing = std::make_shared<std::atomic<int>>(static_cast<int>(errc::connection_error));
  fail_open<std::string> cache(std::make_unique<broken_backend>(failing));
  run_coroutine([&]() -> asio::awaitable<void> {
    co_await cache.initialize();
    int runs = 0;
    auto loader = [&runs]() -> asio::awaitable<std::string> {
      ++runs;
      co_return "from the source";
    };
    CHECK(co_await cache.get_or_set("k", loader) == "from the source");
    CHECK(co_await cache.get_or_set("k", loader) == "from the source");
    CHECK(runs == 2);  // nothing could be stored
    corocache::get_or_set_options options;
    options.ttl = std::chrono::seconds(1);
    options.stale_for = std::chrono::seconds(1);
    CHECK(co_await cache.get_or_set("swr", loader, options) == "from the source");
    CHECK(runs == 3);
  });
  CHECK(cache.failures(errc::connection_error) >= 4);
}

TEST_CASE("a fail-open+ URL wraps any backend URL", "[fail_open]") {
  asio::io_context io;
  auto memory =
      corocache::make_backend<std::string>("fail-open+memory://?max_size=5", io.get_executor());
  CHECK(dynamic_cast<fail_open<std::string>*>(memory.get()) != nullptr);
  CHECK(dynamic_cast<corocache::MemoryCacheBackend<std::string>*>(
            &dynamic_cast<fail_open<std::string>&>(*memory).inner()) != nullptr);
  auto upper = corocache::make_backend<std::string>("FAIL-OPEN+null://", io.get_executor());
  CHECK(dynamic_cast<fail_open<std::string>*>(upper.get()) != nullptr);

  // A user's scheme composes the same way.
  corocache::register_backend<std::string>(
      "mine", [](const corocache::backend_url&, const asio::any_io_executor&) {
        auto code = std::make_shared<std::atomic<int>>(0);
        return std::unique_ptr<corocache::CacheBackend<std::string>>(
            std::make_unique<broken_backend>(code));
      });
  auto mine = corocache::make_backend<std::string>("fail-open+mine://", io.get_executor());
  CHECK(dynamic_cast<broken_backend*>(&dynamic_cast<fail_open<std::string>&>(*mine).inner()) !=
        nullptr);
  corocache::unregister_backend<std::string>("mine");

  // The wrapped URL is checked as strictly as on its own.
  auto error_of_url = [&](const char* url) -> std::optional<errc> {
    try {
      (void)corocache::make_backend<std::string>(url, io.get_executor());
    } catch (const corocache::cache_error& e) {
      return e.error();
    }
    return std::nullopt;
  };
  CHECK(error_of_url("fail-open+memory://?bogus=1") == errc::invalid_argument);
  CHECK(error_of_url("fail-open+") == errc::invalid_argument);
  CHECK(error_of_url("fail-open+nosuch://") == errc::unknown_backend);
  CHECK(error_of_url("fail-open+fail-open+null://") == std::nullopt);  // harmless nesting
}
