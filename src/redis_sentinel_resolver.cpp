// redis_sentinel_resolver: performs the steps of redis_sentinel_discovery (see the header). Each
// connection a step asks for replaces the current exchange, so late events of the previous one
// are ignored.
#include "redis_sentinel_resolver.hpp"

#include <utility>
#include <vector>

#include "corocache/detail/redis_reply_reader.hpp"

namespace corocache::detail {

redis_sentinel_resolver::redis_sentinel_resolver(strand_type strand,
                                                 redis_sentinel_discovery discovery,
                                                 std::shared_ptr<const redis_tls_client> tls,
                                                 std::chrono::milliseconds exchange_limit)
    : strand_(std::move(strand)),
      discovery_(std::move(discovery)),
      tls_(std::move(tls)),
      exchange_limit_(exchange_limit),
      timer_(strand_) {}

void redis_sentinel_resolver::resolve(handler done) {
  cancel();
  done_ = std::move(done);
  step_to(discovery_.begin());
}

void redis_sentinel_resolver::cancel() {
  done_ = nullptr;
  drop_exchange();
}

void redis_sentinel_resolver::drop_exchange() {
  timer_.cancel();
  if (!current_) return;
  current_->close();
  current_.reset();
}

void redis_sentinel_resolver::step_to(sentinel_step step) {
  switch (step.what) {
    case sentinel_step::kind::connect:
      return connect(step.host, step.port);
    case sentinel_step::kind::send:
      return send(step.commands);
    case sentinel_step::kind::wait:
      return;  // read() reads on
    case sentinel_step::kind::done: {
      timer_.cancel();
      return finish(std::exchange(current_, nullptr), step);
    }
    case sentinel_step::kind::failed:
      drop_exchange();
      return finish(nullptr, step);
  }
}

void redis_sentinel_resolver::finish(std::shared_ptr<redis_transport> master,
                                     const sentinel_step& outcome) {
  // Moved out first: the handler may start the next round.
  auto done = std::exchange(done_, nullptr);
  if (done) done(std::move(master), outcome);
}

void redis_sentinel_resolver::connect(const std::string& host, std::uint16_t port) {
  drop_exchange();
  auto x = std::make_shared<exchange>(strand_, 0);
  current_ = x;
  timer_.expires_after(exchange_limit_);
  timer_.async_wait([self = shared_from_this(), x](const asio::error_code& ec) {
    if (ec || self->current_ != x) return;
    const bool handshaking = x->tls && !x->tls_verified;
    self->failed(x, (handshaking ? "no answer to the TLS handshake within " : "no answer within ") +
                        std::to_string(self->exchange_limit_.count()) + "ms");
  });
  // The exchange's timer bounds the handshake too: no separate limit.
  open_transport(x, host, port, tls_, std::chrono::milliseconds(0),
                 [self = shared_from_this(), x](const std::string& error) {
                   if (self->current_ != x) return;
                   if (!error.empty()) return self->failed(x, error);
                   self->step_to(self->discovery_.on_connected());
                 });
}

void redis_sentinel_resolver::send(std::vector<redis_command>& commands) {
  const auto x = current_;
  x->writing.clear();
  for (auto& command : commands) x->writing += command.resp();
  x->async_write(0, [self = shared_from_this(), x](const asio::error_code& ec, std::size_t) {
    if (self->current_ != x || !ec) return;
    self->failed(x, "cannot write: " + x->describe(ec));
  });
  read(x);
}

void redis_sentinel_resolver::read(const std::shared_ptr<exchange>& x) {
  x->async_read_some([self = shared_from_this(), x](const asio::error_code& ec, std::size_t n) {
    if (self->current_ != x) return;
    if (ec) return self->failed(x, x->describe(ec));
    if (!x->reader.feed(x->reading.data(), n))
      return self->failed(x, "out of memory reading a reply");
    redis_reply reply;
    while (true) {
      const auto got = x->reader.next(reply);
      if (got == redis_reply_reader::result::error)
        return self->failed(x, std::string("protocol error: ") + x->reader.error());
      if (got == redis_reply_reader::result::incomplete) return self->read(x);
      auto step = self->discovery_.on_reply(reply);
      if (step.what != sentinel_step::kind::wait) return self->step_to(std::move(step));
    }
  });
}

void redis_sentinel_resolver::failed(const std::shared_ptr<exchange>& x, const std::string& why) {
  if (current_ != x) return;
  step_to(discovery_.on_failed(why));
}

}  // namespace corocache::detail
