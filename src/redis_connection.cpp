// redis_connection: the asio driver of redis_connection_fsm (see redis_connection.hpp).
//
// Everything here runs on the connection's strand except the entry points at the bottom, which
// only hand a request to the strand. After each event the driver runs drive(): it performs the
// machine's actions (open or close a transport, wait before reconnecting), writes the output
// buffer when the machine says so, and keeps the tick timer running while the machine needs it.
// The machine decides everything else.
#include "corocache/detail/redis_connection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <atomic>
#include <mutex>
#include <random>
#include <utility>

#include <asio/bind_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/connect.hpp>
#include <asio/dispatch.hpp>
#include <asio/generic/stream_protocol.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/write.hpp>

#include "corocache/detail/redis_connection_fsm.hpp"
#include "corocache/detail/redis_reply_reader.hpp"
#include "corocache/detail/redis_sentinel_discovery.hpp"
#include "corocache/detail/redis_sentinel_watch.hpp"
#include "corocache/error.hpp"
#include "redis_sentinel_resolver.hpp"
#include "redis_sentinel_subscriber.hpp"
#include "redis_tls.hpp"
#include "redis_transport.hpp"

namespace corocache::detail {

std::string redis_endpoint::description() const {
  if (!unix_path.empty()) return "unix:" + unix_path;
  std::string where;
  if (sentinel) {
    where = redis_sentinel_discovery(*sentinel, {}).description();
  } else {
    const bool ipv6 = host.find(':') != std::string::npos;
    where = (ipv6 ? "[" + host + "]:" : host + ":") + std::to_string(port);
  }
  if (tls) where += tls->verify ? " (TLS)" : " (TLS, verify=none: insecure)";
  return where;
}

namespace {

using socket_type = redis_socket;
using strand_type = asio::strand<asio::any_io_executor>;

std::vector<redis_command> handshake_of(const redis_endpoint& endpoint) {
  std::vector<redis_command> commands;
  if (endpoint.password) {
    if (endpoint.user.empty()) {
      commands.push_back({"AUTH", *endpoint.password});
    } else {
      commands.push_back({"AUTH", endpoint.user, *endpoint.password});
    }
  }
  if (endpoint.db != 0) commands.push_back({"SELECT", std::to_string(endpoint.db)});
  return commands;  // the machine adds a PING when empty
}

redis_fsm_config fsm_config_of(const redis_connection_options& options) {
  redis_fsm_config config;
  config.where = "redis " + options.endpoint.description();
  config.handshake = handshake_of(options.endpoint);
  config.connect_timeout = options.connect_timeout;
  config.command_timeout = options.command_timeout;
  config.reconnect_min = options.reconnect_min;
  config.reconnect_max = options.reconnect_max;
  config.health_check_interval = options.health_check_interval;
  config.start_offline = options.start_offline;
  config.seed = std::random_device{}();
  return config;
}

// TCP keepalive finds a peer that vanished (host down, network cut) even when the connection is
// idle and health checks are off: first probe after 30s idle, then 3 probes 10s apart.
void enable_keepalive(socket_type& socket) {
  asio::error_code ignored;
  socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  socket.set_option(asio::socket_base::keep_alive(true), ignored);
  socket.set_option(asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPIDLE>(30), ignored);
  socket.set_option(asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPINTVL>(10), ignored);
  socket.set_option(asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPCNT>(3), ignored);
}

}  // namespace

class redis_connection_core : public std::enable_shared_from_this<redis_connection_core> {
 public:
  redis_connection_core(asio::any_io_executor executor, const redis_connection_options& options)
      : executor_(std::move(executor)),
        strand_(asio::make_strand(executor_)),
        endpoint_(options.endpoint),
        tls_handshake_limit_(options.connect_timeout / 2),
        fsm_(fsm_config_of(options)),
        tick_timer_(strand_),
        backoff_timer_(strand_) {
    if (endpoint_.tls) {
      // One context for every connection of this endpoint (with Sentinel: the sentinels' too);
      // when a file cannot be loaded, every connect fails saying which.
      auto tls = std::make_shared<redis_tls_client>();
      tls->settings = *endpoint_.tls;
      tls->context = make_tls_context(tls->settings, tls_error_);
      if (tls->context) tls_ = std::move(tls);
    }
    if (endpoint_.sentinel) {
      const auto exchanges = static_cast<int>(endpoint_.sentinel->sentinels.size()) + 1;
      sentinel_ = std::make_shared<redis_sentinel_resolver>(
          strand_, redis_sentinel_discovery(*endpoint_.sentinel, handshake_of(endpoint_)), tls_,
          std::max(options.connect_timeout / exchanges, std::chrono::milliseconds(1)));
      master_watch_.emplace(endpoint_.sentinel->master_name, options.reconnect_max);
      subscription_schedule_.emplace(endpoint_.sentinel->sentinels.size(), options.reconnect_min,
                                     options.reconnect_max, std::random_device{}());
      subscription_limits_.confirm =
          std::max(options.connect_timeout, std::chrono::milliseconds(1));
      subscription_limits_.ping_interval = options.health_check_interval;
      subscription_limits_.ping_timeout =
          std::max(options.command_timeout, std::chrono::milliseconds(1));
    }
  }

  redis_connection_core(const redis_connection_core&) = delete;
  redis_connection_core& operator=(const redis_connection_core&) = delete;

  // Only reached without close() when the execution context is torn down with work pending.
  ~redis_connection_core() {
    fsm_.close();
    if (subscriber_) subscriber_->stop();
  }

  const asio::any_io_executor& executor() const { return executor_; }

  redis_connection_stats stats() const { return fsm_.stats(); }

  // ----- entry points, from any thread

  void start(std::unique_ptr<pending_op> op, asio::cancellation_slot slot) {
    const auto id = next_id_.fetch_add(1, std::memory_order_relaxed);
    if (slot.is_connected()) {
      slot.assign([weak = weak_from_this(), id](asio::cancellation_type type) {
        if (type == asio::cancellation_type::none) return;
        // Through the same queue as the operation, so a cancel never overtakes what it cancels.
        if (auto self = weak.lock()) self->enqueue({nullptr, id});
      });
    }
    enqueue({std::move(op), id});
  }

  void start_connect(std::unique_ptr<pending_op> waiter) {
    asio::dispatch(strand_, [self = shared_from_this(), waiter = std::move(waiter)]() mutable {
      self->fsm_.connect(std::move(waiter));
      self->after_event();
    });
  }

  void start_close(std::unique_ptr<pending_op> waiter) {
    asio::dispatch(strand_, [self = shared_from_this(), waiter = std::move(waiter)]() mutable {
      self->fsm_.close();
      if (self->subscriber_) self->subscriber_->stop();
      self->after_event();
      if (waiter) finish(std::move(waiter), nullptr);
    });
  }

 private:
  // ----- the submission queue: operations and cancels from any thread, drained on the strand.
  // One strand handler per burst instead of one per operation: callers that resume together
  // submit together, and a burst costs one post, not one allocation and strand hop each.

  struct submission {
    std::unique_ptr<pending_op> op;  // null: cancel `id`
    std::uint64_t id;
  };

  void enqueue(submission s) {
    bool first;
    {
      std::lock_guard lock(submit_mutex_);
      first = submitted_.empty();
      submitted_.push_back(std::move(s));
    }
    if (first) asio::post(strand_, [self = shared_from_this()] { self->drain(); });
  }

  void drain() {
    {
      std::lock_guard lock(submit_mutex_);
      draining_.swap(submitted_);
    }
    for (auto& s : draining_) {
      if (s.op) {
        fsm_.submit(std::move(s.op), s.id);
      } else {
        fsm_.cancel(s.id);
      }
    }
    draining_.clear();
    // Once per burst: what was submitted together leaves in one write.
    after_event();
  }

  // ----- performing what the machine asks for

  void after_event() {
    for (;;) {
      while (auto action = fsm_.next_action()) perform(*action);
      if (!fsm_.write_due() || !write()) break;  // a write in flight comes back here when done
    }
    if (fsm_.flush_wanted()) {
      // Behind what is already queued: callers resumed together leave in one write.
      asio::post(strand_, [self = shared_from_this()] {
        self->fsm_.on_flush();
        self->after_event();
      });
    }
    if (!ticking_ && fsm_.wants_ticks()) start_ticking();
  }

  void perform(const redis_fsm_action& action) {
    switch (action.what) {
      case redis_fsm_action::kind::open:
        return open(action.attempt);
      case redis_fsm_action::kind::close:
        return close_transport();
      case redis_fsm_action::kind::wait_backoff:
        backoff_timer_.expires_after(action.delay);
        backoff_timer_.async_wait(
            [self = shared_from_this(), attempt = action.attempt](const asio::error_code& ec) {
              if (ec) return;
              self->fsm_.on_backoff_elapsed(attempt);
              self->after_event();
            });
        return;
    }
  }

  void close_transport() {
    if (sentinel_) sentinel_->cancel();
    if (!transport_) return;
    transport_->close();
    transport_.reset();
  }

  // ----- opening: resolve (TCP), then try each address in turn

  void open(std::uint64_t attempt) {
    close_transport();
    if (endpoint_.tls && !tls_) {
      fsm_.on_open_failed(attempt, tls_error_);
      return after_event();
    }
    if (sentinel_) return open_sentinel_master(attempt);
    auto t = std::make_shared<redis_transport>(strand_, attempt);
    transport_ = t;
    auto opened = [self = shared_from_this(), t](const std::string& error) {
      if (self->transport_ != t) return;
      if (!error.empty()) return self->open_failed(*t, error);
      if (self->endpoint_.unix_path.empty()) enable_keepalive(t->socket);
      // write() sends without blocking on plain sockets, then waits with async_write.
      asio::error_code ignored;
      if (!t->tls) t->socket.non_blocking(true, ignored);
      self->opened(t);
    };
    if (!endpoint_.unix_path.empty()) {
      t->addresses.emplace_back(asio::local::stream_protocol::endpoint(endpoint_.unix_path));
      return connect_transport(t, endpoint_.host, nullptr, {}, std::move(opened));
    }
    open_transport(t, endpoint_.host, endpoint_.port, tls_, tls_handshake_limit_,
                   std::move(opened));
  }

  // redis-sentinel://: the resolver finds the master, authenticates, selects the database and
  // checks ROLE; its socket becomes the transport, ready without a second handshake.
  void open_sentinel_master(std::uint64_t attempt) {
    if (!subscriber_) subscribe_to_failovers();
    // Weak: the resolver keeps the handler, and must not keep the connection alive with it.
    sentinel_->resolve([weak = weak_from_this(), attempt](std::shared_ptr<redis_transport> master,
                                                          const sentinel_step& outcome) {
      const auto self = weak.lock();
      if (!self) return;
      if (!master) {
        self->fsm_.on_open_failed(attempt, outcome.error);
        return self->after_event();
      }
      self->master_watch_->on_master(outcome.host, outcome.port);
      master->attempt = attempt;
      self->transport_ = std::move(master);
      enable_keepalive(self->transport_->socket);
      asio::error_code ignored;
      if (!self->transport_->tls) self->transport_->socket.non_blocking(true, ignored);
      self->fsm_.on_opened_ready(attempt);
      self->read(self->transport_);
      self->after_event();
    });
  }

  // Follows failovers the sentinels announce while the master's connection is still up (a
  // manual SENTINEL FAILOVER demotes the old master without closing it): the connection is
  // dropped, and the usual reconnect asks the sentinels again, the announcing one first.
  void subscribe_to_failovers() {
    subscriber_ = std::make_shared<redis_sentinel_subscriber>(
        strand_, *endpoint_.sentinel, tls_, *subscription_schedule_, subscription_limits_,
        [weak = weak_from_this()](const sentinel_switch& announcement, std::size_t sentinel) {
          if (const auto self = weak.lock()) self->on_failover_announced(announcement, sentinel);
        });
    subscriber_->start();
  }

  void on_failover_announced(const sentinel_switch& announcement, std::size_t sentinel) {
    if (!master_watch_->on_switch(announcement)) return;
    sentinel_->prefer(sentinel);
    if (fsm_.current_state() != redis_connection_fsm::state::ready || !transport_) return;
    const bool ipv6 = announcement.new_host.find(':') != std::string::npos;
    const auto to = (ipv6 ? "[" + announcement.new_host + "]:" : announcement.new_host + ":") +
                    std::to_string(announcement.new_port);
    fsm_.on_lost(transport_->attempt, "the sentinels moved master \"" + announcement.master_name +
                                          "\" to " + to + "; asking them again");
    after_event();
  }

  void opened(const std::shared_ptr<redis_transport>& t) {
    fsm_.on_opened(t->attempt);
    read(t);
    after_event();
  }

  void open_failed(redis_transport& t, const std::string& why) {
    fsm_.on_open_failed(t.attempt, why);
    after_event();
  }

  // ----- reading: hiredis's reader turns bytes into replies for the machine

  void read(const std::shared_ptr<redis_transport>& t) {
    t->async_read_some([self = shared_from_this(), t](const asio::error_code& ec, std::size_t n) {
      if (self->transport_ != t) return;
      if (ec) {
        self->fsm_.on_lost(t->attempt, t->describe(ec));
        return self->after_event();
      }
      if (self->deliver(*t, n)) self->read(t);
      self->after_event();
    });
  }

  /// Parses and hands on every complete reply; false when the transport is no longer current.
  bool deliver(redis_transport& t, std::size_t n) {
    if (!t.reader.feed(t.reading.data(), n)) {
      fsm_.on_lost(t.attempt, "out of memory reading a reply");
      return false;
    }
    redis_reply reply;
    bool demoted = false;  // a READONLY reply: the master is a replica now
    while (fsm_.attempt() == t.attempt) {
      const auto got = t.reader.next(reply);
      if (got == redis_reply_reader::result::error) {
        fsm_.on_lost(t.attempt, std::string("protocol error: ") + t.reader.error());
        return false;
      }
      if (got == redis_reply_reader::result::incomplete) break;
      if (master_watch_ && is_readonly_error(reply) &&
          master_watch_->on_readonly(std::chrono::steady_clock::now()))
        demoted = true;
      fsm_.on_reply(t.attempt, std::move(reply));
    }
    if (fsm_.attempt() != t.attempt) return false;  // the machine dropped this connection
    if (demoted) {
      fsm_.on_lost(t.attempt,
                   "the master answered READONLY (it was demoted); asking the "
                   "sentinels again");
      return false;
    }
    fsm_.on_read_done(t.attempt);
    return true;
  }

  // ----- writing

  /// Writes the machine's output. Plain sockets try a non-blocking send first: on an idle socket
  /// it takes everything, and the write is done without a trip through the scheduler. True when
  /// the write is already complete (the machine has been told).
  bool write() {
    auto t = transport_;
    fsm_.take_output(t->writing);
    std::size_t sent = 0;
    if (!t->tls) {
      asio::error_code ec;
      sent = t->socket.write_some(asio::buffer(t->writing), ec);
      if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
        fsm_.on_lost(t->attempt, "cannot write: " + t->describe(ec));
        return true;
      }
      if (sent == t->writing.size()) {
        fsm_.on_written(t->attempt);
        return true;
      }
    }
    t->async_write(sent, [self = shared_from_this(), t](const asio::error_code& ec, std::size_t) {
      if (self->transport_ != t) return;
      if (ec) {
        self->fsm_.on_lost(t->attempt, "cannot write: " + t->describe(ec));
      } else {
        self->fsm_.on_written(t->attempt);
      }
      self->after_event();
    });
    return false;
  }

  // ----- the machine's clock

  void start_ticking() {
    ticking_ = true;
    tick_timer_.expires_after(fsm_.tick_period());
    tick_timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      self->ticking_ = false;
      if (ec) return;
      self->fsm_.on_tick();
      self->after_event();
    });
  }

  asio::any_io_executor executor_;
  strand_type strand_;
  redis_endpoint endpoint_;
  std::chrono::milliseconds tls_handshake_limit_;
  std::shared_ptr<const redis_tls_client> tls_;  // TLS endpoints: null when tls_error_ is set
  std::string tls_error_;                        // why the TLS context could not be made
  redis_connection_fsm fsm_;
  asio::steady_timer tick_timer_;
  asio::steady_timer backoff_timer_;
  std::shared_ptr<redis_sentinel_resolver> sentinel_;  // redis-sentinel:// only
  std::optional<sentinel_master_watch> master_watch_;  // redis-sentinel:// only
  std::optional<sentinel_subscription_schedule> subscription_schedule_;
  redis_sentinel_subscriber::limits subscription_limits_;
  std::shared_ptr<redis_sentinel_subscriber> subscriber_;  // from the first connect on
  bool ticking_ = false;
  std::shared_ptr<redis_transport> transport_;
  std::atomic<std::uint64_t> next_id_{1};
  std::mutex submit_mutex_;
  std::vector<submission> submitted_;  // guarded by submit_mutex_
  std::vector<submission> draining_;   // the strand's

  friend class redis_connection;
};

const asio::any_io_executor& executor_of(const redis_connection_core& core) {
  return core.executor();
}

void start_operation(const std::shared_ptr<redis_connection_core>& core,
                     std::unique_ptr<pending_op> op, asio::cancellation_slot slot) {
  core->start(std::move(op), slot);
}

redis_connection::redis_connection(private_tag, std::shared_ptr<redis_connection_core> core)
    : core_(std::move(core)) {}

redis_connection::~redis_connection() {
  close_now();
}

std::shared_ptr<redis_connection> redis_connection::create(asio::any_io_executor executor,
                                                           redis_connection_options options) {
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

asio::awaitable<std::vector<redis_reply>> redis_connection::execute_batch(
    std::vector<redis_command> commands) {
  // Not a coroutine: g++ 12 destroys a capturing lambda temporary inside co_await twice.
  return asio::async_initiate<const asio::use_awaitable_t<>,
                              void(std::exception_ptr, std::vector<redis_reply>)>(
      [core = core_](auto handler, std::vector<redis_command> commands) {
        using op_type = batch_op<decltype(handler)>;
        auto slot = asio::get_associated_cancellation_slot(handler);
        core->start(
            std::make_unique<op_type>(std::move(handler), core->executor(), std::move(commands)),
            slot);
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

redis_connection_stats redis_connection::stats() const {
  return core_->stats();
}

}  // namespace corocache::detail
