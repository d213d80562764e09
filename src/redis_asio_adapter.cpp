// hiredis event hooks implemented with asio waits (see redis_asio_adapter.hpp).
#include "corocache/detail/redis_asio_adapter.hpp"

#include <utility>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

namespace corocache::detail {

redis_asio_adapter::redis_asio_adapter(redisAsyncContext* context, strand_type strand,
                                       std::weak_ptr<void> owner, callbacks hooks)
    : context_(context),
      socket_(std::move(strand)),
      owner_(std::move(owner)),
      hooks_(std::move(hooks)) {}

std::shared_ptr<redis_asio_adapter> redis_asio_adapter::attach(redisAsyncContext* context,
                                                               strand_type strand,
                                                               std::weak_ptr<void> owner,
                                                               callbacks hooks,
                                                               asio::error_code& ec) {
  auto self = std::make_shared<redis_asio_adapter>(context, std::move(strand), std::move(owner),
                                                   std::move(hooks));
  self->socket_.assign(context->c.fd, ec);
  if (ec) return nullptr;
  context->ev.data = self.get();
  context->ev.addRead = &add_read;
  context->ev.delRead = &del_read;
  context->ev.addWrite = &add_write;
  context->ev.delWrite = &del_write;
  context->ev.cleanup = &cleanup;
  return self;
}

void redis_asio_adapter::detach() noexcept {
  context_ = nullptr;
  hooks_.on_gone = nullptr;
}

void redis_asio_adapter::flush() {
  if (context_ == nullptr || !want_write_ || writing_) return;
  const auto keep_alive = shared_from_this();  // a failed write makes hiredis free the context
  ++depth_;
  buffered_commands_ = 0;
  redisAsyncHandleWrite(context_);
  --depth_;
}

void redis_asio_adapter::add_read(void* self) {
  auto* a = static_cast<redis_asio_adapter*>(self);
  a->want_read_ = true;
  if (!a->reading_) a->start_wait(direction::read);
}

void redis_asio_adapter::del_read(void* self) {
  static_cast<redis_asio_adapter*>(self)->want_read_ = false;
}

void redis_asio_adapter::add_write(void* self) {
  // Called for every command: cheap when a writable wait is already outstanding, and that one
  // wait then flushes all of them.
  auto* a = static_cast<redis_asio_adapter*>(self);
  a->want_write_ = true;
  ++a->buffered_commands_;  // hiredis calls this once per command it buffers
  if (!a->writing_ && !a->in_event_) a->start_wait(direction::write);
}

void redis_asio_adapter::del_write(void* self) {
  // The outstanding wait (if any) is left to complete and is ignored then: cancelling would also
  // cancel the read wait.
  static_cast<redis_asio_adapter*>(self)->want_write_ = false;
}

void redis_asio_adapter::cleanup(void* self) {
  // hiredis is freeing the context and will close the socket itself; hiredis 1.x may call this
  // twice.
  auto* a = static_cast<redis_asio_adapter*>(self);
  a->release_socket();
  const bool notify = a->context_ != nullptr;
  a->context_ = nullptr;
  if (notify && a->hooks_.on_gone) std::exchange(a->hooks_.on_gone, nullptr)();
}

void redis_asio_adapter::release_socket() noexcept {
  // release() cancels the outstanding waits and forgets the descriptor without closing it.
  if (socket_.is_open()) socket_.release();
  want_read_ = want_write_ = false;
}

void redis_asio_adapter::start_wait(direction which) {
  if (context_ == nullptr || !socket_.is_open()) return;
  (which == direction::read ? reading_ : writing_) = true;
  const auto type = which == direction::read ? asio::posix::descriptor_base::wait_read
                                             : asio::posix::descriptor_base::wait_write;
  socket_.async_wait(type, [self = shared_from_this(), which](const asio::error_code& ec) {
    self->on_ready(which, ec);
  });
}

void redis_asio_adapter::on_ready(direction which, const asio::error_code& ec) {
  (which == direction::read ? reading_ : writing_) = false;
  if (ec || context_ == nullptr) return;
  const bool wanted = which == direction::read ? want_read_ : want_write_;
  if (!wanted) return;
  const auto owner = owner_.lock();
  if (!owner) return;
  // The flag is cleared first so that hiredis's own addRead/addWrite inside the call re-arms.
  // Write waits are not started during the event: commands queued meanwhile (by callers
  // resumed from after_event) are flushed right after it.
  in_event_ = true;
  ++depth_;
  if (which == direction::read) {
    redisAsyncHandleRead(context_);
  } else {
    buffered_commands_ = 0;
    redisAsyncHandleWrite(context_);
  }
  --depth_;
  if (hooks_.after_event) hooks_.after_event();
  in_event_ = false;
  // The socket is almost always writable: write now instead of a round through the reactor.
  if (which == direction::read) flush();
  if (context_ != nullptr && want_write_ && !writing_) start_wait(direction::write);
}

}  // namespace corocache::detail
