// pending_op: what the Redis connection's state machine knows of an operation it must complete.
//
// The machine (redis_connection_fsm.hpp) owns every operation it accepts and completes each one
// exactly once: with its replies, or with an error. It never sees a handler or an executor: the
// asio side (redis_operation.hpp) implements complete() by posting to the caller's executor, and
// the simulation test implements it by recording what happened. No asio in this header.
#pragma once

#include <exception>
#include <memory>
#include <span>

#include "corocache/detail/redis_command.hpp"
#include "corocache/detail/redis_reply.hpp"

namespace corocache::detail {

class pending_op {
 public:
  pending_op() = default;
  pending_op(const pending_op&) = delete;
  pending_op& operator=(const pending_op&) = delete;
  virtual ~pending_op() = default;

  /// The commands to send, in order; empty for a connect() waiter or an empty batch.
  [[nodiscard]] virtual std::span<redis_command> commands() = 0;
  /// Called once the commands are in the output buffer: their bytes are no longer needed.
  virtual void drop_commands() = 0;
  /// One reply to one of the commands, in order; the operation may keep it.
  virtual void on_reply(redis_reply&& reply) = 0;
  /// The operation is over: with the replies kept by on_reply() when `error` is null, with
  /// `error` otherwise. Called exactly once (through finish()), on the connection's strand; must
  /// not run the caller's code here (post it). `error` is the caller's own exception object.
  /// `self` owns this object: the operation keeps it as long as it needs (the asio side posts it
  /// to the caller's executor, so that completing costs no allocation) or lets it go.
  virtual void complete(std::unique_ptr<pending_op> self, std::exception_ptr error) noexcept = 0;
};

/// Completes `op`, handing it over to itself.
inline void finish(std::unique_ptr<pending_op> op, std::exception_ptr error) noexcept {
  auto* raw = op.get();
  raw->complete(std::move(op), std::move(error));
}

}  // namespace corocache::detail
