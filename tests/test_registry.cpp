#include "corocache/registry.hpp"

#include <asio/io_context.hpp>
#include "support/catch.hpp"

#include "support/run_coroutine.hpp"

using corocache::errc;

namespace {
errc error_of_make(std::string_view url) {
  asio::io_context io;
  try {
    (void)corocache::make_backend<std::string>(url, io.get_executor());
  } catch (const corocache::cache_error& e) {
    return e.error();
  }
  return errc{};
}

std::string message_of_make(std::string_view url) {
  asio::io_context io;
  try {
    (void)corocache::make_backend<std::string>(url, io.get_executor());
  } catch (const corocache::cache_error& e) {
    return e.what();
  }
  return {};
}
}  // namespace

TEST_CASE("memory and null are registered from the start", "[registry]") {
  const auto names = corocache::registered_backends<std::string>();
  CHECK(std::find(names.begin(), names.end(), "memory") != names.end());
  CHECK(std::find(names.begin(), names.end(), "null") != names.end());
  CHECK(corocache::get_backend<std::string>("memory"));
}

TEST_CASE("an unknown name lists the registered ones", "[registry]") {
  try {
    (void)corocache::get_backend<std::string>("memcached");
    FAIL("unknown backend was found");
  } catch (const corocache::cache_error& e) {
    CHECK(e.error() == errc::unknown_backend);
    const std::string message = e.what();
    CHECK(message.find("memcached") != std::string::npos);
    CHECK(message.find("memory") != std::string::npos);
    CHECK(message.find("null") != std::string::npos);
  }
  CHECK(error_of_make("memcached://host") == errc::unknown_backend);
}

TEST_CASE("make_backend builds a configured memory backend from a URL", "[registry]") {
  corocache::test::run_coroutine([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto cache =
        corocache::make_backend<std::string>("memory://?max_size=2&clean_interval=30s", ex);
    auto* memory = dynamic_cast<corocache::MemoryCacheBackend<std::string>*>(cache.get());
    REQUIRE(memory != nullptr);
    co_await cache->initialize();
    co_await cache->set("a", "1");
    co_await cache->set("b", "2");
    co_await cache->set("c", "3");
    CHECK(memory->size() == 2);
    auto off = corocache::make_backend<std::string>("null://", ex);
    co_await off->initialize();
    co_await off->set("a", "1");
    CHECK_FALSE(co_await off->get("a"));
  });
}

TEST_CASE("bad memory and null URLs are invalid arguments with clear messages", "[registry]") {
  CHECK(error_of_make("memory://?max_size=lots") == errc::invalid_argument);
  CHECK(error_of_make("memory://?max_size=0") == errc::invalid_argument);
  CHECK(error_of_make("memory://?clean_interval=30") == errc::invalid_argument);
  CHECK(message_of_make("memory://?max_sise=10").find("max_sise") != std::string::npos);
  CHECK(error_of_make("memory://somehost") == errc::invalid_argument);
  CHECK(error_of_make("memory://?eviction=random") == errc::invalid_argument);
  CHECK(error_of_make("memory://?eviction=s3fifo") == errc{});
  CHECK(error_of_make("null://?x=1") == errc::invalid_argument);
  CHECK(error_of_make("no-scheme") == errc::invalid_argument);
}

TEST_CASE("user backends plug in and a taken name is refused", "[registry]") {
  corocache::register_backend<std::string>(
      "tiny", [](const corocache::backend_url& url, const asio::any_io_executor&) {
        corocache::url_parameters(url).reject_unknown();
        return std::make_unique<corocache::MemoryCacheBackend<std::string>>(1);
      });
  asio::io_context io;
  CHECK(corocache::make_backend<std::string>("tiny://", io.get_executor()) != nullptr);
  try {
    corocache::register_backend<std::string>(
        "tiny", [](const corocache::backend_url&, const asio::any_io_executor&) {
          return std::make_unique<corocache::NullCacheBackend<std::string>>();
        });
    FAIL("a taken name was registered again");
  } catch (const corocache::cache_error& e) {
    CHECK(e.error() == errc::duplicate_backend);
  }
  CHECK(corocache::unregister_backend<std::string>("tiny"));
  CHECK_FALSE(corocache::unregister_backend<std::string>("tiny"));
  CHECK(error_of_make("tiny://") == errc::unknown_backend);
}

TEST_CASE("each value type has its own registry", "[registry]") {
  corocache::register_backend<int>("ints-only",
                                   [](const corocache::backend_url&, const asio::any_io_executor&) {
                                     return std::make_unique<corocache::NullCacheBackend<int>>();
                                   });
  const auto string_names = corocache::registered_backends<std::string>();
  CHECK(std::find(string_names.begin(), string_names.end(), "ints-only") == string_names.end());
  corocache::backend_registry<int>::instance().reset();
  const auto int_names = corocache::registered_backends<int>();
  CHECK(std::find(int_names.begin(), int_names.end(), "ints-only") == int_names.end());
  CHECK(std::find(int_names.begin(), int_names.end(), "memory") != int_names.end());
}

TEST_CASE("a name no URL can reach is refused when registered", "[registry]") {
  const auto factory = [](const corocache::backend_url&, const asio::any_io_executor&) {
    return std::make_unique<corocache::NullCacheBackend<std::string>>();
  };
  for (const char* name : {"MyCache", "my_cache", "", "1cache", "+cache", "my cache", "caché"}) {
    INFO("name \"" << name << "\"");
    try {
      corocache::register_backend<std::string>(name, factory);
      FAIL("registered");
    } catch (const corocache::cache_error& e) {
      CHECK(e.error() == errc::invalid_argument);
      CHECK(std::string(e.what()).find("URL scheme") != std::string::npos);
    }
    CHECK(!corocache::unregister_backend<std::string>(name));
  }
  for (const char* name : {"my-cache", "my.cache2", "l2+memory"}) {
    corocache::register_backend<std::string>(name, factory);
    asio::io_context io;
    CHECK(corocache::make_backend<std::string>(std::string(name) + "://", io.get_executor()) !=
          nullptr);
    CHECK(corocache::unregister_backend<std::string>(name));
  }
}

TEST_CASE("memory URLs: a huge clean_interval works and the shard count is bounded", "[registry]") {
  corocache::test::run_coroutine([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto cache = corocache::make_backend<std::string>("memory://?clean_interval=100000000h", ex);
    co_await cache->initialize();
    co_await cache->set("k", "v", std::chrono::seconds(1));
    CHECK(co_await cache->get("k") == "v");
  });
  CHECK(error_of_make("memory://?max_size=1000000&shards=1000000") == errc::invalid_argument);
  CHECK(message_of_make("memory://?max_size=1000000&shards=1000000").find("at most 1024") !=
        std::string::npos);
  CHECK(error_of_make("memory://?max_size=1000000&shards=1024") == errc{});
}
