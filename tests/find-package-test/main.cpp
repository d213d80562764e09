// Builds and runs against the installed package: a backend from a URL, a value round trip.
#include <corocache/corocache.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <cstdio>
#include <exception>

int main() {
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
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
  std::puts(status == 0 ? "consumer: ok" : "consumer: wrong value");
  return status;
}
