// redis_sentinel_subscriber: keeps one +switch-master subscription alive (see the header).
#include "redis_sentinel_subscriber.hpp"

#include <charconv>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "corocache/detail/redis_command.hpp"
#include "corocache/detail/redis_reply_reader.hpp"

namespace corocache::detail {

struct redis_sentinel_subscriber::link : redis_transport {
  link(const strand_type& strand, std::size_t sentinel)
      : redis_transport(strand, 0), sentinel(sentinel) {}

  std::size_t sentinel;
  std::size_t auth_left = 0;  // replies still due to AUTH
  bool master_asked = false;  // the reply to get-master-addr-by-name is still due
  bool confirmed = false;     // the sentinel answered SUBSCRIBE
};

namespace {

bool is_pong(const redis_reply& reply) {
  return reply.type == redis_reply::kind::array && !reply.elements.empty() &&
         reply.elements[0].str == "pong";
}

// The master's address in a reply to SENTINEL get-master-addr-by-name; nothing for nil (a master
// the sentinel does not know) or a malformed reply.
std::optional<std::pair<std::string, std::uint16_t>> master_address(const redis_reply& reply) {
  if (reply.type != redis_reply::kind::array || reply.elements.size() != 2) return std::nullopt;
  const auto& port_text = reply.elements[1].str;
  unsigned port = 0;
  const auto end = port_text.data() + port_text.size();
  const auto parsed = std::from_chars(port_text.data(), end, port);
  if (parsed.ec != std::errc{} || parsed.ptr != end || port == 0 || port > 65535)
    return std::nullopt;
  return std::pair{reply.elements[0].str, static_cast<std::uint16_t>(port)};
}

}  // namespace

redis_sentinel_subscriber::redis_sentinel_subscriber(strand_type strand,
                                                     redis_sentinel_settings settings,
                                                     std::shared_ptr<const redis_tls_client> tls,
                                                     sentinel_subscription_schedule schedule,
                                                     limits limits, switch_handler on_switch)
    : strand_(std::move(strand)),
      settings_(std::move(settings)),
      tls_(std::move(tls)),
      schedule_(std::move(schedule)),
      limits_(limits),
      on_switch_(std::move(on_switch)),
      timer_(strand_) {}

void redis_sentinel_subscriber::start() {
  if (std::exchange(started_, true) || stopped_ || settings_.sentinels.empty()) return;
  subscribe_after(schedule_.first());
}

void redis_sentinel_subscriber::stop() {
  stopped_ = true;
  on_switch_ = nullptr;
  timer_.cancel();
  drop_link();
}

void redis_sentinel_subscriber::drop_link() {
  if (!current_) return;
  current_->close();
  current_.reset();
}

void redis_sentinel_subscriber::subscribe_after(sentinel_subscription_schedule::attempt next) {
  drop_link();
  timer_.expires_after(next.delay);
  timer_.async_wait([self = shared_from_this(), next](const asio::error_code& ec) {
    if (ec || self->stopped_) return;
    self->connect(next.sentinel);
  });
}

void redis_sentinel_subscriber::connect(std::size_t sentinel) {
  auto x = std::make_shared<link>(strand_, sentinel);
  current_ = x;
  timer_.expires_after(limits_.confirm);
  timer_.async_wait([self = shared_from_this(), x](const asio::error_code& ec) {
    if (ec || self->current_ != x || x->confirmed) return;
    self->failed(x);  // no confirmation in time: a hung or overloaded sentinel
  });
  const auto& where = settings_.sentinels[sentinel];
  // Nothing is written before the connection (and, with TLS, the sentinel's certificate) is up.
  open_transport(x, where.host, where.port, tls_, std::chrono::milliseconds(0),
                 [self = shared_from_this(), x](const std::string& error) {
                   if (self->current_ != x) return;
                   if (!error.empty()) return self->failed(x);
                   const auto& s = self->settings_;
                   if (s.password) {
                     auto auth = s.user.empty() ? redis_command{"AUTH", *s.password}
                                                : redis_command{"AUTH", s.user, *s.password};
                     x->writing += auth.resp();
                     x->auth_left = 1;
                   }
                   // The master now, in case an announcement was made while no subscription was
                   // up; SUBSCRIBE only then (a subscribed connection takes no other command).
                   redis_command ask{"SENTINEL", "get-master-addr-by-name", s.master_name};
                   x->writing += ask.resp();
                   x->master_asked = true;
                   redis_command subscribe{"SUBSCRIBE", "+switch-master"};
                   x->writing += subscribe.resp();
                   x->async_write(0, [self, x](const asio::error_code& ec, std::size_t) {
                     if (ec) self->failed(x);
                   });
                   self->read(x);
                 });
}

void redis_sentinel_subscriber::read(const std::shared_ptr<link>& x) {
  x->async_read_some([self = shared_from_this(), x](const asio::error_code& ec, std::size_t n) {
    if (self->current_ != x) return;
    if (ec || !x->reader.feed(x->reading.data(), n)) return self->failed(x);
    redis_reply reply;
    while (true) {
      const auto got = x->reader.next(reply);
      if (got == redis_reply_reader::result::error) return self->failed(x);
      if (got == redis_reply_reader::result::incomplete) return self->read(x);
      if (!self->on_reply(x, reply)) return self->failed(x);
      if (self->current_ != x) return;  // the handler stopped the subscription
    }
  });
}

bool redis_sentinel_subscriber::on_reply(const std::shared_ptr<link>& x, const redis_reply& reply) {
  if (reply.type == redis_reply::kind::error) return false;  // AUTH or SUBSCRIBE refused
  if (x->auth_left > 0) {
    --x->auth_left;
    return true;
  }
  if (x->master_asked) {
    x->master_asked = false;
    if (const auto master = master_address(reply); master && on_switch_) {
      on_switch_(sentinel_switch{settings_.master_name, {}, 0, master->first, master->second},
                 x->sentinel);
    }
    return true;
  }
  if (!x->confirmed) {
    const bool confirmation = reply.type == redis_reply::kind::array && !reply.elements.empty() &&
                              reply.elements[0].str == "subscribe";
    if (!confirmation) return false;
    x->confirmed = true;
    schedule_.on_subscribed();
    ping_later(x);  // also ends the confirmation deadline
    return true;
  }
  if (is_pong(reply)) {
    ping_later(x);
    return true;
  }
  if (const auto announcement = parse_switch_master(reply)) {
    if (on_switch_) on_switch_(*announcement, x->sentinel);
  }
  return true;
}

void redis_sentinel_subscriber::ping_later(const std::shared_ptr<link>& x) {
  timer_.cancel();
  if (limits_.ping_interval.count() <= 0) return;
  timer_.expires_after(limits_.ping_interval);
  timer_.async_wait([self = shared_from_this(), x](const asio::error_code& ec) {
    if (ec || self->current_ != x) return;
    self->ping(x);
  });
}

void redis_sentinel_subscriber::ping(const std::shared_ptr<link>& x) {
  // The previous write (the subscription, or the last PING, answered since) is complete.
  x->writing = redis_command{"PING"}.resp();
  x->async_write(0, [self = shared_from_this(), x](const asio::error_code& ec, std::size_t) {
    if (ec) self->failed(x);
  });
  timer_.expires_after(limits_.ping_timeout);
  timer_.async_wait([self = shared_from_this(), x](const asio::error_code& ec) {
    if (ec || self->current_ != x) return;
    self->failed(x);  // no answer in time: a stopped or cut-off sentinel
  });
}

void redis_sentinel_subscriber::failed(const std::shared_ptr<link>& x) {
  if (current_ != x || stopped_) return;
  subscribe_after(schedule_.after_failure());
}

}  // namespace corocache::detail
