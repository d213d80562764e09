// redis_connection: hiredis async context + asio (see redis_connection.hpp for the contract).
//
// Everything below runs on the connection's strand except the initiating functions, which only
// allocate an operation and hand it to the strand. Operations registered with hiredis are owned
// by hiredis's callback list: hiredis calls every callback exactly once (with a reply, or with
// NULL when the context is freed), and the last callback of a finished operation deletes it.
// The caller's handler is completed at most once, always through asio::post to its executor.
#include "corocache/detail/redis_connection.hpp"

#include <algorithm>
#include <csignal>
#include <deque>
#include <exception>
#include <random>
#include <span>
#include <utility>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/dispatch.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>

#include "corocache/detail/redis_asio_adapter.hpp"
#include "corocache/error.hpp"

namespace corocache::detail {

std::string redis_endpoint::description() const {
  if (!unix_path.empty()) return "unix:" + unix_path;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

namespace {

template <class Handler>
class batch_op final : public pending_op {
 public:
  batch_op(Handler handler, const asio::any_io_executor& fallback, std::vector<redis_command> batch)
      : completion_(std::move(handler), fallback),
        commands_(std::move(batch)),
        expected_(commands_.size()) {
    replies_.reserve(expected_);
  }
  std::span<redis_command> commands() override { return commands_; }
  void drop_commands() override { std::vector<redis_command>().swap(commands_); }
  bool on_reply(const redisReply& reply) override {
    replies_.push_back(copy_reply(&reply));
    if (replies_.size() < expected_) return false;
    finished = result_undelivered = true;
    return true;
  }
  void on_failure(std::exception_ptr error) override {
    finished = true;
    completion_.post(std::move(error), std::vector<redis_reply>{});
  }
  void on_nothing_to_send() override {
    finished = true;
    completion_.post(nullptr, std::vector<redis_reply>{});
  }
  void deliver_result(bool may_run_inline) override {
    result_undelivered = false;
    completion_.complete(may_run_inline, nullptr, std::move(replies_));
  }

 private:
  caller_completion<Handler, std::vector<redis_reply>> completion_;
  std::vector<redis_command> commands_;
  std::size_t expected_;
  std::vector<redis_reply> replies_;
};

// A plain completion (connect(), close()).
class waiter {
 public:
  virtual ~waiter() = default;
  virtual void complete(std::exception_ptr error) = 0;
};

template <class Handler>
class waiter_op final : public waiter {
 public:
  waiter_op(Handler handler, const asio::any_io_executor& fallback)
      : completion_(std::move(handler), fallback) {}
  void complete(std::exception_ptr error) override { completion_.post(std::move(error)); }

 private:
  caller_completion<Handler> completion_;
};

std::exception_ptr make_error(errc code, const std::string& message) {
  return std::make_exception_ptr(cache_error(code, message));
}

}  // namespace

class redis_connection_core : public std::enable_shared_from_this<redis_connection_core> {
 public:
  redis_connection_core(asio::any_io_executor executor, redis_connection_options options)
      : executor_(std::move(executor)),
        strand_(asio::make_strand(executor_)),
        options_(std::move(options)),
        where_("redis " + options_.endpoint.description()),
        resolver_(strand_),
        connect_timer_(strand_),
        command_timer_(strand_),
        random_(std::random_device{}()) {}

  redis_connection_core(const redis_connection_core&) = delete;
  redis_connection_core& operator=(const redis_connection_core&) = delete;

  ~redis_connection_core() {
    // Only reached without close() when the execution context is torn down with work pending.
    fail_all(errc::shut_down, where_ + ": connection destroyed");
    fail_waiters(errc::shut_down, where_ + ": connection destroyed");
    for (auto* op : std::exchange(replied_, {})) deliver(op, false);
    if (context_ != nullptr) {
      adapter_->detach();
      redisAsyncFree(std::exchange(context_, nullptr));
    }
  }

  const asio::any_io_executor& executor() const { return executor_; }

  /// From any thread: hands `op` to the strand, which sends it or fails it.
  void start(std::unique_ptr<pending_op> op) {
    // A caller resumed by a reply is still on the strand when it sends its next command.
    if (strand_.running_in_this_thread()) return submit(std::move(op));
    asio::dispatch(strand_, [self = shared_from_this(), op = std::move(op)]() mutable {
      self->submit(std::move(op));
    });
  }

  void start_connect(std::unique_ptr<waiter> w) {
    asio::dispatch(strand_, [self = shared_from_this(), w = std::move(w)]() mutable {
      self->connect_requested(std::move(w));
    });
  }

  void start_close(std::unique_ptr<waiter> w) {
    asio::dispatch(strand_, [self = shared_from_this(), w = std::move(w)]() mutable {
      self->close_internal();
      if (w) w->complete(nullptr);
    });
  }

 private:
  enum class state { idle, resolving, handshaking, ready, waiting_to_reconnect, closed };

  // A handshake command (AUTH, SELECT, PING) of the current connect attempt.
  class handshake_op final : public pending_op {
   public:
    handshake_op(redis_connection_core& core, std::uint64_t attempt, bool last)
        : core_(core), attempt_(attempt), last_(last) {}
    std::span<redis_command> commands() override { return {}; }
    void drop_commands() override {}
    bool on_reply(const redisReply& reply) override {
      finished = true;
      if (reply.type == REDIS_REPLY_ERROR) {
        core_.handshake_failed(attempt_, std::string(reply.str, reply.len));
      } else if (last_) {
        core_.handshake_succeeded(attempt_);
      }
      return true;
    }
    void on_failure(std::exception_ptr) override { finished = true; }

   private:
    redis_connection_core& core_;
    std::uint64_t attempt_;
    bool last_;
  };

  // ----- submitting commands

  void submit(std::unique_ptr<pending_op> op) {
    if (state_ == state::closed) {
      return op->on_failure(make_error(errc::shut_down, where_ + ": connection closed"));
    }
    const auto commands = op->commands();
    if (commands.empty()) return op->on_nothing_to_send();
    if (std::any_of(commands.begin(), commands.end(),
                    [](const redis_command& c) { return c.empty(); })) {
      return op->on_failure(make_error(errc::invalid_argument, where_ + ": empty command"));
    }
    // A context hiredis freed mid-handshake leaves state_ at handshaking until the next address
    // is tried: without a context there is nothing to send on.
    if ((state_ != state::ready && state_ != state::handshaking) || context_ == nullptr) {
      return op->on_failure(make_error(errc::connection_error, not_connected_message()));
    }
    if (!send(*op)) {
      op->on_failure(make_error(
          errc::connection_error,
          where_ + ": cannot send: " + std::string(context_->errstr ? context_->errstr : "")));
      if (op->callbacks_pending > 0)
        op.release();  // hiredis still holds it; its last callback deletes it
      return;
    }
    op->sent_at_tick = tick_;
    in_flight_.push_back(op.release());
    arm_command_timer();
  }

  /// Appends the operation's commands to hiredis's output buffer; false when hiredis refused one.
  bool send(pending_op& op) {
    bool sent = true;
    for (auto& command : op.commands()) {
      if (!append(command, &op)) {
        sent = false;
        break;
      }
    }
    op.drop_commands();
    return sent;
  }

  bool append(redis_command& command, pending_op* op) {
    const auto resp = command.resp();
    if (redisAsyncFormattedCommand(context_, &on_hiredis_reply, op, resp.data(), resp.size()) !=
        REDIS_OK)
      return false;
    ++op->callbacks_pending;
    return true;
  }

  static void on_hiredis_reply(redisAsyncContext* context, void* reply, void* privdata) {
    auto* op = static_cast<pending_op*>(privdata);
    auto* core = static_cast<redis_connection_core*>(context->data);
    if (!op->finished) {
      if (reply != nullptr) {
        if (op->on_reply(*static_cast<const redisReply*>(reply))) {
          core->remove_finished(op);
          if (op->result_undelivered) core->replied_.push_back(op);
        }
      } else {
        // The context is being freed by hiredis (connection lost): everything in flight fails.
        core->fail_all(errc::connection_error,
                       core->where_ + ": connection lost: " + context->c.errstr);
      }
    }
    // Counted down last: fail_all() above must not see this operation as released.
    if (--op->callbacks_pending == 0 && op->finished && !op->result_undelivered) delete op;
  }

  /// Completes the operations whose replies the last read event produced. Runs after hiredis
  /// returned: a caller resumed inline here may issue its next command at once. What they issue
  /// leaves in at most a few writes (see should_write_early()).
  void deliver_replies() {
    while (!replied_.empty()) {
      delivering_.swap(replied_);
      std::size_t i = 0;
      try {
        for (; i < delivering_.size(); ++i) {
          deliver(delivering_[i], true);
          if (should_write_early(delivering_.size() - i - 1)) adapter_->flush();
        }
      } catch (...) {
        // A handler threw out of dispatch: the others still get their results, later.
        for (++i; i < delivering_.size(); ++i) deliver(delivering_[i], false);
        delivering_.clear();
        throw;
      }
      delivering_.clear();
    }
  }

  /// Whether the commands callers issued so far while replies are delivered should leave now
  /// rather than after the last delivery. With one write per read, client and server take turns
  /// and each waits while the other works; writing once half of the outstanding commands are
  /// buffered lets the server work on them while the rest are delivered, so that with 16 or more
  /// commands outstanding both sides run at once. Smaller batches keep their single write: below
  /// 8 commands the bench drivers (redis_bench against hiredis_baseline) showed no gain beyond
  /// their noise.
  bool should_write_early(std::size_t still_to_deliver) const {
    static constexpr std::size_t min_early_write = 8;
    if (!adapter_) return false;
    const auto buffered = adapter_->buffered_commands();
    return buffered >= min_early_write && 2 * buffered >= in_flight_.size() + still_to_deliver;
  }

  static void deliver(pending_op* op, bool may_run_inline) {
    struct release {
      pending_op* op;
      ~release() {
        if (op->callbacks_pending == 0) delete op;
      }
    } guard{op};
    op->deliver_result(may_run_inline);
  }

  void remove_finished(pending_op* op) {
    // Replies are FIFO, so a finished operation is the oldest one in flight.
    if (!in_flight_.empty() && in_flight_.front() == op) {
      in_flight_.pop_front();
    } else {
      std::erase(in_flight_, op);
    }
  }

  /// Fails every operation in flight (handshake commands are just dropped). Each caller gets an
  /// exception object of its own: callers resume on different threads, and libstdc++ shares an
  /// exception (and its message) through reference counts that ThreadSanitizer cannot see.
  void fail_all(errc code, const std::string& message) {
    auto ops = std::exchange(in_flight_, {});
    for (auto* op : ops) {
      // hiredis's last callback for the operation deletes it
      if (!op->finished) op->on_failure(make_error(code, message));
    }
  }

  // ----- command timeouts
  //
  // Reading the clock for every command costs more than the rest of the bookkeeping, so commands
  // are stamped with a tick counter instead: while commands are in flight one timer ticks every
  // command_timeout/8 (at most 100ms), and the oldest command times out once it has seen enough
  // ticks. Ticks are never closer than their period, so no command times out early; it times
  // out at most one period (plus scheduling delay) late.

  static std::chrono::milliseconds tick_period(std::chrono::milliseconds timeout) {
    return std::clamp(timeout / 8, std::chrono::milliseconds(1), std::chrono::milliseconds(100));
  }

  void arm_command_timer() {
    if (command_timer_armed_ || in_flight_.empty() || options_.command_timeout.count() <= 0) return;
    command_timer_armed_ = true;
    command_timer_.expires_after(tick_period(options_.command_timeout));
    command_timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      self->command_timer_armed_ = false;
      if (!ec) self->on_timeout_tick();
    });
  }

  void on_timeout_tick() {
    ++tick_;
    if (in_flight_.empty()) return;  // the next command starts the timer again
    const auto period = tick_period(options_.command_timeout);
    // Sent between ticks t and t+1: at tick t+n it has waited more than (n-1) periods.
    const auto needed = static_cast<std::uint64_t>(
        (options_.command_timeout + period - std::chrono::milliseconds(1)) / period + 1);
    const auto sent_at = in_flight_.front()->sent_at_tick;
    if (state_ != state::ready || sent_at == pending_op::unwatched || tick_ - sent_at < needed) {
      return arm_command_timer();
    }
    // Replies are FIFO: a late reply would be taken for the next command's, so the connection
    // is reset and every command in flight fails.
    const auto timeout = std::to_string(options_.command_timeout.count());
    fail_all(errc::timeout,
             where_ + ": no reply within " + timeout + "ms; the connection was reset");
    drop_context();
    connection_down("command timed out after " + timeout + "ms");
  }

  // ----- connecting

  void connect_requested(std::unique_ptr<waiter> w) {
    switch (state_) {
      case state::ready:
        return w->complete(nullptr);
      case state::closed:
        return w->complete(make_error(errc::shut_down, where_ + ": connection closed"));
      case state::resolving:
      case state::handshaking:
        connect_waiters_.push_back(std::move(w));
        return;
      case state::idle:
      case state::waiting_to_reconnect:
        connect_waiters_.push_back(std::move(w));
        begin_attempt();
        return;
    }
  }

  void begin_attempt() {
    const auto attempt = ++attempt_;
    connect_timer_.expires_after(options_.connect_timeout);
    connect_timer_.async_wait([self = shared_from_this(), attempt](const asio::error_code& ec) {
      // The handshake may have succeeded after the deadline passed but before this ran.
      const bool connecting =
          self->state_ == state::resolving || self->state_ == state::handshaking;
      if (ec || attempt != self->attempt_ || !connecting) return;
      self->attempt_failed(errc::timeout,
                           "connect timed out after " +
                               std::to_string(self->options_.connect_timeout.count()) + "ms");
    });
    addresses_.clear();
    next_address_ = 0;
    const auto& endpoint = options_.endpoint;
    if (!endpoint.unix_path.empty()) {
      state_ = state::resolving;
      connect_next_address();
      return;
    }
    // redisAsyncConnect resolves with a blocking getaddrinfo: resolve here, then hand hiredis
    // numeric addresses only.
    state_ = state::resolving;
    resolver_.async_resolve(
        endpoint.host, std::to_string(endpoint.port),
        [self = shared_from_this(), attempt](const asio::error_code& ec,
                                             asio::ip::tcp::resolver::results_type results) {
          if (attempt != self->attempt_ || self->state_ != state::resolving) return;
          if (ec)
            return self->attempt_failed(errc::connection_error,
                                        "cannot resolve host: " + ec.message());
          for (const auto& entry : results) {
            self->addresses_.push_back(entry.endpoint().address().to_string());
          }
          self->connect_next_address();
        });
  }

  void connect_next_address() {
    const auto& endpoint = options_.endpoint;
    std::string error = last_connect_error_;
    while (true) {
      redisAsyncContext* context = nullptr;
      if (!endpoint.unix_path.empty()) {
        if (next_address_++ > 0) break;
        context = redisAsyncConnectUnix(endpoint.unix_path.c_str());
      } else {
        if (next_address_ >= addresses_.size()) break;
        context = redisAsyncConnect(addresses_[next_address_++].c_str(), endpoint.port);
      }
      if (context == nullptr) {
        error = "out of memory";
        continue;
      }
      if (context->err != 0) {
        error = context->errstr;
        redisAsyncFree(context);
        continue;
      }
      asio::error_code ec;
      redis_asio_adapter::callbacks hooks{[this] { context_gone(); },
                                          [this] { deliver_replies(); }};
      auto adapter =
          redis_asio_adapter::attach(context, strand_, weak_from_this(), std::move(hooks), ec);
      if (!adapter) {
        error = ec.message();
        redisAsyncFree(context);
        continue;
      }
      context->data = this;
      context_ = context;
      adapter_ = std::move(adapter);
      state_ = state::handshaking;
      send_handshake();
      return;
    }
    attempt_failed(errc::connection_error,
                   "cannot connect: " + (error.empty() ? "no address" : error));
  }

  void send_handshake() {
    // AUTH and SELECT go first on every connection; PING alone proves the server answers.
    std::vector<redis_command> commands;
    const auto& endpoint = options_.endpoint;
    if (endpoint.password) {
      if (endpoint.user.empty()) {
        commands.push_back({"AUTH", *endpoint.password});
      } else {
        commands.push_back({"AUTH", endpoint.user, *endpoint.password});
      }
    }
    if (endpoint.db != 0) commands.push_back({"SELECT", std::to_string(endpoint.db)});
    if (commands.empty()) commands.push_back({"PING"});
    for (std::size_t i = 0; i < commands.size(); ++i) {
      auto op = std::make_unique<handshake_op>(*this, attempt_, i + 1 == commands.size());
      if (!append(commands[i], op.get())) {
        return attempt_failed(errc::connection_error, "cannot send the handshake");
      }
      in_flight_.push_back(op.release());
    }
  }

  void handshake_succeeded(std::uint64_t attempt) {
    if (attempt != attempt_ || state_ != state::handshaking) return;
    connect_timer_.cancel();
    state_ = state::ready;
    ever_connected_ = true;
    reconnects_ = 0;
    last_connect_error_.clear();
    succeed_waiters();
    arm_command_timer();
  }

  void handshake_failed(std::uint64_t attempt, const std::string& reply) {
    if (attempt != attempt_ || state_ != state::handshaking) return;
    // The server's message (e.g. WRONGPASS ...) never contains the password.
    attempt_failed(errc::connection_error, "handshake rejected: " + reply);
  }

  /// hiredis freed the context on its own (inside redisAsyncHandleRead/Write).
  void context_gone() {
    const std::string why = context_ != nullptr ? context_->c.errstr : "";
    context_ = nullptr;
    auto adapter = std::move(adapter_);  // the running event handler keeps it alive
    fail_all(errc::connection_error, where_ + ": connection lost: " + why);
    if (state_ == state::handshaking) {
      last_connect_error_ = why;
      // Try the next resolved address, outside of hiredis.
      asio::post(strand_, [self = shared_from_this(), attempt = attempt_] {
        if (attempt == self->attempt_ && self->state_ == state::handshaking) {
          self->state_ = state::resolving;
          self->connect_next_address();
        }
      });
    } else if (state_ == state::ready) {
      connection_down("connection lost: " + why);
    }
  }

  void attempt_failed(errc code, const std::string& why) {
    ++attempt_;  // ignore whatever the failed attempt still has in flight
    connect_timer_.cancel();
    resolver_.cancel();
    fail_all(errc::connection_error, where_ + ": connect failed: " + why);
    drop_context();
    last_connect_error_.clear();
    fail_waiters(code, where_ + ": " + why);
    if (ever_connected_) {
      connection_down(why);
    } else {
      state_ = state::idle;
      down_reason_ = why;
    }
  }

  /// The connection is unusable: commands fail fast until a reconnect attempt succeeds.
  void connection_down(const std::string& why) {
    state_ = state::waiting_to_reconnect;
    down_reason_ = why;
    const auto delay = next_backoff();
    const auto attempt = attempt_;
    connect_timer_.expires_after(delay);
    connect_timer_.async_wait([self = shared_from_this(), attempt](const asio::error_code& ec) {
      if (ec || attempt != self->attempt_ || self->state_ != state::waiting_to_reconnect) return;
      self->begin_attempt();
    });
  }

  std::chrono::milliseconds next_backoff() {
    // The first retry is immediate (a lost connection is often back at once), then exponential
    // from reconnect_min up to reconnect_max, with jitter in [delay/2, delay].
    const int n = reconnects_++;
    if (n == 0) return std::chrono::milliseconds(0);
    auto delay = options_.reconnect_min;
    for (int i = 1; i < n && delay < options_.reconnect_max; ++i) delay *= 2;
    delay = std::min(delay, options_.reconnect_max);
    std::uniform_int_distribution<long long> jitter(delay.count() / 2, delay.count());
    return std::chrono::milliseconds(jitter(random_));
  }

  std::string not_connected_message() const {
    if (state_ == state::idle && !ever_connected_ && down_reason_.empty()) {
      return where_ + ": not connected (call connect() first)";
    }
    return where_ + ": not connected (" + (down_reason_.empty() ? "connecting" : down_reason_) +
           ")";
  }

  /// Completes every connect() waiting, successfully or (with an exception each) not.
  void succeed_waiters() {
    auto waiters = std::exchange(connect_waiters_, {});
    for (auto& w : waiters) w->complete(nullptr);
  }
  void fail_waiters(errc code, const std::string& message) {
    auto waiters = std::exchange(connect_waiters_, {});
    for (auto& w : waiters) w->complete(make_error(code, message));
  }

  /// Stops using the current context and frees it, outside of hiredis: its remaining callbacks
  /// see finished operations only.
  void drop_context() {
    if (context_ == nullptr) return;
    auto* context = std::exchange(context_, nullptr);
    auto adapter = std::move(adapter_);
    adapter->detach();
    if (!adapter->in_hiredis()) {
      redisAsyncFree(context);
      return;
    }
    // Freeing inside a hiredis callback is unsafe in 0.14 (onConnect/onDisconnect are unguarded
    // and the reply loop would continue on freed memory): defer it. If the execution context is
    // destroyed before the deferred call runs, the holder's destructor still frees the context.
    asio::post(strand_, [owned = owned_context(shared_from_this(), context,
                                               std::move(adapter))]() mutable { owned.free(); });
  }

  // A detached context waiting to be freed; frees it at the latest when destroyed.
  class owned_context {
   public:
    owned_context(std::shared_ptr<redis_connection_core> core, redisAsyncContext* context,
                  std::shared_ptr<redis_asio_adapter> adapter)
        : core_(std::move(core)), context_(context), adapter_(std::move(adapter)) {}
    owned_context(owned_context&& other) noexcept
        : core_(std::move(other.core_)),
          context_(std::exchange(other.context_, nullptr)),
          adapter_(std::move(other.adapter_)) {}
    owned_context& operator=(owned_context&&) = delete;
    ~owned_context() { free(); }
    void free() {
      // core_ (declared first, destroyed last) stays alive while hiredis runs its callbacks.
      if (context_ != nullptr) redisAsyncFree(std::exchange(context_, nullptr));
    }

   private:
    std::shared_ptr<redis_connection_core> core_;
    redisAsyncContext* context_;
    std::shared_ptr<redis_asio_adapter> adapter_;
  };

  void close_internal() {
    if (state_ == state::closed) return;
    state_ = state::closed;
    ++attempt_;
    connect_timer_.cancel();
    command_timer_.cancel();
    resolver_.cancel();
    fail_all(errc::shut_down, where_ + ": connection closed");
    fail_waiters(errc::shut_down, where_ + ": connection closed");
    drop_context();
  }

  asio::any_io_executor executor_;
  asio::strand<asio::any_io_executor> strand_;
  redis_connection_options options_;
  std::string where_;
  asio::ip::tcp::resolver resolver_;
  asio::steady_timer connect_timer_;  // connect attempt deadline, then reconnect backoff
  asio::steady_timer command_timer_;  // ticks while commands are in flight
  bool command_timer_armed_ = false;
  std::uint64_t tick_ = 0;  // command timeout clock
  std::minstd_rand random_;

  state state_ = state::idle;
  bool ever_connected_ = false;
  int reconnects_ = 0;
  std::uint64_t attempt_ = 0;
  std::vector<std::string> addresses_;
  std::size_t next_address_ = 0;
  std::string last_connect_error_;
  std::string down_reason_;

  redisAsyncContext* context_ = nullptr;
  std::shared_ptr<redis_asio_adapter> adapter_;
  std::deque<pending_op*> in_flight_;    // oldest first, as hiredis matches replies
  std::vector<pending_op*> replied_;     // replies read, waiting for deliver_replies()
  std::vector<pending_op*> delivering_;  // spare buffer for deliver_replies()
  std::vector<std::unique_ptr<waiter>> connect_waiters_;
};

redis_connection::redis_connection(private_tag, std::shared_ptr<redis_connection_core> core)
    : core_(std::move(core)) {}

redis_connection::~redis_connection() {
  close_now();
}

namespace {

// hiredis writes with write(2), so a server that closed its end would kill the process with
// SIGPIPE. While SIGPIPE still has its default action, it is set to be ignored, once; a handler
// the application installed is left alone. (Documented in the README.)
void ignore_default_sigpipe() {
  static const bool done = [] {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL)
      std::signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)done;
}

}  // namespace

std::shared_ptr<redis_connection> redis_connection::create(asio::any_io_executor executor,
                                                           redis_connection_options options) {
  ignore_default_sigpipe();
  return std::make_shared<redis_connection>(
      private_tag{},
      std::make_shared<redis_connection_core>(std::move(executor), std::move(options)));
}

asio::awaitable<void> redis_connection::connect() {
  return asio::async_initiate<const asio::use_awaitable_t<>, void(std::exception_ptr)>(
      [core = core_](auto handler) {
        using op_type = waiter_op<decltype(handler)>;
        core->start_connect(std::make_unique<op_type>(std::move(handler), core->executor()));
      },
      asio::use_awaitable);
}

const asio::any_io_executor& redis_connection::executor() const {
  return core_->executor();
}

void redis_connection::start(std::unique_ptr<pending_op> op) {
  core_->start(std::move(op));
}

// The initiations run while the awaiting caller holds this connection, so they may use the core
// through a plain pointer (no reference count traffic per command).

asio::awaitable<std::vector<redis_reply>> redis_connection::execute_batch(
    std::vector<redis_command> commands) {
  // Not a coroutine: g++ 12 destroys a capturing lambda temporary inside co_await twice.
  return asio::async_initiate<const asio::use_awaitable_t<>,
                              void(std::exception_ptr, std::vector<redis_reply>)>(
      [core = core_.get()](auto handler, std::vector<redis_command> commands) {
        using op_type = batch_op<decltype(handler)>;
        core->start(
            std::make_unique<op_type>(std::move(handler), core->executor(), std::move(commands)));
      },
      asio::use_awaitable, std::move(commands));
}

asio::awaitable<void> redis_connection::close() {
  return asio::async_initiate<const asio::use_awaitable_t<>, void(std::exception_ptr)>(
      [core = core_](auto handler) {
        using op_type = waiter_op<decltype(handler)>;
        core->start_close(std::make_unique<op_type>(std::move(handler), core->executor()));
      },
      asio::use_awaitable);
}

void redis_connection::close_now() noexcept {
  try {
    core_->start_close(nullptr);
  } catch (...) {
    // Only allocation can fail here; the core then closes when its last reference goes.
  }
}

}  // namespace corocache::detail
