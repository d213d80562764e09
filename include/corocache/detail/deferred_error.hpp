// Awaitables decided before any I/O. One that fails when awaited, so argument errors found before a
// coroutine starts still reach the caller the asio way: through co_await or the completion handler
// of co_spawn.
#pragma once

#include <exception>

#include <asio/awaitable.hpp>

namespace corocache::detail {

template <class R>
asio::awaitable<R> rethrow_when_awaited(std::exception_ptr error) {
  std::rethrow_exception(error);
  co_return R{};
}

template <>
inline asio::awaitable<void> rethrow_when_awaited<void>(std::exception_ptr error) {
  std::rethrow_exception(error);
  co_return;
}

/// An awaitable that completes with `value` (for an operation with nothing to send).
template <class R>
asio::awaitable<R> value_when_awaited(R value) {
  co_return value;
}

}  // namespace corocache::detail
