// redis_connection_fsm: the whole logic of one Redis connection, as a state machine that does no
// I/O. The driver (src/redis_connection.cpp) feeds it events — a caller's request, the transport
// opened or lost, a reply, a write done, a timer tick — and performs what it asks for: open or
// close the transport, write the output buffer, wait before reconnecting. The unit tests and the
// simulation test (tests/test_redis_fsm*.cpp) drive it the same way, without a socket.
//
// Lifecycle:
//
//   idle --connect()--> connecting --opened--> handshaking --last handshake reply OK--> ready
//     ^                   |  ^                    |                                     |
//     |   first attempt   |  |  backoff elapsed   | refused / lost / connect timeout    | lost /
//     +---- failed -------+  +---- backoff <------+-------------------------------------+ timeout
//   close() from any state --> closed (final)
//
// Guarantees (checked at every step by the simulation test):
// - Nothing but the handshake (AUTH, SELECT, or PING) is written to a transport before its
//   handshake has succeeded; operations submitted meanwhile wait, unwritten, and fail without ever
//   being sent if it fails. Nothing is written after close().
// - Every operation completes exactly once; a reply only reaches the operation it answers.
// - While no connection is up and none is being attempted (backoff, or a first connect that
//   failed), operations fail at once with errc::connection_error: they are never queued for a
//   server that may be gone for long.
// - Time is counted in ticks of the driver's timer (tick_period()). An operation fails with
//   errc::timeout once `command_timeout` has passed since it was submitted, never earlier and at
//   most two tick periods later. A written command that times out resets the connection (a late
//   reply must never reach another operation): the other commands written on it fail with
//   errc::connection_error. A cancelled command never resets it.
// - An idle ready connection sends a PING every `health_check_interval`; no reply within the
//   command timeout resets it like any other command.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "corocache/detail/pending_op.hpp"
#include "corocache/detail/reconnect_backoff.hpp"
#include "corocache/detail/redis_command.hpp"
#include "corocache/detail/redis_pipeline.hpp"
#include "corocache/redis_connection_stats.hpp"

namespace corocache::detail {

struct redis_fsm_config {
  std::string where = "redis";  ///< "redis host:port": how messages name the server
  /// Sent first on every connection (AUTH, SELECT; a PING when there is nothing else to send).
  std::vector<redis_command> handshake;
  std::chrono::milliseconds connect_timeout{1000};  ///< opening + handshake; <= 0: none
  std::chrono::milliseconds command_timeout{1000};  ///< per operation; <= 0: none
  std::chrono::milliseconds reconnect_min{50};
  std::chrono::milliseconds reconnect_max{2000};
  std::chrono::milliseconds health_check_interval{5000};  ///< <= 0: no health checks
  /// connect() succeeds at once and the connection keeps trying in the background.
  bool start_offline = false;
  std::uint64_t seed = 1;  ///< for the backoff's jitter
};

/// Something the driver must do.
struct redis_fsm_action {
  enum class kind {
    open,          ///< open a transport for `attempt` and report on_opened / on_open_failed
    close,         ///< close the current transport (later events of its attempt are ignored)
    wait_backoff,  ///< call on_backoff_elapsed(attempt) after `delay`
  };
  kind what = kind::open;
  std::uint64_t attempt = 0;
  std::chrono::milliseconds delay{0};
};

class redis_connection_fsm {
 public:
  enum class state { idle, connecting, handshaking, ready, backoff, closed };

  explicit redis_connection_fsm(redis_fsm_config config);

  // ----- events

  /// A connect() call; `waiter` completes once connected (or at once, see start_offline).
  void connect(std::unique_ptr<pending_op> waiter);
  /// A caller's operation; `id` identifies it for cancel().
  void submit(std::unique_ptr<pending_op> op, std::uint64_t id);
  /// The caller of operation `id` cancelled it; nothing happens if it already completed.
  void cancel(std::uint64_t id);
  /// Closes for good: everything pending fails with errc::shut_down.
  void close();

  void on_opened(std::uint64_t attempt);
  /// As on_opened, for a transport on which the handshake already ran (Sentinel discovery sends
  /// it before ROLE): the connection is ready at once and nothing is sent again.
  void on_opened_ready(std::uint64_t attempt);
  void on_open_failed(std::uint64_t attempt, const std::string& why);
  void on_lost(std::uint64_t attempt, const std::string& why);
  void on_reply(std::uint64_t attempt, redis_reply&& reply);
  /// Every reply of one read has been handed to on_reply().
  void on_read_done(std::uint64_t attempt);
  /// The bytes taken with take_output() are written.
  void on_written(std::uint64_t attempt);
  /// The deferred flush asked for by flush_wanted() runs.
  void on_flush();
  void on_backoff_elapsed(std::uint64_t attempt);
  void on_tick();

  // ----- what the driver does next

  /// The next action to perform, oldest first.
  [[nodiscard]] std::optional<redis_fsm_action> next_action();
  /// True when the output buffer should be written now; then take_output() and write it.
  [[nodiscard]] bool write_due() const;
  /// Moves the output buffer into `into` (cleared first) and marks a write as in flight.
  void take_output(std::string& into);
  /// True (once) when output waits for a later flush: the driver then posts on_flush() behind
  /// the work already queued, so that callers resumed together leave in one write.
  [[nodiscard]] bool flush_wanted();
  /// True while the tick timer must run.
  [[nodiscard]] bool wants_ticks() const;
  [[nodiscard]] std::chrono::milliseconds tick_period() const { return tick_period_; }

  // ----- introspection

  [[nodiscard]] state current_state() const { return state_; }
  [[nodiscard]] std::uint64_t attempt() const { return attempt_; }
  [[nodiscard]] std::uint64_t tick() const { return tick_; }
  /// Ticks after which an operation submitted at tick t times out (at tick t + this).
  [[nodiscard]] std::uint64_t command_ticks() const { return command_ticks_; }
  [[nodiscard]] std::uint64_t connect_ticks() const { return connect_ticks_; }
  [[nodiscard]] redis_connection_stats stats() const;
  [[nodiscard]] const redis_pipeline& pipeline() const { return pipeline_; }

 private:
  void begin_attempt();
  void handshake_succeeded();
  void attempt_failed(errc code, const std::string& why);
  void connection_down(const std::string& why);
  void go_backoff();
  void drop_transport();
  void fail_waiters(errc code, const std::string& message);
  void check_deadlines();
  void maybe_health_check();
  [[nodiscard]] bool current(std::uint64_t attempt) const;
  [[nodiscard]] bool transport_open() const;
  [[nodiscard]] std::string not_connected_message() const;

  redis_fsm_config config_;
  std::chrono::milliseconds tick_period_;
  std::uint64_t command_ticks_;  // 0: no command timeout
  std::uint64_t connect_ticks_;  // 0: no connect timeout
  std::uint64_t health_ticks_;   // 0: no health checks
  std::uint64_t ping_ticks_;     // deadline of a health-check PING

  state state_ = state::idle;
  std::uint64_t attempt_ = 0;
  std::uint64_t attempt_tick_ = 0;  // when the current attempt began
  std::uint64_t tick_ = 0;
  std::uint64_t last_activity_ = 0;  // tick of the last write or reply
  bool ever_connected_ = false;
  bool transport_open_ = false;
  std::size_t handshake_left_ = 0;
  std::string down_reason_;
  reconnect_backoff backoff_;

  redis_pipeline pipeline_;
  std::vector<std::unique_ptr<pending_op>> connect_waiters_;
  std::vector<redis_fsm_action> actions_;
  std::size_t next_action_ = 0;

  // Output and the write policy (see write_due()).
  std::string output_;
  bool write_in_flight_ = false;
  bool write_urgent_ = false;  // handshake, health check, or what waited for the handshake
  bool flush_requested_ = false;
  std::size_t batch_completed_ = 0;  // callers completed by the last read
  std::size_t batch_submitted_ = 0;  // operations written since then
  std::size_t read_completions_ = 0;
  bool early_write_done_ = false;

  relaxed_counter submitted_;
  relaxed_counter refused_;  // completed without entering the pipeline
  relaxed_counter disconnects_;
  relaxed_counter reconnects_;
  relaxed_counter handshake_failures_;
  relaxed_counter health_checks_;
};

}  // namespace corocache::detail
