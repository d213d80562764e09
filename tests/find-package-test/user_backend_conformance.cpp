// A backend of the user's own, checked against the installed conformance suite: it counts the
// operations it forwards to a MemoryCacheBackend, is registered under "counted" with
// register_backend, and the suite gets it back through make_backend("counted://").
#define CATCH_CONFIG_MAIN  // this file is the whole test program

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <tuple>

#include <corocache/corocache.hpp>

namespace {

// The time the memory backend sees: moved by the fixture, so TTL cases never sleep.
std::atomic<std::int64_t> now_ms{24 * 3600 * 1000};

class counted_backend final : public corocache::CacheBackend<std::string> {
 public:
  counted_backend()
      : inner_(corocache::memory_options{.max_size = 1000, .clock = [] {
                                           return std::chrono::steady_clock::time_point(
                                               std::chrono::milliseconds(now_ms.load()));
                                         }}) {}

  std::atomic<int> operations{0};

 private:
  template <class R>
  asio::awaitable<R> count(asio::awaitable<R> operation) {
    ++operations;
    co_return co_await std::move(operation);
  }

  asio::awaitable<void> do_initialize() override { co_await inner_.initialize(); }
  asio::awaitable<void> do_shutdown() override { co_await inner_.shutdown(); }
  asio::awaitable<std::optional<std::string>> do_get(std::string key) override {
    return count(inner_.get(std::move(key)));
  }
  asio::awaitable<bool> do_set(std::string key, std::string value,
                               corocache::optional_ttl ttl) override {
    return count(inner_.set(std::move(key), std::move(value), ttl));
  }
  asio::awaitable<bool> do_erase(std::string key) override {
    return count(inner_.erase(std::move(key)));
  }
  asio::awaitable<bool> do_exists(std::string key) override {
    return count(inner_.exists(std::move(key)));
  }
  asio::awaitable<std::size_t> do_invalidate_pattern(std::string pattern) override {
    return count(inner_.invalidate_pattern(std::move(pattern)));
  }
  asio::awaitable<bool> do_clear() override { return count(inner_.clear()); }
  asio::awaitable<std::vector<std::optional<std::string>>> do_get_many(key_list keys) override {
    return count(inner_.get_many(std::move(keys)));
  }
  asio::awaitable<bool> do_set_many(item_list items, corocache::optional_ttl ttl) override {
    return count(inner_.set_many(std::move(items), ttl));
  }
  asio::awaitable<std::size_t> do_erase_many(key_list keys) override {
    return count(inner_.erase_many(std::move(keys)));
  }
  asio::awaitable<std::int64_t> do_incr(std::string key, std::int64_t delta, std::int64_t initial,
                                        corocache::optional_ttl ttl) override {
    return count(inner_.incr(std::move(key), delta, initial, ttl));
  }

  corocache::MemoryCacheBackend<std::string> inner_;
};

void register_counted_backend() {
  static const bool registered = [] {
    corocache::register_backend<std::string>(
        "counted", [](const corocache::backend_url&, const asio::any_io_executor&) {
          return std::make_unique<counted_backend>();
        });
    return true;
  }();
  (void)registered;
}

struct counted_fixture {
  using value_type = std::string;
  static constexpr const char* name = "counted";

  explicit counted_fixture(asio::any_io_executor executor)
      : cache((register_counted_backend(),
               corocache::make_backend<std::string>("counted://", executor))) {}

  corocache::CacheBackend<std::string>& backend() { return *cache; }

  asio::awaitable<void> elapse(std::chrono::milliseconds duration) {
    now_ms += duration.count();
    co_return;
  }

  std::chrono::milliseconds short_ttl() const { return std::chrono::seconds(1); }

  std::unique_ptr<corocache::CacheBackend<std::string>> cache;
};

}  // namespace

using conformance_fixtures = std::tuple<counted_fixture>;
#include "conformance/conformance_suite.hpp"

TEST_CASE("the suite ran through the user's backend", "[conformance]") {
  asio::io_context io;
  register_counted_backend();
  auto cache = corocache::make_backend<std::string>("counted://", io.get_executor());
  CHECK(dynamic_cast<counted_backend*>(cache.get()) != nullptr);
}
