// error_of(awaitable): the errc an operation fails with, for tests that expect a failure.
#pragma once

#include <optional>
#include <utility>

#include <asio/awaitable.hpp>

#include "corocache/error.hpp"

namespace corocache::test {

/// The errc `operation` fails with, or nothing when it succeeds.
template <class R>
asio::awaitable<std::optional<errc>> error_of(asio::awaitable<R> operation) {
  try {
    co_await std::move(operation);
  } catch (const cache_error& e) {
    co_return e.error();
  }
  co_return std::nullopt;
}

}  // namespace corocache::test
