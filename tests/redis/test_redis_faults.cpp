// redis_connection under faults, each with its own redis-server: no server, a killed server, a
// paused (SIGSTOP) server, and connections closed or destroyed with commands in flight.
#include "corocache/detail/redis_connection.hpp"

#include <map>
#include <string>
#include <vector>

#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>
#include "support/catch.hpp"

#include "redis/redis_test_support.hpp"
#include "support/run_coroutine.hpp"

using namespace corocache;
using namespace corocache::test;
using kind = redis_reply::kind;

namespace {

// Fault tests restart the server and want the connection back quickly.
redis_connection_options options_reconnecting_fast(const redis_server& server) {
  auto options = options_for(server);
  options.reconnect_min = std::chrono::milliseconds(10);
  options.reconnect_max = std::chrono::milliseconds(100);
  return options;
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::use_awaitable);
}

// Issues `n` commands that stay in flight (the server is paused or about to die), waits until
// they are all sent, runs `fault`, then collects how each of them ended.
template <class Fault>
asio::awaitable<std::map<std::optional<errc>, int>> outcomes_of_commands_in_flight(
    redis_connection& connection, std::size_t n, Fault fault) {
  std::map<std::optional<errc>, int> outcomes;
  auto executor = co_await asio::this_coro::executor;
  bool fault_done = false;
  asio::co_spawn(
      executor,
      [&]() -> asio::awaitable<void> {
        co_await sleep_for(std::chrono::milliseconds(200));  // lets every command reach the socket
        co_await fault();
        fault_done = true;
      },
      asio::detached);
  co_await run_concurrently(n, [&](std::size_t i) -> asio::awaitable<void> {
    auto error = co_await error_of(call(connection, "GET", "k" + std::to_string(i)));
    ++outcomes[error];
  });
  while (!fault_done) co_await sleep_for(std::chrono::milliseconds(10));
  co_return outcomes;
}

}  // namespace

TEST_CASE("connecting to an absent server fails with connection_error", "[redis][faults]") {
  std::uint16_t port = 0;
  {
    redis_server server;  // learn a port that nobody listens on once it is gone
    port = server.port();
  }
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    redis_connection_options options;
    options.endpoint.host = "127.0.0.1";
    options.endpoint.port = port;
    options.connect_timeout = std::chrono::milliseconds(500);
    auto connection = redis_connection::create(ex, options);
    try {
      co_await connection->connect();
      FAIL("connect succeeded without a server");
    } catch (const cache_error& e) {
      CHECK(e.error() == errc::connection_error);
      CHECK(std::string(e.what()).find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
    }
    // Not connected: commands fail fast rather than wait.
    CHECK(co_await error_of(call(*connection, "PING")) == errc::connection_error);
  });
}

TEST_CASE("connecting to a server that never answers fails with timeout", "[redis][faults]") {
  redis_server server;
  server.pause();  // the kernel still accepts the TCP connection; PING is never answered
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto options = options_for(server);
    options.connect_timeout = std::chrono::milliseconds(300);
    auto connection = redis_connection::create(ex, options);
    CHECK(co_await error_of(connection->connect()) == errc::timeout);
  });
  server.resume();
}

TEST_CASE("a killed server fails every command in flight, and the connection recovers",
          "[redis][faults]") {
  redis_server server;
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto options = options_reconnecting_fast(server);
    options.command_timeout = std::chrono::seconds(30);  // only the kill may end the commands
    auto connection = redis_connection::create(ex, options);
    co_await connection->connect();
    server.pause();  // keeps the 1000 commands in flight until the kill
    auto outcomes =
        co_await outcomes_of_commands_in_flight(*connection, 1000, [&]() -> asio::awaitable<void> {
          server.kill();
          co_return;
        });
    CHECK(outcomes[errc::connection_error] == 1000);
    // Down: commands fail fast with connection_error.
    CHECK(co_await error_of(call(*connection, "PING")) == errc::connection_error);

    server.restart();
    co_await wait_until_usable(*connection);
    co_await call(*connection, "SET", "after", "restart");
    auto reply = co_await call(*connection, "GET", "after");
    CHECK(reply.str == "restart");
    co_await connection->close();
  });
}

TEST_CASE("a server killed while callers keep the pipeline full fails each caller once",
          "[redis][faults]") {
  // The callers send their next command as soon as a reply arrives, so the connection writes
  // while it is still delivering replies; the kill lands in the middle of that.
  redis_server server;
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto options = options_reconnecting_fast(server);
    auto connection = redis_connection::create(ex, options);
    co_await connection->connect();
    constexpr std::size_t callers = 256;
    std::size_t completed = 0, lost = 0, other_errors = 0;
    bool killed = false;
    asio::co_spawn(
        ex,
        [&]() -> asio::awaitable<void> {
          while (completed < 50'000) co_await sleep_for(std::chrono::milliseconds(5));
          server.kill();
          killed = true;
        },
        asio::detached);
    co_await run_concurrently(callers, [&](std::size_t i) -> asio::awaitable<void> {
      const auto key = "k" + std::to_string(i);
      while (true) {
        auto error = co_await error_of(call(*connection, "INCR", key));
        if (!error) {
          ++completed;
          continue;
        }
        ++(*error == errc::connection_error ? lost : other_errors);
        co_return;
      }
    });
    CHECK(killed);
    CHECK(lost == callers);
    CHECK(other_errors == 0);

    server.restart();
    co_await wait_until_usable(*connection);
    auto reply = co_await call(*connection, "INCR", "after");
    CHECK(reply.integer == 1);
    co_await connection->close();
  });
}

TEST_CASE("a paused server makes commands time out, and no late reply is misdelivered",
          "[redis][faults]") {
  redis_server server;
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto options = options_reconnecting_fast(server);
    options.command_timeout = std::chrono::milliseconds(1000);
    options.connect_timeout = std::chrono::milliseconds(1000);
    auto connection = redis_connection::create(ex, options);
    co_await connection->connect();
    constexpr std::size_t n = 500;
    co_await run_concurrently(n, [&](std::size_t i) -> asio::awaitable<void> {
      co_await call(*connection, "SET", "k" + std::to_string(i), "v" + std::to_string(i));
    });

    server.pause();
    std::map<std::optional<errc>, int> outcomes;
    co_await run_concurrently(n, [&](std::size_t i) -> asio::awaitable<void> {
      ++outcomes[co_await error_of(call(*connection, "GET", "k" + std::to_string(i)))];
    });
    CHECK(outcomes[errc::timeout] == static_cast<int>(n));
    server.resume();

    // The server now answers the old commands on a socket that was reset; the new ones must each
    // get their own key's value.
    co_await wait_until_usable(*connection);
    std::size_t matched = 0;
    co_await run_concurrently(n, [&](std::size_t i) -> asio::awaitable<void> {
      auto reply = co_await call(*connection, "GET", "k" + std::to_string(i));
      if (reply.type == kind::string && reply.str == "v" + std::to_string(i)) ++matched;
    });
    CHECK(matched == n);
    co_await connection->close();
  });
}

TEST_CASE("close() with commands in flight fails them with shut_down", "[redis][faults]") {
  redis_server server;
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto options = options_for(server);
    options.command_timeout = std::chrono::seconds(30);
    auto connection = redis_connection::create(ex, options);
    co_await connection->connect();
    server.pause();
    auto outcomes = co_await outcomes_of_commands_in_flight(
        *connection, 300, [&]() -> asio::awaitable<void> { co_await connection->close(); });
    CHECK(outcomes[errc::shut_down] == 300);
    CHECK(co_await error_of(call(*connection, "PING")) == errc::shut_down);
  });
  server.resume();
}

TEST_CASE("destroying the last owner with commands in flight fails them with shut_down",
          "[redis][faults]") {
  redis_server server;
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto options = options_for(server);
    options.command_timeout = std::chrono::seconds(30);
    auto connection = redis_connection::create(ex, options);
    co_await connection->connect();
    server.pause();
    std::map<std::optional<errc>, int> outcomes;
    // Each command is started before the owner goes away: the awaitables keep only the
    // connection's internal state alive.
    co_await run_concurrently(301, [&](std::size_t i) -> asio::awaitable<void> {
      if (i == 300) {
        co_await sleep_for(std::chrono::milliseconds(200));
        connection.reset();
        co_return;
      }
      ++outcomes[co_await error_of(call(*connection, "GET", "k"))];
    });
    CHECK(outcomes[errc::shut_down] == 300);
  });
  server.resume();
}

TEST_CASE("AUTH and SELECT are sent again on reconnect", "[redis][faults]") {
  redis_server::options server_options;
  server_options.config = {"requirepass hunter2"};
  redis_server server(server_options);
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto options = options_for(server);
    options.endpoint.password = "hunter2";
    options.endpoint.db = 5;
    options.reconnect_min = std::chrono::milliseconds(10);
    options.reconnect_max = std::chrono::milliseconds(50);
    auto connection = redis_connection::create(ex, options);
    co_await connection->connect();
    server.kill();
    CHECK(co_await error_of(call(*connection, "PING")) == errc::connection_error);
    server.restart();
    co_await wait_until_usable(*connection);
    auto info = co_await call(*connection, "CLIENT", "INFO");
    CHECK(info.type == kind::string);
    CHECK(info.str.find(" db=5 ") != std::string::npos);
    co_await connection->close();
  });
}

TEST_CASE("a connection that never connected can connect later", "[redis][faults]") {
  redis_server server;
  server.stop();
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto connection = redis_connection::create(ex, options_for(server));
    CHECK(co_await error_of(connection->connect()) == errc::connection_error);
    server.restart();
    co_await connection->connect();
    auto pong = co_await call(*connection, "PING");
    CHECK(pong.str == "PONG");
    co_await connection->close();
  });
}
