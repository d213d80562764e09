// NullCacheBackend<T>: a backend that stores nothing, to turn caching off without touching call
// sites. get -> empty; set, erase, clear, set_many -> true; exists -> false; invalidate_pattern
// and erase_many -> 0; get_many -> all empty; incr/decr -> `initial`, unchanged.
// erase returning true is the one departure from the contract ("true if a live key was
// removed"): nothing was stored, but callers that check erase's result go on as after a removal.
#pragma once

#include "corocache/cache_backend.hpp"

namespace corocache {

/// A backend that stores nothing: every get is a miss (see the top of this header).
template <class T>
class NullCacheBackend final : public CacheBackend<T> {
 protected:
  asio::awaitable<void> do_initialize() override { co_return; }
  asio::awaitable<void> do_shutdown() override { co_return; }
  asio::awaitable<std::optional<T>> do_get(std::string) override { co_return std::nullopt; }
  asio::awaitable<bool> do_set(std::string, T, optional_ttl) override { co_return true; }
  asio::awaitable<bool> do_erase(std::string) override { co_return true; }
  asio::awaitable<bool> do_exists(std::string) override { co_return false; }
  asio::awaitable<std::size_t> do_invalidate_pattern(std::string) override { co_return 0; }
  asio::awaitable<bool> do_clear() override { co_return true; }
  asio::awaitable<std::vector<std::optional<T>>> do_get_many(
      std::vector<std::string> keys) override {
    co_return std::vector<std::optional<T>>(keys.size());
  }
  asio::awaitable<bool> do_set_many(std::vector<std::pair<std::string, T>>, optional_ttl) override {
    co_return true;
  }
  asio::awaitable<std::size_t> do_erase_many(std::vector<std::string>) override { co_return 0; }
  asio::awaitable<std::int64_t> do_incr(std::string, std::int64_t, std::int64_t initial,
                                        optional_ttl) override {
    co_return initial;
  }
};

}  // namespace corocache
