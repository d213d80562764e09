// lifecycle: the created / initializing / running / stopped state every backend shares, and the
// callers of initialize() that wait for an initialization already in progress.
//
// CacheBackend<T> owns it through a shared_ptr: an operation created before the backend was
// running holds it, so that when awaited it can tell "running now", "still not initialized" and
// "shut down, or destroyed" apart without touching the backend.
#pragma once

#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/system_executor.hpp>
#include <asio/use_awaitable.hpp>

#include "corocache/detail/caller_completion.hpp"
#include "corocache/error.hpp"

namespace corocache::detail {

class lifecycle {
 public:
  enum state : int { created, initializing, running, stopped };

  [[nodiscard]] int current() const noexcept { return state_.load(std::memory_order_acquire); }
  [[nodiscard]] bool is_running() const noexcept { return current() == running; }

  /// created -> initializing; false (with `seen` set) when the state was another.
  bool begin_initialization(int& seen) noexcept {
    seen = created;
    if (!state_.compare_exchange_strong(seen, initializing, std::memory_order_acq_rel))
      return false;
    std::lock_guard lock(mutex_);
    outcome_ready_ = false;
    return true;
  }

  /// initializing -> running; false when shutdown() came meanwhile (the state stays stopped).
  bool finish_initialization() noexcept {
    int expected = initializing;
    return state_.compare_exchange_strong(expected, running, std::memory_order_acq_rel);
  }

  /// initializing -> created after a failed initialization (stopped stays stopped).
  void abandon_initialization() noexcept {
    int expected = initializing;
    state_.compare_exchange_strong(expected, created, std::memory_order_acq_rel);
  }

  /// -> stopped, for good; the state it had.
  int stop() noexcept { return state_.exchange(stopped, std::memory_order_acq_rel); }

  /// Hands the outcome of the initialization in progress (null: success) to every waiter.
  void publish(std::exception_ptr outcome) {
    std::vector<std::unique_ptr<waiter>> waiters;
    {
      std::lock_guard lock(mutex_);
      outcome_ready_ = true;
      outcome_ = outcome;
      waiters.swap(waiters_);
    }
    for (auto& w : waiters) {
      auto* raw = w.get();
      raw->complete(std::move(w), own_copy(outcome));
    }
  }

  /// Completes with the outcome of the initialization in progress (or the last one).
  [[nodiscard]] asio::awaitable<void> wait_for_initialization() {
    return asio::async_initiate<const asio::use_awaitable_t<>, void(std::exception_ptr)>(
        [this](auto handler) {
          auto w = std::make_unique<waiter_of<decltype(handler)>>(std::move(handler));
          std::unique_lock lock(mutex_);
          if (!outcome_ready_) {
            waiters_.push_back(std::move(w));
            return;
          }
          auto outcome = outcome_;
          lock.unlock();
          auto* raw = w.get();
          raw->complete(std::move(w), own_copy(outcome));
        },
        asio::use_awaitable);
  }

  /// The error an operation named `operation` fails with in the current state, or null.
  [[nodiscard]] std::exception_ptr error_for(const char* operation) const {
    switch (current()) {
      case running:
        return nullptr;
      case stopped:
        return make_error(errc::shut_down, operation, "the backend was shut down");
      default:
        return make_error(errc::not_initialized, operation, "call initialize() first");
    }
  }

  static std::exception_ptr make_error(errc code, const char* operation, const char* why) {
    return std::make_exception_ptr(
        cache_error(code, std::string(operation) + ": " + std::string(why)));
  }

 private:
  struct waiter {
    virtual ~waiter() = default;
    // `self` owns this waiter, which keeps itself until its handler has been posted and run.
    virtual void complete(std::unique_ptr<waiter> self, std::exception_ptr outcome) = 0;
  };

  template <class Handler>
  struct waiter_of final : waiter {
    explicit waiter_of(Handler handler) : completion(std::move(handler), asio::system_executor()) {}
    void complete(std::unique_ptr<waiter> self, std::exception_ptr outcome) override {
      this->outcome = std::move(outcome);
      std::unique_ptr<waiter_of> owned(static_cast<waiter_of*>(self.release()));
      post_completion<&waiter_of::completion>(std::move(owned), [](waiter_of& w) {
        return std::make_tuple(std::move(w.outcome));
      });
    }
    caller_completion<Handler> completion;
    std::exception_ptr outcome;
  };

  // Each waiter gets an exception object of its own when the failure is a cache_error: waiters
  // resume on different threads, and a shared exception's reference count is invisible to TSan.
  static std::exception_ptr own_copy(const std::exception_ptr& outcome) {
    if (!outcome) return nullptr;
    try {
      std::rethrow_exception(outcome);
    } catch (const cache_error& e) {
      // what() ends with ": " and the code's message, which the copy's constructor adds again.
      std::string message = e.what();
      const auto suffix = ": " + e.code().message();
      if (message.ends_with(suffix)) message.resize(message.size() - suffix.size());
      return std::make_exception_ptr(cache_error(e.error(), message));
    } catch (...) {
      return outcome;
    }
  }

  std::atomic<int> state_{created};
  std::mutex mutex_;
  bool outcome_ready_ = false;
  std::exception_ptr outcome_;
  std::vector<std::unique_ptr<waiter>> waiters_;
};

/// Starts `start()` (an awaitable) when awaited if the backend is running by then; fails with the
/// lifecycle's error otherwise, then with `argument_error` if set. Holds the lifecycle, never the
/// backend, until it is running.
template <class R, class Start>
asio::awaitable<R> start_when_running(std::shared_ptr<lifecycle> life, const char* operation,
                                      std::exception_ptr argument_error, Start start) {
  if (auto error = life->error_for(operation)) std::rethrow_exception(error);
  if (argument_error) std::rethrow_exception(argument_error);
  co_return co_await start();
}

}  // namespace corocache::detail
