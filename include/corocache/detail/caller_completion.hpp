// caller_completion: a caller's completion handler, completed later on the caller's executor.
//
// Holds the handler and work on its associated executor (so that the caller's execution context
// stays alive meanwhile), and completes it through asio::post: never inline, so the code that
// completes it (a connection's strand, a lifecycle change) never runs the caller's code.
#pragma once

#include <type_traits>
#include <utility>

#include <asio/any_io_executor.hpp>
#include <asio/associated_executor.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>

namespace corocache::detail {

/// The caller's handler plus work on its executor; post() hands it to a function there.
template <class Handler>
class caller_completion {
 public:
  caller_completion(Handler handler, const asio::any_io_executor& fallback)
      : caller_completion(std::move(handler), fallback, 0) {}

  /// Posts `function(std::move(handler))` to the caller's executor. The work guard travels with
  /// it and is released by the caller's thread: this thread must not touch the caller's execution
  /// context once the function is queued there, since the caller may destroy it right after.
  template <class Function>
  void post(Function&& function) noexcept {
    const auto executor = asio::prefer(work_, asio::execution::outstanding_work.untracked);
    asio::post(executor, [handler = std::move(handler_), work = std::move(work_),
                          function = std::forward<Function>(function)]() mutable {
      function(std::move(handler));
    });
  }

 private:
  // `handler` is read for its executor before it is moved from.
  caller_completion(Handler&& handler, const asio::any_io_executor& fallback, int)
      : work_(asio::prefer(asio::get_associated_executor(handler, fallback),
                           asio::execution::outstanding_work.tracked)),
        handler_(std::move(handler)) {}

  std::decay_t<decltype(asio::prefer(
      std::declval<asio::associated_executor_t<Handler, asio::any_io_executor>>(),
      asio::execution::outstanding_work.tracked))>
      work_;
  Handler handler_;
};

}  // namespace corocache::detail
