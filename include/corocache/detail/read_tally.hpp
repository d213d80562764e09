// read_tally: a networked backend's count of its reads (get, get_many), kept where it decodes
// replies, so that instrumented<T> needs no coroutine frame of its own to count them.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "corocache/error.hpp"
#include "corocache/stats.hpp"

namespace corocache::detail {

class read_tally {
 public:
  template <class T>
  void count(const std::optional<T>& value) noexcept {
    (value ? hits_ : misses_).fetch_add(1, std::memory_order_relaxed);
  }

  template <class T>
  void count(const std::vector<std::optional<T>>& values) noexcept {
    std::uint64_t found = 0;
    for (const auto& value : values) found += value ? 1 : 0;
    if (found != 0) hits_.fetch_add(found, std::memory_order_relaxed);
    if (found != values.size()) misses_.fetch_add(values.size() - found, std::memory_order_relaxed);
  }

  /// Counts a read that failed with `error` (only cache_error carries an errc to count).
  void count_failure(const std::exception_ptr& error) noexcept {
    try {
      std::rethrow_exception(error);
    } catch (const cache_error& e) {
      errors_[errc_slot(e.error())].fetch_add(1, std::memory_order_relaxed);
    } catch (...) {
    }
  }

  [[nodiscard]] read_counts counts() const noexcept {
    read_counts out;
    out.hits = hits_.load(std::memory_order_relaxed);
    out.misses = misses_.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < errc_slots; ++i)
      out.errors[i] = errors_[i].load(std::memory_order_relaxed);
    return out;
  }

 private:
  std::atomic<std::uint64_t> hits_{0};
  std::atomic<std::uint64_t> misses_{0};
  std::array<std::atomic<std::uint64_t>, errc_slots> errors_{};
};

/// A reply decoder whose results and failures are counted in a read_tally. The operation holds
/// the tally (shared), so counting stays safe when the operation outlives its backend.
/// failed() is called by the operation for every failure, its own or the decoder's.
template <class Decode>
class tallied_read {
 public:
  tallied_read(Decode decode, std::shared_ptr<read_tally> tally)
      : decode_(std::move(decode)), tally_(std::move(tally)) {}

  template <class Reply>
  auto operator()(Reply&& reply) {
    auto result = decode_(std::forward<Reply>(reply));
    tally_->count(result);
    return result;
  }

  void failed(const std::exception_ptr& error) noexcept { tally_->count_failure(error); }

 private:
  Decode decode_;
  std::shared_ptr<read_tally> tally_;
};

/// `op`, its result or failure counted in `tally`: for reads made of several commands.
template <class R>
asio::awaitable<R> tallied(asio::awaitable<R> op, std::shared_ptr<read_tally> tally) {
  try {
    auto result = co_await std::move(op);
    tally->count(result);
    co_return result;
  } catch (...) {
    tally->count_failure(std::current_exception());
    throw;
  }
}

}  // namespace corocache::detail
