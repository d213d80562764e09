// redis_pipeline: operations from submission to completion (see redis_pipeline.hpp).
#include "corocache/detail/redis_pipeline.hpp"

#include <algorithm>
#include <utility>

namespace corocache::detail {

std::exception_ptr make_cache_error(errc code, const std::string& message) {
  return std::make_exception_ptr(cache_error(code, message));
}

void redis_pipeline::enqueue(std::unique_ptr<pending_op> op, std::uint64_t id,
                             std::uint64_t deadline) {
  waiting_.push_back(entry{std::move(op), id, deadline});
}

void redis_pipeline::write_waiting(std::string& out) {
  while (!waiting_.empty()) {
    write_entry(std::move(waiting_.front()), out);
    waiting_.pop_front();
  }
}

void redis_pipeline::write(std::unique_ptr<pending_op> op, std::uint64_t id, std::uint64_t deadline,
                           std::string& out) {
  write_entry(entry{std::move(op), id, deadline}, out);
}

void redis_pipeline::write_internal(redis_command& command, role kind, std::uint64_t deadline,
                                    std::string& out) {
  out.append(command.resp());
  totals_.commands_written.add();
  written_.push_back(entry{nullptr, 0, deadline, 1, kind});
}

void redis_pipeline::write_entry(entry&& e, std::string& out) {
  auto commands = e.op->commands();
  for (auto& command : commands) out.append(command.resp());
  e.replies_due = static_cast<std::uint32_t>(commands.size());
  totals_.commands_written.add(commands.size());
  e.op->drop_commands();
  written_.push_back(std::move(e));
}

bool redis_pipeline::on_reply(redis_reply&& reply, reply_outcome& outcome) {
  if (written_.empty()) return false;
  totals_.replies.add();
  auto& e = written_.front();
  --e.replies_due;
  outcome = {e.kind, reply.type == redis_reply::kind::error, e.replies_due == 0};
  if (e.op) e.op->on_reply(std::move(reply));
  if (!outcome.finished) return true;
  auto op = std::move(e.op);
  written_.pop_front();
  if (op) {
    totals_.completed.add();
    finish(std::move(op), nullptr);
  }
  return true;
}

bool redis_pipeline::cancel(std::uint64_t id, const std::string& message) {
  const auto matches = [id](const entry& e) { return e.op && e.id == id; };
  if (auto it = std::find_if(waiting_.begin(), waiting_.end(), matches); it != waiting_.end()) {
    auto op = std::move(it->op);
    waiting_.erase(it);
    count_error(errc::cancelled);
    totals_.completed.add();
    finish(std::move(op), make_cache_error(errc::cancelled, message));
    return true;
  }
  if (auto it = std::find_if(written_.begin(), written_.end(), matches); it != written_.end()) {
    // The entry stays as a placeholder that swallows the replies; it has no deadline any more, so
    // a cancelled command never resets the connection.
    auto op = std::move(it->op);
    it->deadline = 0;
    count_error(errc::cancelled);
    totals_.completed.add();
    finish(std::move(op), make_cache_error(errc::cancelled, message));
    return true;
  }
  return false;
}

void redis_pipeline::fail(entry& e, errc code, const std::string& message) {
  if (auto op = std::move(e.op)) {
    count_error(code);
    totals_.completed.add();
    finish(std::move(op), make_cache_error(code, message));
  }
}

void redis_pipeline::count_error(errc code) {
  totals_.errors[static_cast<std::size_t>(code)].add();
}

void redis_pipeline::fail_written(errc code, const std::string& message) {
  auto written = std::exchange(written_, {});
  for (auto& e : written) fail(e, code, message);
}

void redis_pipeline::fail_written_after_timeout(std::uint64_t tick,
                                                const std::string& timeout_message,
                                                const std::string& reset_message) {
  auto written = std::exchange(written_, {});
  for (auto& e : written) {
    if (e.deadline != 0 && e.deadline <= tick) {
      fail(e, errc::timeout, timeout_message);
    } else {
      fail(e, errc::connection_error, reset_message);
    }
  }
}

void redis_pipeline::fail_waiting(errc code, const std::string& message) {
  auto waiting = std::exchange(waiting_, {});
  for (auto& e : waiting) fail(e, code, message);
}

void redis_pipeline::expire_waiting(std::uint64_t tick, const std::string& message) {
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (it->deadline != 0 && it->deadline <= tick) {
      auto e = std::move(*it);
      it = waiting_.erase(it);
      fail(e, errc::timeout, message);
    } else {
      ++it;
    }
  }
}

bool redis_pipeline::written_expired(std::uint64_t tick) const {
  return std::any_of(written_.begin(), written_.end(),
                     [tick](const entry& e) { return e.deadline != 0 && e.deadline <= tick; });
}

bool redis_pipeline::has_deadlines() const {
  const auto timed = [](const entry& e) { return e.deadline != 0; };
  return std::any_of(written_.begin(), written_.end(), timed) ||
         std::any_of(waiting_.begin(), waiting_.end(), timed);
}

std::size_t redis_pipeline::pending_callers() const {
  const auto live = [](const entry& e) { return e.op != nullptr; };
  return static_cast<std::size_t>(std::count_if(waiting_.begin(), waiting_.end(), live) +
                                  std::count_if(written_.begin(), written_.end(), live));
}

}  // namespace corocache::detail
