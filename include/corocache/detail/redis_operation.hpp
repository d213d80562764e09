// The asio side of a Redis operation: the caller's handler, completed on the caller's executor.
// In a header (not in src/) so that RedisCacheBackend can hand the connection a command together
// with the code that turns its reply into the result: a GET then needs no coroutine of its own
// between the caller and the connection.
//
// The connection's state machine (redis_connection_fsm.hpp) calls complete() on its strand; the
// caller's code, the decoding of the reply included, then runs on the caller's own executor,
// through asio::post: never on the strand, so callers on N threads run at once and none of them
// delays the connection.
#pragma once

#include <exception>
#include <memory>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include <asio/any_io_executor.hpp>

#include "corocache/detail/caller_completion.hpp"
#include "corocache/detail/pending_op.hpp"
#include "corocache/detail/redis_command.hpp"
#include "corocache/detail/redis_reply.hpp"

namespace corocache::detail {

/// One command whose reply `decode` turns into the caller's result. `decode`
/// (`Result(redis_reply&&)`, may throw) runs on the caller's executor just before the caller
/// resumes; what it throws is what the caller gets.
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
  void on_reply(redis_reply&& reply) override { reply_ = std::move(reply); }
  void complete(std::unique_ptr<pending_op> self, std::exception_ptr error) noexcept override {
    error_ = std::move(error);
    std::unique_ptr<command_op> owned(static_cast<command_op*>(self.release()));
    // Decoding runs on the caller's executor, just before the caller resumes.
    post_completion<&command_op::completion_>(std::move(owned), [](command_op& op) {
      auto error = std::move(op.error_);
      result_type result{};
      if (!error) {
        try {
          result = op.decode_(std::move(op.reply_));
        } catch (...) {
          error = std::current_exception();
        }
      }
      // A decoder that counts its outcomes (tallied_read) hears of every failure.
      if constexpr (requires { op.decode_.failed(error); }) {
        if (error) op.decode_.failed(error);
      }
      return std::make_tuple(std::move(error), std::move(result));
    });
  }

 private:
  caller_completion<Handler> completion_;
  redis_command command_;
  Decode decode_;
  redis_reply reply_;
  std::exception_ptr error_;
};

/// Commands sent back to back; the caller gets all their replies, in order.
template <class Handler>
class batch_op final : public pending_op {
 public:
  batch_op(Handler handler, const asio::any_io_executor& fallback,
           std::vector<redis_command>&& commands)
      : completion_(std::move(handler), fallback), commands_(std::move(commands)) {
    replies_.reserve(commands_.size());
  }

  std::span<redis_command> commands() override { return commands_; }
  void drop_commands() override { std::vector<redis_command>().swap(commands_); }
  void on_reply(redis_reply&& reply) override { replies_.push_back(std::move(reply)); }
  void complete(std::unique_ptr<pending_op> self, std::exception_ptr error) noexcept override {
    if (error) replies_.clear();
    error_ = std::move(error);
    std::unique_ptr<batch_op> owned(static_cast<batch_op*>(self.release()));
    post_completion<&batch_op::completion_>(std::move(owned), [](batch_op& op) {
      return std::make_tuple(std::move(op.error_), std::move(op.replies_));
    });
  }

 private:
  caller_completion<Handler> completion_;
  std::vector<redis_command> commands_;
  std::vector<redis_reply> replies_;
  std::exception_ptr error_;
};

/// A plain completion: connect(), close().
template <class Handler>
class waiter_op final : public pending_op {
 public:
  waiter_op(Handler handler, const asio::any_io_executor& fallback)
      : completion_(std::move(handler), fallback) {}

  std::span<redis_command> commands() override { return {}; }
  void drop_commands() override {}
  void on_reply(redis_reply&&) override {}
  void complete(std::unique_ptr<pending_op> self, std::exception_ptr error) noexcept override {
    error_ = std::move(error);
    std::unique_ptr<waiter_op> owned(static_cast<waiter_op*>(self.release()));
    post_completion<&waiter_op::completion_>(
        std::move(owned), [](waiter_op& op) { return std::make_tuple(std::move(op.error_)); });
  }

 private:
  caller_completion<Handler> completion_;
  std::exception_ptr error_;
};

}  // namespace corocache::detail
