// redis_pipeline: the operations of one Redis connection, from submission to completion. No I/O.
//
// Redis answers in order, so the operations whose commands were written form a FIFO and each
// reply belongs to the oldest command still waiting for one. An operation that completes before
// its replies arrive (cancelled, or failed by the owner) leaves a placeholder in the FIFO that
// swallows those replies, so that they can never reach another operation.
//
// Operations submitted while the connection is not ready wait, unwritten, in a queue of their own
// until it is (or until their deadline, or the owner fails them).
//
// Time is counted in ticks of the owner's timer (see redis_connection_fsm.hpp); each entry may
// carry a deadline, the tick at which it times out (0: none).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <string>

#include "corocache/detail/pending_op.hpp"
#include "corocache/error.hpp"

namespace corocache::detail {

/// A counter with one writer thread and readers anywhere: a plain load and store, no locked
/// instruction on the writer's path.
class relaxed_counter {
 public:
  void add(std::uint64_t n = 1) noexcept {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t get() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class redis_pipeline {
 public:
  /// Who the replies of an entry are for.
  enum class role : std::uint8_t {
    caller,     ///< a caller's operation
    handshake,  ///< AUTH, SELECT or PING of the connection's handshake
    ping,       ///< an idle connection's health check
  };

  /// What took a reply: the owner reacts to handshake and health-check replies.
  struct reply_outcome {
    role to = role::caller;
    bool error = false;     ///< the reply was an error reply
    bool finished = false;  ///< it was the entry's last reply
  };

  /// Counters the owner reports as statistics: written on the connection's strand only, read
  /// from any thread.
  struct totals {
    relaxed_counter commands_written;
    relaxed_counter replies;
    relaxed_counter completed;  ///< callers' operations completed by the pipeline
    std::array<relaxed_counter, static_cast<std::size_t>(errc::cancelled) + 1> errors;
  };

  /// Queues `op` (not written yet); it keeps `id` for cancel().
  void enqueue(std::unique_ptr<pending_op> op, std::uint64_t id, std::uint64_t deadline);

  /// Writes every waiting operation's commands to `out`, oldest first.
  void write_waiting(std::string& out);

  /// Writes `op` directly (the connection is ready).
  void write(std::unique_ptr<pending_op> op, std::uint64_t id, std::uint64_t deadline,
             std::string& out);

  /// Writes an internal command (handshake, health check) directly.
  void write_internal(redis_command& command, role kind, std::uint64_t deadline, std::string& out);

  /// Hands the next reply to the entry it answers. False when no entry waits for a reply (the
  /// server sent more replies than commands: the owner must drop the connection).
  bool on_reply(redis_reply&& reply, reply_outcome& outcome);

  /// Completes operation `id` with errc::cancelled if it is still pending. A written one leaves
  /// a placeholder for its replies. False when no such operation is pending.
  bool cancel(std::uint64_t id, const std::string& message);

  /// Fails every written entry (callers get `code`) and forgets them all, placeholders too: for a
  /// connection that is gone. Waiting operations stay.
  void fail_written(errc code, const std::string& message);
  /// The same for a connection reset because a command timed out: the entries whose deadline is
  /// `tick` or earlier fail with errc::timeout, the others with errc::connection_error.
  void fail_written_after_timeout(std::uint64_t tick, const std::string& timeout_message,
                                  const std::string& reset_message);
  /// Fails every waiting (unwritten) operation with `code`.
  void fail_waiting(errc code, const std::string& message);

  /// Fails the waiting operations whose deadline is `tick` or earlier with errc::timeout.
  void expire_waiting(std::uint64_t tick, const std::string& message);

  /// True when a written entry's deadline is `tick` or earlier.
  [[nodiscard]] bool written_expired(std::uint64_t tick) const;

  /// True when some entry has a deadline (the owner's timer must run).
  [[nodiscard]] bool has_deadlines() const;
  [[nodiscard]] bool empty() const { return written_.empty() && waiting_.empty(); }
  [[nodiscard]] std::size_t waiting_count() const { return waiting_.size(); }
  [[nodiscard]] std::size_t written_count() const { return written_.size(); }
  /// Callers' operations not yet completed, written or not.
  [[nodiscard]] std::size_t pending_callers() const;
  [[nodiscard]] const totals& counts() const { return totals_; }
  /// Counts a failure the owner reports itself (a connect() waiter, an operation refused).
  void count_error(errc code);

 private:
  struct entry {
    std::unique_ptr<pending_op> op;  // null once completed (replies still due) or internal
    std::uint64_t id = 0;
    std::uint64_t deadline = 0;  // tick at which it times out; 0: none
    std::uint32_t replies_due = 0;
    role kind = role::caller;
  };

  void write_entry(entry&& e, std::string& out);
  void fail(entry& e, errc code, const std::string& message);

  std::deque<entry> waiting_;
  std::deque<entry> written_;
  totals totals_;
};

/// A cache_error of its own for each operation (callers resume on different threads; libstdc++
/// shares one exception object through reference counts ThreadSanitizer cannot see).
[[nodiscard]] std::exception_ptr make_cache_error(errc code, const std::string& message);

}  // namespace corocache::detail
