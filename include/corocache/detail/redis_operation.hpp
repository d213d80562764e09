// What the Redis connection keeps for each operation in flight, and how it completes the caller.
// In a header (not in src/) so that RedisCacheBackend can hand the connection a command together
// with the code that turns its reply into the result: a GET then needs no coroutine of its own
// between the caller and the connection.
#pragma once

#include <cstdint>
#include <exception>
#include <span>
#include <type_traits>
#include <utility>

#include <asio/any_io_executor.hpp>
#include <asio/associated_executor.hpp>
#include <asio/dispatch.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>

#include "corocache/detail/redis_command.hpp"
#include "corocache/detail/redis_reply.hpp"

namespace corocache::detail {

// Something waiting for hiredis replies: a caller's command or batch, or a handshake command.
class pending_op {
 public:
  virtual ~pending_op() = default;
  /// One reply arrived (in order); returns true when the operation has all its replies. A
  /// caller's operation then keeps its result until deliver_result() (outside of hiredis).
  virtual bool on_reply(const redisReply& reply) = 0;
  /// The operation can no longer succeed: completes the caller through asio::post.
  /// `error` is moved into the caller's completion: the thread that fails the operation must not
  /// keep a reference, since the caller may already be running with the exception elsewhere.
  virtual void on_failure(std::exception_ptr error) = 0;
  /// An empty batch: completes without sending anything.
  virtual void on_nothing_to_send() {}
  /// Completes the caller with the result kept by on_reply(), through asio::dispatch: this runs
  /// after hiredis returned, so a caller on this thread may resume right here.
  virtual void deliver_result(bool /*may_run_inline*/) {}

  /// The commands to send; drop_commands() frees them once hiredis has copied them.
  [[nodiscard]] virtual std::span<redis_command> commands() = 0;
  virtual void drop_commands() = 0;

  std::uint64_t sent_at_tick = unwatched;  // timeout clock tick when sent (see on_timeout_tick)
  static constexpr std::uint64_t unwatched = ~std::uint64_t{0};  // handshake: connect timer
  int callbacks_pending = 0;        // hiredis callbacks still to come for this operation
  bool finished = false;            // completed (successfully or not); replies are ignored now
  bool result_undelivered = false;  // on_reply() kept a result for deliver_result()
};

// The caller's handler plus work on its executor, completed once on that executor.
template <class Handler, class... Result>
class caller_completion {
 public:
  caller_completion(Handler handler, const asio::any_io_executor& connection_executor)
      : caller_completion(std::move(handler), connection_executor,
                          asio::get_associated_executor(handler, connection_executor)) {}

  /// Never runs the handler inline (we may be inside a hiredis callback).
  void post(std::exception_ptr&& error, Result&&... result) {
    complete(false, std::move(error), std::move(result)...);
  }

  /// Runs the handler inline when this thread already runs its executor.
  void complete(bool may_run_inline, std::exception_ptr&& error, Result&&... result) {
    if (may_run_inline && on_connection_executor_) {
      // We run on the connection's strand, i.e. on a thread running the caller's executor: what
      // asio::dispatch would do, without wrapping the handler into a type-erased function.
      auto work = std::move(work_);
      std::move(handler_)(std::move(error), std::move(result)...);
      return;
    }
    // The work guard travels with the handler and is released by the caller's thread after the
    // handler ran: this thread must not touch the caller's execution context once it is queued
    // there, since the caller may destroy it as soon as the handler has run.
    const auto executor = asio::prefer(work_, asio::execution::outstanding_work.untracked);
    auto function = [handler = std::move(handler_), work = std::move(work_),
                     error = std::move(error), ... result = std::move(result)]() mutable {
      std::move(handler)(std::move(error), std::move(result)...);
    };
    if (may_run_inline) {
      asio::dispatch(executor, std::move(function));
    } else {
      asio::post(executor, std::move(function));
    }
  }

 private:
  // `handler` by reference: it is read for `caller_executor` before being moved from.
  template <class Executor>
  caller_completion(Handler&& handler, const asio::any_io_executor& connection_executor,
                    const Executor& caller_executor)
      : handler_(std::move(handler)),
        work_(asio::prefer(caller_executor, asio::execution::outstanding_work.tracked)),
        on_connection_executor_(caller_executor == connection_executor) {}

  Handler handler_;
  std::decay_t<decltype(asio::prefer(
      std::declval<asio::associated_executor_t<Handler, asio::any_io_executor>>(),
      asio::execution::outstanding_work.tracked))>
      work_;
  bool on_connection_executor_;
};

/// One command whose reply `decode` turns into the caller's result. `decode` runs on the
/// connection's strand once hiredis has returned, before the caller resumes; what it throws is
/// what the caller gets.
template <class Handler, class Decode>
class command_op final : public pending_op {
 public:
  using result_type = std::invoke_result_t<Decode&, redis_reply&&>;

  command_op(Handler handler, const asio::any_io_executor& fallback, redis_command&& command,
             Decode&& decode)
      : completion_(std::move(handler), fallback),
        command_(std::move(command)),
        decode_(std::move(decode)) {}
  std::span<redis_command> commands() override { return {&command_, 1}; }
  void drop_commands() override { command_ = redis_command(); }
  bool on_reply(const redisReply& reply) override {
    finished = result_undelivered = true;
    reply_ = copy_reply(&reply);
    return true;
  }
  void on_failure(std::exception_ptr error) override {
    finished = true;
    completion_.post(std::move(error), result_type{});
  }
  void deliver_result(bool may_run_inline) override {
    result_undelivered = false;
    std::exception_ptr error;
    result_type result{};
    try {
      result = decode_(std::move(reply_));
    } catch (...) {
      error = std::current_exception();
    }
    completion_.complete(may_run_inline, std::move(error), std::move(result));
  }

 private:
  caller_completion<Handler, result_type> completion_;
  redis_command command_;
  Decode decode_;
  redis_reply reply_;
};

}  // namespace corocache::detail
