// A user's program, built by each consumer project (find_package, add_subdirectory,
// FetchContent): a backend from a URL, a value round trip, and checks that the library brought
// nothing into this program's build beyond asio and its own definitions.
#include <corocache/corocache.hpp>
#include <corocache/version.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <cstdio>
#include <exception>
#include <string>

// What reaches a consumer's compile line.
#if defined(ASIO_NO_DEPRECATED)
#error "corocache changed the meaning of the consumer's asio code (ASIO_NO_DEPRECATED)"
#endif
#if !defined(ASIO_DISABLE_STD_ALIGNED_ALLOC)
#error "ASIO_DISABLE_STD_ALIGNED_ALLOC must reach every program that links corocache"
#endif
#if __has_include(<hiredis.h>)
#error "hiredis's include directory reached the consumer"
#endif
#if defined(FMT_SHARED) || defined(FMT_HEADER_ONLY)
#error "fmt's compile definitions reached the consumer"
#endif

int main() {
  if (std::string(COROCACHE_VERSION_STRING) != CONSUMER_EXPECTED_VERSION) {
    std::printf("consumer: version %s, expected %s\n", COROCACHE_VERSION_STRING,
                CONSUMER_EXPECTED_VERSION);
    return 1;
  }
  asio::io_context io;
  int status = 1;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto cache =
            corocache::make_backend<std::string>("memory://?max_size=10", io.get_executor());
        co_await cache->initialize();
        co_await cache->set("greeting", "hello");
        const auto value = co_await cache->get("greeting");
        status = value == "hello" ? 0 : 1;
        co_await cache->shutdown();
#if COROCACHE_WITH_REDIS
        // Links the Redis backend; constructing it does not connect.
        auto redis =
            corocache::make_backend<std::string>("redis://127.0.0.1:1/0", io.get_executor());
        if (!redis) status = 1;
#endif
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
  std::printf("consumer: corocache %s (Redis %s): %s\n", COROCACHE_VERSION_STRING,
              COROCACHE_WITH_REDIS ? "yes" : "no", status == 0 ? "ok" : "wrong value");
  return status;
}
