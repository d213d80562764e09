// Single-flight for get_or_set: concurrent callers of one key share one load.
//
// A load_flight is one load in progress and the callers waiting for its outcome. Each waiter is
// an asio operation: it completes on its own executor (never on the loading thread), keeps its
// executor's work alive while it waits, and completes alone with errc::cancelled when its
// cancellation slot fires, leaving the load and the other waiters untouched.
// A flight_table maps each key to its flight while the load runs, and never holds more than its
// limit of keys: a caller that finds it full loads on its own.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>

#include "corocache/error.hpp"
#include "corocache/stats.hpp"

namespace corocache::detail {

template <class T>
class load_flight : public std::enable_shared_from_this<load_flight<T>> {
 public:
  using signature = void(std::exception_ptr, std::optional<T>);

  explicit load_flight(std::string key) : key_(std::move(key)) {}

  /// Completes with the load's value or its exception; with errc::cancelled when the waiter's
  /// cancellation slot fires first.
  template <class Token>
  [[nodiscard]] auto async_wait(Token&& token) {
    return asio::async_initiate<Token, signature>(
        [self = this->shared_from_this()](auto handler) { self->add_waiter(std::move(handler)); },
        token);
  }

  /// Hands the outcome to every waiter still waiting; later waiters get it at once.
  void complete(std::exception_ptr error, std::optional<T> value) {
    std::map<std::uint64_t, std::unique_ptr<waiter_base>> waiters;
    {
      std::lock_guard lock(mutex_);
      finished_ = true;
      error_ = error;
      value_ = std::move(value);
      waiters.swap(waiters_);
    }
    for (auto& [id, waiter] : waiters) waiter->finish(error_, value_);
  }

  [[nodiscard]] std::size_t waiting() const {
    std::lock_guard lock(mutex_);
    return waiters_.size();
  }

 private:
  struct waiter_base {
    virtual ~waiter_base() = default;
    virtual void finish(std::exception_ptr error, std::optional<T> value) = 0;
  };

  template <class Handler>
  struct waiter final : waiter_base {
    explicit waiter(Handler h) : work(asio::get_associated_executor(h)), handler(std::move(h)) {}

    // The handler runs on its own executor, never on the thread that finished the load.
    void finish(std::exception_ptr error, std::optional<T> value) override {
      auto executor = work.get_executor();
      asio::post(executor, [h = std::move(handler), error, v = std::move(value)]() mutable {
        std::move(h)(error, std::move(v));
      });
      work.reset();
    }

    asio::executor_work_guard<asio::associated_executor_t<Handler>> work;
    Handler handler;
  };

  // Installed in the waiter's cancellation slot. It holds the flight weakly: a load that never
  // ends must not keep its waiters' coroutines alive through a cycle.
  struct cancel_waiter {
    std::weak_ptr<load_flight> flight;
    std::uint64_t id;

    void operator()(asio::cancellation_type type) const {
      if ((type & (asio::cancellation_type::terminal | asio::cancellation_type::partial |
                   asio::cancellation_type::total)) == asio::cancellation_type::none)
        return;
      if (auto self = flight.lock()) self->cancel(id);
    }
  };

  template <class Handler>
  void add_waiter(Handler handler) {
    auto slot = asio::get_associated_cancellation_slot(handler);
    std::unique_lock lock(mutex_);
    if (finished_) {
      auto error = error_;
      auto value = value_;
      lock.unlock();
      waiter<Handler>(std::move(handler)).finish(error, std::move(value));
      return;
    }
    const auto id = next_id_++;
    waiters_.emplace(id, std::make_unique<waiter<Handler>>(std::move(handler)));
    // Left installed after completion: a late signal then finds no waiter and does nothing.
    if (slot.is_connected()) slot.template emplace<cancel_waiter>(this->weak_from_this(), id);
  }

  void cancel(std::uint64_t id) {
    std::unique_ptr<waiter_base> cancelled;
    {
      std::lock_guard lock(mutex_);
      auto it = waiters_.find(id);
      if (it == waiters_.end()) return;  // already completed
      cancelled = std::move(it->second);
      waiters_.erase(it);
    }
    cancelled->finish(std::make_exception_ptr(cache_error(
                          errc::cancelled, "get_or_set " + printable_key(key_) +
                                               ": cancelled while waiting (the load goes on)")),
                      std::nullopt);
  }

  const std::string key_;
  mutable std::mutex mutex_;
  bool finished_ = false;
  std::exception_ptr error_;
  std::optional<T> value_;
  std::map<std::uint64_t, std::unique_ptr<waiter_base>> waiters_;
  std::uint64_t next_id_ = 0;
};

template <class T>
class flight_table {
 public:
  /// Enough for any realistic number of distinct cold keys loading at once; each entry is a key
  /// and a small shared state.
  static constexpr std::size_t default_limit = 10000;

  struct joined {
    std::shared_ptr<load_flight<T>> flight;  ///< null when the table is full
    bool leader = false;                     ///< true: the caller must start the load
  };

  explicit flight_table(std::size_t limit = default_limit) : limit_(limit) {}

  /// The flight loading `key`: the one in progress, or a new one the caller must start.
  [[nodiscard]] joined join(const std::string& key) {
    std::lock_guard lock(mutex_);
    if (auto it = flights_.find(key); it != flights_.end()) return {it->second, false};
    if (flights_.size() >= limit_) return {};
    auto flight = std::make_shared<load_flight<T>>(key);
    flights_.emplace(key, flight);
    return {std::move(flight), true};
  }

  /// Forgets `flight` once its load has ended, so the next miss loads again.
  void leave(const std::string& key, const std::shared_ptr<load_flight<T>>& flight) {
    std::lock_guard lock(mutex_);
    if (auto it = flights_.find(key); it != flights_.end() && it->second == flight)
      flights_.erase(it);
  }

  [[nodiscard]] std::size_t size() const {
    std::lock_guard lock(mutex_);
    return flights_.size();
  }

  /// Counts one event; only misses, loads and refreshes count, never a hit.
  void count(std::uint64_t load_counters::*field) {
    std::lock_guard lock(mutex_);
    ++(counters_.*field);
  }

  [[nodiscard]] load_counters counters() const {
    std::lock_guard lock(mutex_);
    return counters_;
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<load_flight<T>>> flights_;
  std::size_t limit_;
  load_counters counters_;
};

}  // namespace corocache::detail
