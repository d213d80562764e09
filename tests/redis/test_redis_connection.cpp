// redis_connection against a real redis-server: commands, binary safety, pipelining, batches,
// AUTH/SELECT, unix sockets, lifecycle, and many coroutines on two threads.
#include "corocache/detail/redis_connection.hpp"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include "support/catch.hpp"

#include "redis/redis_test_support.hpp"
#include "support/run_coroutine.hpp"

using namespace corocache;
using namespace corocache::test;
using kind = redis_reply::kind;

namespace {

std::shared_ptr<redis_connection> connection_to(asio::any_io_executor ex,
                                                const redis_connection_options& options) {
  return redis_connection::create(std::move(ex), options);
}

}  // namespace

TEST_CASE("a connection answers PING and round-trips binary keys and values", "[redis]") {
  redis_server server;
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto connection = connection_to(ex, options_for(server));
    co_await connection->connect();
    auto pong = co_await call(*connection, "PING");
    CHECK(pong.type == kind::status);
    CHECK(pong.str == "PONG");

    const std::string key("bin\0key\r\n", 9);
    const std::string value("a\0b\r\nc\r\n\0", 9);
    auto stored = co_await call(*connection, "SET", key, value);
    CHECK(stored.type == kind::status);
    auto fetched = co_await call(*connection, "GET", key);
    CHECK(fetched.type == kind::string);
    CHECK(fetched.str == value);
    auto missing = co_await call(*connection, "GET", "no such key");
    CHECK(missing.type == kind::nil);
    co_await connection->close();
  });
}

TEST_CASE("a 16 MiB value round-trips intact", "[redis]") {
  redis_server server;
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto options = options_for(server);
    options.command_timeout = std::chrono::seconds(20);
    auto connection = connection_to(ex, options);
    co_await connection->connect();
    std::string value(16 * 1024 * 1024, '\0');
    for (std::size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>(i * 131 % 251);
    auto stored = co_await call(*connection, "SET", "big", value);
    CHECK(stored.type == kind::status);
    auto fetched = co_await call(*connection, "GET", "big");
    REQUIRE(fetched.type == kind::string);
    CHECK(fetched.str.size() == value.size());
    CHECK(fetched.str == value);
    co_await connection->close();
  });
}

TEST_CASE("an error reply is returned as kind::error, not thrown", "[redis]") {
  redis_server server;
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto connection = connection_to(ex, options_for(server));
    co_await connection->connect();
    co_await call(*connection, "SET", "text", "abc");
    auto reply = co_await call(*connection, "INCR", "text");
    CHECK(reply.type == kind::error);
    CHECK(reply.str.find("ERR") == 0);
    auto counter = co_await call(*connection, "INCRBY", "n", "41");
    CHECK(counter.type == kind::integer);
    CHECK(counter.integer == 41);
    co_await connection->close();
  });
}

TEST_CASE("many concurrent commands on one connection each get their own reply", "[redis]") {
  redis_server server;
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto connection = connection_to(ex, options_for(server));
    co_await connection->connect();
    constexpr std::size_t n = 5000;
    std::size_t matched = 0;
    co_await run_concurrently(n, [&](std::size_t i) -> asio::awaitable<void> {
      const auto key = "key:" + std::to_string(i);
      const auto value = "value:" + std::to_string(i * 7);
      co_await call(*connection, "SET", key, value);
      auto reply = co_await call(*connection, "GET", key);
      if (reply.type == kind::string && reply.str == value) ++matched;
    });
    CHECK(matched == n);
    co_await connection->close();
  });
}

TEST_CASE("callers that send their next command as each reply arrives keep their own replies",
          "[redis]") {
  // Replies delivered on the connection's thread resume their callers inline, and what those
  // callers send leaves in several writes while the rest of the replies are still being
  // delivered: every caller must still get its own replies, in its own order.
  redis_server server;
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto connection = connection_to(ex, options_for(server));
    co_await connection->connect();
    constexpr std::size_t callers = 256;
    constexpr int rounds = 100;
    std::size_t matched = 0;
    co_await run_concurrently(callers, [&](std::size_t i) -> asio::awaitable<void> {
      const auto key = "counter:" + std::to_string(i);
      for (int round = 1; round <= rounds; ++round) {
        auto counted = co_await call(*connection, "INCRBY", key, std::to_string(i + 1));
        auto fetched = co_await call(*connection, "GET", key);
        const auto expected = static_cast<long long>((i + 1) * static_cast<std::size_t>(round));
        if (counted.integer == expected && fetched.str == std::to_string(expected)) ++matched;
      }
    });
    CHECK(matched == callers * rounds);
    co_await connection->close();
  });
}

TEST_CASE("execute_batch returns the replies of all commands in order", "[redis]") {
  redis_server server;
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto connection = connection_to(ex, options_for(server));
    co_await connection->connect();
    std::vector<redis_command> batch{
        {"SET", "a", "1"},         {"INCR", "a"},     {"GET", "a"},
        {"GET", "missing"},        {"NOSUCHCOMMAND"}, {"RPUSH", "l", "x", "y"},
        {"LRANGE", "l", "0", "-1"}};
    auto replies = co_await connection->execute_batch(std::move(batch));
    REQUIRE(replies.size() == 7);
    CHECK(replies[0].type == kind::status);
    CHECK(replies[1].integer == 2);
    CHECK(replies[2].str == "2");
    CHECK(replies[3].type == kind::nil);
    CHECK(replies[4].type == kind::error);
    CHECK(replies[5].integer == 2);
    REQUIRE(replies[6].type == kind::array);
    REQUIRE(replies[6].elements.size() == 2);
    CHECK(replies[6].elements[0].str == "x");
    CHECK(replies[6].elements[1].str == "y");

    std::vector<redis_command> none;
    auto empty = co_await connection->execute_batch(std::move(none));
    CHECK(empty.empty());

    // Concurrent batches interleave with single commands without mixing replies.
    std::size_t matched = 0;
    co_await run_concurrently(200, [&](std::size_t i) -> asio::awaitable<void> {
      const auto key = "batch:" + std::to_string(i);
      std::vector<redis_command> commands{{"SET", key, std::to_string(i)}, {"GET", key}, {"PING"}};
      auto r = co_await connection->execute_batch(std::move(commands));
      if (r.size() == 3 && r[1].str == std::to_string(i) && r[2].str == "PONG") ++matched;
    });
    CHECK(matched == 200);
    co_await connection->close();
  });
}

TEST_CASE("an ACL user authenticates with AUTH user password", "[redis]") {
  redis_server::options server_options;
  server_options.config = {"user alice on >s3cret-pw ~* &* +@all", "user default off"};
  redis_server server(server_options);
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto options = options_for(server);
    options.endpoint.user = "alice";
    options.endpoint.password = "s3cret-pw";
    auto connection = connection_to(ex, options);
    co_await connection->connect();
    auto who = co_await call(*connection, "ACL", "WHOAMI");
    CHECK(who.str == "alice");
    co_await connection->close();

    options.endpoint.password = "wrong-pw";
    auto rejected = connection_to(ex, options);
    try {
      co_await rejected->connect();
      FAIL("connect with a wrong password succeeded");
    } catch (const cache_error& e) {
      CHECK(e.error() == errc::connection_error);
      const std::string message = e.what();
      CHECK(message.find("wrong-pw") == std::string::npos);
      CHECK(message.find(options.endpoint.description()) != std::string::npos);
    }
  });
}

TEST_CASE("requirepass: AUTH password is sent, and a missing password fails to connect",
          "[redis]") {
  redis_server::options server_options;
  server_options.config = {"requirepass hunter2"};
  redis_server server(server_options);
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto options = options_for(server);
    options.endpoint.password = "hunter2";
    auto connection = connection_to(ex, options);
    co_await connection->connect();
    auto pong = co_await call(*connection, "PING");
    CHECK(pong.str == "PONG");
    co_await connection->close();

    options.endpoint.password.reset();
    auto anonymous = connection_to(ex, options);
    auto error = co_await error_of(anonymous->connect());
    CHECK(error == errc::connection_error);
  });
}

TEST_CASE("a unix socket endpoint works", "[redis]") {
  redis_server::options server_options;
  server_options.unix_socket = true;
  redis_server server(server_options);
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    redis_connection_options options;
    options.endpoint.unix_path = server.unix_path();
    CHECK(options.endpoint.description() == "unix:" + server.unix_path());
    auto connection = connection_to(ex, options);
    co_await connection->connect();
    co_await call(*connection, "SET", "over", "unix");
    auto reply = co_await call(*connection, "GET", "over");
    CHECK(reply.str == "unix");
    co_await connection->close();
  });
}

TEST_CASE("SELECT db is sent when db is not 0", "[redis]") {
  redis_server server;
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto options = options_for(server);
    options.endpoint.db = 3;
    auto in_db3 = connection_to(ex, options);
    co_await in_db3->connect();
    co_await call(*in_db3, "SET", "where", "three");
    auto info = co_await call(*in_db3, "CLIENT", "INFO");
    CHECK(info.str.find(" db=3 ") != std::string::npos);

    options.endpoint.db = 0;
    auto in_db0 = connection_to(ex, options);
    co_await in_db0->connect();
    auto missing = co_await call(*in_db0, "GET", "where");
    CHECK(missing.type == kind::nil);
    auto found = co_await call(*in_db3, "GET", "where");
    CHECK(found.str == "three");
    co_await in_db0->close();
    co_await in_db3->close();
  });
}

TEST_CASE("the endpoint description names host and port or the socket path", "[redis]") {
  corocache::detail::redis_endpoint endpoint;
  endpoint.host = "cache.internal";
  endpoint.port = 6380;
  endpoint.password = "secret";
  CHECK(endpoint.description() == "cache.internal:6380");
  endpoint.host = "::1";
  CHECK(endpoint.description() == "[::1]:6380");
  endpoint.unix_path = "/run/redis.sock";
  CHECK(endpoint.description() == "unix:/run/redis.sock");
}

TEST_CASE("a host name is resolved before connecting", "[redis]") {
  redis_server server;
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto options = options_for(server);
    options.endpoint.host = "localhost";  // may resolve to ::1 first; the server binds 127.0.0.1
    auto connection = connection_to(ex, options);
    co_await connection->connect();
    auto pong = co_await call(*connection, "PING");
    CHECK(pong.str == "PONG");
    co_await connection->close();
  });
}

TEST_CASE("commands before connect() fail with connection_error, after close() with shut_down",
          "[redis]") {
  redis_server server;
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto connection = connection_to(ex, options_for(server));
    CHECK(co_await error_of(call(*connection, "PING")) == errc::connection_error);
    co_await connection->connect();
    co_await connection->connect();  // already connected: completes at once
    CHECK(!(co_await error_of(call(*connection, "PING"))));
    redis_command empty;
    CHECK(co_await error_of(connection->execute(std::move(empty))) == errc::invalid_argument);
    co_await connection->close();
    co_await connection->close();  // idempotent
    connection->close_now();
    CHECK(co_await error_of(call(*connection, "PING")) == errc::shut_down);
    CHECK(co_await error_of(connection->connect()) == errc::shut_down);
  });
}

TEST_CASE("two threads running one io_context share a connection among 10k coroutines",
          "[redis][threads]") {
  redis_server server;
  asio::io_context io(2);
  auto options = options_for(server);
  options.command_timeout = std::chrono::seconds(20);
  auto connection = redis_connection::create(io.get_executor(), options);
  constexpr int n = 10000;
  std::atomic<int> remaining{n}, matched{0}, failed{0};
  std::atomic<bool> connected{false};

  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await connection->connect();
        connected = true;
        for (int i = 0; i < n; ++i) {
          asio::co_spawn(
              io,
              [&, i]() -> asio::awaitable<void> {
                const auto key = "thread-key:" + std::to_string(i);
                const auto value = "value-" + std::to_string(i * 31);
                try {
                  co_await call(*connection, "SET", key, value);
                  auto reply = co_await call(*connection, "GET", key);
                  if (reply.str == value) ++matched;
                } catch (const cache_error&) {
                  ++failed;
                }
                if (--remaining == 0) co_await connection->close();
              },
              asio::detached);
        }
      },
      asio::detached);

  std::atomic<bool> timed_out{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 600 && remaining > 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (remaining > 0) {
      timed_out = true;
      io.stop();
    }
  });
  std::thread second([&] { io.run(); });
  io.run();
  second.join();
  watchdog.join();
  REQUIRE_FALSE(timed_out);
  CHECK(connected);
  CHECK(failed == 0);
  CHECK(matched == n);
}

TEST_CASE("a caller on another io_context resumes on its own executor's thread",
          "[redis][threads]") {
  redis_server server;
  asio::io_context connection_io;
  auto guard = asio::make_work_guard(connection_io);
  std::thread connection_thread([&] { connection_io.run(); });
  auto connection = redis_connection::create(connection_io.get_executor(), options_for(server));

  const auto caller_thread = std::this_thread::get_id();
  std::size_t on_caller_thread = 0, replies = 0;
  run_coroutine([&]() -> asio::awaitable<void> {
    co_await connection->connect();
    if (std::this_thread::get_id() == caller_thread) ++on_caller_thread;
    co_await run_concurrently(100, [&](std::size_t i) -> asio::awaitable<void> {
      auto reply = co_await call(*connection, "ECHO", std::to_string(i));
      if (reply.str == std::to_string(i)) ++replies;
      if (std::this_thread::get_id() == caller_thread) ++on_caller_thread;
    });
    co_await connection->close();
    if (std::this_thread::get_id() == caller_thread) ++on_caller_thread;
  });
  connection.reset();
  guard.reset();
  connection_thread.join();
  CHECK(replies == 100);
  CHECK(on_caller_thread == 102);
}
