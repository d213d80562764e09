// Runs a coroutine to completion for a test: rethrows what it throws and fails loudly when it
// does not finish in time, so a hung operation never hangs the test suite.
#pragma once

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

namespace corocache::test {

inline constexpr std::chrono::seconds default_test_timeout{30};

namespace detail {
template <class Make>
auto start(Make& make, asio::io_context& io) {
  if constexpr (std::is_invocable_v<Make&, asio::any_io_executor>) {
    return make(asio::any_io_executor(io.get_executor()));
  } else {
    return make();
  }
}
}  // namespace detail

/// Runs `make()` or `make(executor)`, a callable returning asio::awaitable<R>, on a fresh
/// io_context and returns its R; throws std::runtime_error when it does not finish in time.
template <class Make>
auto run_coroutine(Make make, std::chrono::milliseconds timeout = default_test_timeout) {
  asio::io_context io;
  auto awaitable = detail::start(make, io);
  using result_type = typename decltype(awaitable)::value_type;
  using stored_type = std::conditional_t<std::is_void_v<result_type>, bool, result_type>;
  std::exception_ptr error;
  bool done = false;
  std::optional<stored_type> result;
  asio::co_spawn(io, std::move(awaitable), [&](std::exception_ptr e, auto... value) {
    error = e;
    done = true;
    io.stop();  // background work a backend left (timers, sockets) must not keep the test alive
    if constexpr (sizeof...(value) == 1) {
      if (!e) result.emplace(std::move(value)...);
    }
  });
  io.run_for(timeout);
  if (!done) throw std::runtime_error("coroutine did not finish within the test timeout");
  if (error) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<result_type>) return std::move(*result);
}

}  // namespace corocache::test
