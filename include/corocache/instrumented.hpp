// instrumented<T>: a CacheBackend<T> that wraps another one and counts what it does: hits,
// misses, sets and failures by errc (stats()), and, when given an operation_observer (the
// Prometheus adapter is one), the outcome and duration of every operation.
//
// Counting is opt-in, and costs little where it matters:
// - Reads (get, get_many) of a backend that counts them itself (CacheBackend::own_read_counts():
//   the memory backend counts them where it looks keys up, the Redis backend where it decodes
//   replies) pass straight through, without an observer: instrumented adds no coroutine frame
//   to them and takes the backend's counts (from the moment it was wrapped).
// - Every other operation, and every operation when an observer listens (it needs each one's
//   duration), runs in one coroutine frame of instrumented's with a few relaxed atomic
//   increments. docs/benchmarks.md has the measurements.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "corocache/cache_backend.hpp"
#include "corocache/connection_stats.hpp"
#include "corocache/error.hpp"
#include "corocache/fail_open.hpp"
#include "corocache/memory_backend.hpp"
#include "corocache/stats.hpp"

namespace corocache {

/// The operations an observer hears about (decr is reported as incr).
enum class operation {
  get,
  set,
  erase,
  exists,
  invalidate_pattern,
  clear,
  get_many,
  set_many,
  erase_many,
  incr,
};
inline constexpr std::size_t operation_count = 10;

/// How an operation ended: a get hit or missed; any other operation that returned is ok.
enum class outcome { hit, miss, ok, error };
inline constexpr std::size_t outcome_count = 4;

[[nodiscard]] constexpr std::string_view name_of(operation op) noexcept {
  constexpr std::array<std::string_view, operation_count> names{
      "get",   "set",      "erase",    "exists",     "invalidate_pattern",
      "clear", "get_many", "set_many", "erase_many", "incr"};
  return names[static_cast<std::size_t>(op)];
}

[[nodiscard]] constexpr std::string_view name_of(outcome o) noexcept {
  constexpr std::array<std::string_view, outcome_count> names{"hit", "miss", "ok", "error"};
  return names[static_cast<std::size_t>(o)];
}

/// Hears about every operation of an instrumented backend, on the operation's thread.
class operation_observer {
 public:
  virtual ~operation_observer() = default;
  /// `error` is set when `result` is outcome::error. Must not throw.
  virtual void observe(operation op, outcome result, std::optional<errc> error,
                       std::chrono::nanoseconds duration) noexcept = 0;
};

/// A CacheBackend<T> over another one that counts and reports every operation (see above).
template <class T>
class instrumented final : public CacheBackend<T> {
 public:
  using typename CacheBackend<T>::key_list;
  using typename CacheBackend<T>::item_list;

  /// Wraps `inner` (initialized and shut down with it) under the name `backend` ("memory",
  /// "redis", ...), reporting to `observer` when one is given.
  instrumented(std::unique_ptr<CacheBackend<T>> inner, std::string backend,
               std::shared_ptr<operation_observer> observer = nullptr)
      : inner_(std::move(inner)), name_(std::move(backend)), observer_(std::move(observer)) {
    if (!inner_) detail::throw_error(errc::invalid_argument, "instrumented: no backend to wrap");
    // What the backend counted before it was wrapped is not this decorator's.
    if (!observer_) reads_before_ = CacheBackend<T>::read_counts_of(*inner_);
    if (reads_before_) this->pass_reads_to(*inner_);
  }

  /// The wrapped backend.
  [[nodiscard]] CacheBackend<T>& inner() noexcept { return *inner_; }

  /// Everything counted so far, in the one shape every backend shares.
  [[nodiscard]] cache_stats stats() const {
    cache_stats out;
    out.backend = name_;
    out.hits = hits_.load(std::memory_order_relaxed);
    out.misses = misses_.load(std::memory_order_relaxed);
    out.sets = sets_.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < errc_slots; ++i)
      out.errors[i] = errors_[i].load(std::memory_order_relaxed);
    if (reads_before_) {
      const auto reads = CacheBackend<T>::read_counts_of(*inner_).value_or(read_counts{});
      out.hits += reads.hits - reads_before_->hits;
      out.misses += reads.misses - reads_before_->misses;
      for (std::size_t i = 0; i < errc_slots; ++i)
        out.errors[i] += reads.errors[i] - reads_before_->errors[i];
    }
    if (const auto* open = dynamic_cast<const fail_open<T>*>(inner_.get())) {
      const auto absorbed = open->failures();
      for (std::size_t i = 0; i < errc_slots && i < absorbed.size(); ++i)
        out.errors[i] += absorbed[i];
    }
    if (const auto* memory = dynamic_cast<const MemoryCacheBackend<T>*>(backend_below())) {
      const auto counted = memory->stats();
      out.evictions = counted.evictions;
      out.expirations = counted.expirations;
    }
    if (const auto* source = dynamic_cast<const connection_stats_source*>(backend_below()))
      out.connection = source->connection_stats();
    out.loads = this->load_stats();
    return out;
  }

 protected:
  asio::awaitable<void> do_initialize() override { co_await inner_->initialize(); }
  asio::awaitable<void> do_shutdown() override { co_await inner_->shutdown(); }

  asio::awaitable<std::optional<T>> do_get(std::string key) override {
    if (reads_before_) return inner_->get(std::move(key));  // the backend counts it
    return counted_get(std::move(key));
  }

  bool do_get_now(const std::string& key, std::optional<T>& value) override {
    return reads_before_ && this->running() && CacheBackend<T>::get_now_of(*inner_, key, value);
  }

  asio::awaitable<std::vector<std::optional<T>>> do_get_many(key_list keys) override {
    if (reads_before_) return inner_->get_many(std::move(keys));  // the backend counts them
    return counted_get_many(std::move(keys));
  }

  asio::awaitable<bool> do_set(std::string key, T value, optional_ttl ttl) override {
    sets_.fetch_add(1, std::memory_order_relaxed);
    auto op = inner_->set(std::move(key), std::move(value), ttl);
    co_return co_await timed(std::move(op), operation::set);
  }
  asio::awaitable<bool> do_erase(std::string key) override {
    auto op = inner_->erase(std::move(key));
    co_return co_await timed(std::move(op), operation::erase);
  }
  asio::awaitable<bool> do_exists(std::string key) override {
    auto op = inner_->exists(std::move(key));
    co_return co_await timed(std::move(op), operation::exists);
  }
  asio::awaitable<std::size_t> do_invalidate_pattern(std::string pattern) override {
    auto op = inner_->invalidate_pattern(std::move(pattern));
    co_return co_await timed(std::move(op), operation::invalidate_pattern);
  }
  asio::awaitable<bool> do_clear() override {
    auto op = inner_->clear();
    co_return co_await timed(std::move(op), operation::clear);
  }
  asio::awaitable<bool> do_set_many(item_list items, optional_ttl ttl) override {
    sets_.fetch_add(items.size(), std::memory_order_relaxed);
    auto op = inner_->set_many(std::move(items), ttl);
    co_return co_await timed(std::move(op), operation::set_many);
  }
  asio::awaitable<std::size_t> do_erase_many(key_list keys) override {
    auto op = inner_->erase_many(std::move(keys));
    co_return co_await timed(std::move(op), operation::erase_many);
  }
  asio::awaitable<std::int64_t> do_incr(std::string key, std::int64_t delta, std::int64_t initial,
                                        optional_ttl ttl) override {
    auto op = inner_->incr(std::move(key), delta, initial, ttl);
    co_return co_await timed(std::move(op), operation::incr);
  }

  // The stampede lock is get_or_set's business, counted in load_stats(), not an operation.
  asio::awaitable<bool> do_try_acquire_lock(std::string key, std::string token,
                                            std::chrono::milliseconds ttl) override {
    return inner_->try_acquire_lock(std::move(key), std::move(token), ttl);
  }
  asio::awaitable<bool> do_release_lock(std::string key, std::string token) override {
    return inner_->release_lock(std::move(key), std::move(token));
  }

 private:
  using clock = std::chrono::steady_clock;

  // The clock is read only when someone listens.
  clock::time_point started() const { return observer_ ? clock::now() : clock::time_point{}; }

  void finished(operation op, outcome result, clock::time_point start) const {
    if (observer_) observer_->observe(op, result, std::nullopt, clock::now() - start);
  }

  void failed(operation op, errc code, clock::time_point start) {
    errors_[errc_slot(code)].fetch_add(1, std::memory_order_relaxed);
    if (observer_) observer_->observe(op, outcome::error, code, clock::now() - start);
  }

  template <class R>
  asio::awaitable<R> timed(asio::awaitable<R> op, operation which) {
    const auto start = started();
    try {
      auto result = co_await std::move(op);
      finished(which, outcome::ok, start);
      co_return result;
    } catch (const cache_error& e) {
      failed(which, e.error(), start);
      throw;
    }
  }

  // Reads of a backend that does not count them, or timed for the observer.
  asio::awaitable<std::optional<T>> counted_get(std::string key) {
    const auto start = started();
    try {
      auto value = co_await inner_->get(std::move(key));
      (value ? hits_ : misses_).fetch_add(1, std::memory_order_relaxed);
      finished(operation::get, value ? outcome::hit : outcome::miss, start);
      co_return value;
    } catch (const cache_error& e) {
      failed(operation::get, e.error(), start);
      throw;
    }
  }

  asio::awaitable<std::vector<std::optional<T>>> counted_get_many(key_list keys) {
    auto op = inner_->get_many(std::move(keys));
    auto values = co_await timed(std::move(op), operation::get_many);
    for (const auto& value : values)
      (value ? hits_ : misses_).fetch_add(1, std::memory_order_relaxed);
    co_return values;
  }

  // The backend under this one, looking through a fail_open.
  const CacheBackend<T>* backend_below() const {
    if (auto* open = dynamic_cast<fail_open<T>*>(inner_.get())) return &open->inner();
    return inner_.get();
  }

  std::unique_ptr<CacheBackend<T>> inner_;
  std::string name_;
  std::shared_ptr<operation_observer> observer_;
  // Set when reads pass straight through: the backend's own counts when it was wrapped.
  std::optional<read_counts> reads_before_;
  std::atomic<std::uint64_t> hits_{0};
  std::atomic<std::uint64_t> misses_{0};
  std::atomic<std::uint64_t> sets_{0};
  std::array<std::atomic<std::uint64_t>, errc_slots> errors_{};
};

}  // namespace corocache
