// redis_connection_fsm: the connection's logic without I/O (see redis_connection_fsm.hpp).
#include "corocache/detail/redis_connection_fsm.hpp"

#include <algorithm>
#include <utility>

namespace corocache::detail {
namespace {

// Deadlines are counted in ticks of one periodic timer rather than by reading the clock for every
// command, which costs more than the rest of the bookkeeping. The period is an eighth of the
// shortest timeout, between 1 and 100 ms.
std::chrono::milliseconds period_for(const redis_fsm_config& c) {
  auto shortest = std::chrono::milliseconds::max();
  for (const auto timeout : {c.command_timeout, c.connect_timeout, c.health_check_interval}) {
    if (timeout.count() > 0) shortest = std::min(shortest, timeout);
  }
  if (shortest == std::chrono::milliseconds::max()) return std::chrono::milliseconds(100);
  return std::clamp(shortest / 8, std::chrono::milliseconds(1), std::chrono::milliseconds(100));
}

// Submitted between ticks t and t+1, an operation has waited more than (n-1) periods at tick
// t+n: it times out at the first tick where that is at least `timeout`, never earlier, and at
// most two periods after it.
std::uint64_t ticks_for(std::chrono::milliseconds timeout, std::chrono::milliseconds period) {
  if (timeout.count() <= 0) return 0;
  return static_cast<std::uint64_t>((timeout + period - std::chrono::milliseconds(1)) / period) + 1;
}

std::string milliseconds(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + "ms";
}

}  // namespace

redis_connection_fsm::redis_connection_fsm(redis_fsm_config config)
    : config_(std::move(config)),
      tick_period_(period_for(config_)),
      command_ticks_(ticks_for(config_.command_timeout, tick_period_)),
      connect_ticks_(ticks_for(config_.connect_timeout, tick_period_)),
      health_ticks_(ticks_for(config_.health_check_interval, tick_period_)),
      ping_ticks_(command_ticks_ != 0 ? command_ticks_ : health_ticks_),
      backoff_(config_.reconnect_min, config_.reconnect_max, config_.seed) {
  if (config_.handshake.empty()) config_.handshake.push_back(redis_command{"PING"});
}

// ----- callers

void redis_connection_fsm::connect(std::unique_ptr<pending_op> waiter) {
  switch (state_) {
    case state::ready:
      return finish(std::move(waiter), nullptr);
    case state::closed:
      pipeline_.count_error(errc::shut_down);
      return finish(std::move(waiter),
                    make_cache_error(errc::shut_down, config_.where + ": connection closed"));
    case state::connecting:
    case state::handshaking:
      if (config_.start_offline) return finish(std::move(waiter), nullptr);
      connect_waiters_.push_back(std::move(waiter));
      return;
    case state::idle:
    case state::backoff:
      if (config_.start_offline) {
        finish(std::move(waiter), nullptr);
      } else {
        connect_waiters_.push_back(std::move(waiter));
      }
      begin_attempt();
      return;
  }
}

void redis_connection_fsm::submit(std::unique_ptr<pending_op> op, std::uint64_t id) {
  submitted_.add();
  const auto refuse = [&](errc code, const std::string& message) {
    pipeline_.count_error(code);
    refused_.add();
    finish(std::move(op), make_cache_error(code, message));
  };
  if (state_ == state::closed)
    return refuse(errc::shut_down, config_.where + ": connection closed");
  const auto commands = op->commands();
  if (commands.empty()) {  // an empty batch: nothing to wait for
    refused_.add();
    return finish(std::move(op), nullptr);
  }
  if (std::any_of(commands.begin(), commands.end(),
                  [](const redis_command& c) { return c.empty(); })) {
    return refuse(errc::invalid_argument, config_.where + ": empty command");
  }
  const auto deadline = command_ticks_ != 0 ? tick_ + command_ticks_ : 0;
  switch (state_) {
    case state::ready:
      pipeline_.write(std::move(op), id, deadline, output_);
      ++batch_submitted_;
      last_activity_ = tick_;
      return;
    case state::connecting:
    case state::handshaking:
      // Written once the handshake has succeeded, never before.
      pipeline_.enqueue(std::move(op), id, deadline);
      return;
    default:
      return refuse(errc::connection_error, not_connected_message());
  }
}

void redis_connection_fsm::cancel(std::uint64_t id) {
  pipeline_.cancel(id, config_.where + ": operation cancelled");
}

void redis_connection_fsm::close() {
  if (state_ == state::closed) return;
  drop_transport();
  state_ = state::closed;
  ++attempt_;
  const auto message = config_.where + ": connection closed";
  pipeline_.fail_written(errc::shut_down, message);
  pipeline_.fail_waiting(errc::shut_down, message);
  fail_waiters(errc::shut_down, message);
}

// ----- transport events

bool redis_connection_fsm::current(std::uint64_t attempt) const {
  return attempt == attempt_ &&
         (state_ == state::connecting || state_ == state::handshaking || state_ == state::ready);
}

void redis_connection_fsm::on_opened(std::uint64_t attempt) {
  if (!current(attempt) || state_ != state::connecting) return;
  transport_open_ = true;
  state_ = state::handshaking;
  handshake_left_ = config_.handshake.size();
  for (auto& command : config_.handshake) {
    pipeline_.write_internal(command, redis_pipeline::role::handshake, 0, output_);
  }
  write_urgent_ = true;
}

void redis_connection_fsm::on_opened_ready(std::uint64_t attempt) {
  if (!current(attempt) || state_ != state::connecting) return;
  transport_open_ = true;
  handshake_succeeded();
}

void redis_connection_fsm::on_open_failed(std::uint64_t attempt, const std::string& why) {
  if (!current(attempt) || state_ != state::connecting) return;
  attempt_failed(errc::connection_error, "cannot connect: " + why);
}

void redis_connection_fsm::on_lost(std::uint64_t attempt, const std::string& why) {
  if (!current(attempt)) return;
  if (state_ == state::ready) return connection_down("connection lost: " + why);
  attempt_failed(errc::connection_error, "connection lost during the handshake: " + why);
}

void redis_connection_fsm::on_reply(std::uint64_t attempt, redis_reply&& reply) {
  if (!current(attempt) || state_ == state::connecting) return;
  redis_pipeline::reply_outcome outcome;
  if (!pipeline_.on_reply(std::move(reply), outcome)) {
    return on_lost(attempt, "the server sent a reply to no command");
  }
  last_activity_ = tick_;
  switch (outcome.to) {
    case redis_pipeline::role::caller:
      if (outcome.finished) ++read_completions_;
      return;
    case redis_pipeline::role::ping:
      return;  // any answer, even an error, shows the server is alive
    case redis_pipeline::role::handshake:
      if (outcome.error) {
        handshake_failures_.add();
        // The server's message (e.g. WRONGPASS ...) never contains the password.
        return attempt_failed(errc::connection_error, "handshake rejected: " + reply.str);
      }
      if (--handshake_left_ == 0) handshake_succeeded();
      return;
  }
}

void redis_connection_fsm::on_read_done(std::uint64_t attempt) {
  if (!current(attempt)) return;
  batch_completed_ = std::exchange(read_completions_, 0);
  batch_submitted_ = 0;
  early_write_done_ = false;
}

void redis_connection_fsm::on_written(std::uint64_t attempt) {
  if (attempt != attempt_) return;
  write_in_flight_ = false;
  // What arrived while the write was in flight leaves at once: the write itself batched it.
  if (!output_.empty()) write_urgent_ = true;
}

void redis_connection_fsm::on_flush() {
  flush_requested_ = false;
  if (!output_.empty()) write_urgent_ = true;
}

void redis_connection_fsm::on_backoff_elapsed(std::uint64_t attempt) {
  if (attempt != attempt_ || state_ != state::backoff) return;
  begin_attempt();
}

void redis_connection_fsm::on_tick() {
  ++tick_;
  check_deadlines();
  maybe_health_check();
}

// ----- what the driver does next

std::optional<redis_fsm_action> redis_connection_fsm::next_action() {
  if (next_action_ == actions_.size()) {
    actions_.clear();
    next_action_ = 0;
    return std::nullopt;
  }
  return actions_[next_action_++];
}

bool redis_connection_fsm::transport_open() const {
  return transport_open_ && (state_ == state::handshaking || state_ == state::ready);
}

bool redis_connection_fsm::write_due() const {
  if (output_.empty() || write_in_flight_ || !transport_open()) return false;
  if (write_urgent_) return true;
  // Callers resumed by one read submit their next commands one after another. Writing at the
  // first would make client and server take turns; writing after the last makes the server wait
  // for the whole batch. Half of them leave as soon as they are there (at least 8: below that the
  // split showed no gain), the rest once all are: the server works on the first half while the
  // client still resumes the second.
  static constexpr std::size_t min_early_write = 8;
  if (batch_submitted_ >= batch_completed_) return true;
  return !early_write_done_ && batch_submitted_ >= min_early_write &&
         2 * batch_submitted_ >= batch_completed_;
}

void redis_connection_fsm::take_output(std::string& into) {
  into.clear();
  into.swap(output_);
  write_in_flight_ = true;
  write_urgent_ = false;
  if (batch_submitted_ < batch_completed_) early_write_done_ = true;
}

bool redis_connection_fsm::flush_wanted() {
  if (output_.empty() || write_in_flight_ || flush_requested_ || !transport_open() || write_due())
    return false;
  flush_requested_ = true;
  return true;
}

bool redis_connection_fsm::wants_ticks() const {
  switch (state_) {
    case state::connecting:
    case state::handshaking:
      return connect_ticks_ != 0 || pipeline_.has_deadlines();
    case state::ready:
      return health_ticks_ != 0 || pipeline_.has_deadlines();
    default:
      return false;
  }
}

redis_connection_stats redis_connection_fsm::stats() const {
  redis_connection_stats s;
  const auto& totals = pipeline_.counts();
  s.commands_sent = totals.commands_written.get();
  s.replies = totals.replies.get();
  for (std::size_t i = 0; i < s.errors.size(); ++i) s.errors[i] = totals.errors[i].get();
  s.timeouts = s.errors_with(errc::timeout);
  s.cancellations = s.errors_with(errc::cancelled);
  s.disconnects = disconnects_.get();
  s.reconnects = reconnects_.get();
  s.handshake_failures = handshake_failures_.get();
  s.health_checks = health_checks_.get();
  // Each counter is read on its own: approximate while operations run, exact when idle.
  const auto done = totals.completed.get() + refused_.get();
  const auto submitted = submitted_.get();
  s.in_flight = submitted > done ? submitted - done : 0;
  return s;
}

// ----- internals

void redis_connection_fsm::begin_attempt() {
  ++attempt_;
  state_ = state::connecting;
  attempt_tick_ = tick_;
  transport_open_ = false;
  actions_.push_back({redis_fsm_action::kind::open, attempt_});
}

void redis_connection_fsm::handshake_succeeded() {
  state_ = state::ready;
  if (ever_connected_) reconnects_.add();
  ever_connected_ = true;
  backoff_.reset();
  down_reason_.clear();
  last_activity_ = tick_;
  // What waited for the handshake leaves now, in submission order.
  if (pipeline_.waiting_count() > 0) {
    pipeline_.write_waiting(output_);
    write_urgent_ = true;
  }
  auto waiters = std::exchange(connect_waiters_, {});
  for (auto& waiter : waiters) finish(std::move(waiter), nullptr);
}

void redis_connection_fsm::attempt_failed(errc code, const std::string& why) {
  drop_transport();
  const auto message = config_.where + ": connect failed: " + why;
  pipeline_.fail_written(errc::connection_error, message);  // the handshake commands
  pipeline_.fail_waiting(errc::connection_error, message);  // never sent
  fail_waiters(code, config_.where + ": " + why);
  down_reason_ = why;
  if (ever_connected_ || config_.start_offline) return go_backoff();
  ++attempt_;  // a first connect that failed: later events of this attempt are stale
  state_ = state::idle;
}

void redis_connection_fsm::connection_down(const std::string& why) {
  disconnects_.add();
  drop_transport();
  pipeline_.fail_written(errc::connection_error, config_.where + ": " + why);
  pipeline_.fail_waiting(errc::connection_error, config_.where + ": " + why);
  down_reason_ = why;
  go_backoff();
}

void redis_connection_fsm::go_backoff() {
  const auto delay = backoff_.next();
  if (delay.count() == 0) return begin_attempt();
  ++attempt_;
  state_ = state::backoff;
  actions_.push_back({redis_fsm_action::kind::wait_backoff, attempt_, delay});
}

void redis_connection_fsm::drop_transport() {
  if (state_ == state::connecting || state_ == state::handshaking || state_ == state::ready ||
      transport_open_) {
    actions_.push_back({redis_fsm_action::kind::close, attempt_});
  }
  transport_open_ = false;
  output_.clear();
  write_in_flight_ = false;
  write_urgent_ = false;
  flush_requested_ = false;
  batch_completed_ = batch_submitted_ = read_completions_ = 0;
  early_write_done_ = false;
}

void redis_connection_fsm::fail_waiters(errc code, const std::string& message) {
  auto waiters = std::exchange(connect_waiters_, {});
  for (auto& waiter : waiters) {
    pipeline_.count_error(code);
    finish(std::move(waiter), make_cache_error(code, message));
  }
}

void redis_connection_fsm::check_deadlines() {
  switch (state_) {
    case state::connecting:
    case state::handshaking:
      pipeline_.expire_waiting(
          tick_, config_.where + ": no connection within " + milliseconds(config_.command_timeout));
      if (connect_ticks_ != 0 && tick_ >= attempt_tick_ + connect_ticks_) {
        attempt_failed(errc::timeout,
                       "connect timed out after " + milliseconds(config_.connect_timeout));
      }
      return;
    case state::ready:
      // Replies come in order: a late one would be taken for the next command's, so the
      // connection is reset and every command written on it fails.
      if (pipeline_.written_expired(tick_)) {
        const auto why = "no reply within " + milliseconds(config_.command_timeout);
        disconnects_.add();
        drop_transport();
        pipeline_.fail_written_after_timeout(
            tick_, config_.where + ": " + why + "; the connection was reset",
            config_.where + ": connection reset: an earlier command got " + why);
        down_reason_ = why;
        go_backoff();
      }
      return;
    default:
      return;
  }
}

void redis_connection_fsm::maybe_health_check() {
  // Placeholders of cancelled commands do not count: a server that stopped answering them
  // is found by the PING queued behind them.
  if (state_ != state::ready || health_ticks_ == 0 || pipeline_.has_deadlines()) return;
  if (tick_ < last_activity_ + health_ticks_) return;
  redis_command ping{"PING"};
  pipeline_.write_internal(ping, redis_pipeline::role::ping, tick_ + ping_ticks_, output_);
  health_checks_.add();
  last_activity_ = tick_;
  write_urgent_ = true;
}

std::string redis_connection_fsm::not_connected_message() const {
  if (state_ == state::idle && !ever_connected_ && down_reason_.empty()) {
    return config_.where + ": not connected (call connect() first)";
  }
  return config_.where + ": not connected (" +
         (down_reason_.empty() ? "connecting" : down_reason_) + ")";
}

}  // namespace corocache::detail
