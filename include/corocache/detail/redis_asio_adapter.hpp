// redis_asio_adapter: drives one hiredis redisAsyncContext from asio.
//
// hiredis's event hooks (ev.addRead/delRead/addWrite/delWrite/cleanup) become async_wait()s on
// the context's socket, completed on a strand; a readiness event calls redisAsyncHandleRead or
// redisAsyncHandleWrite. One writable wait flushes everything hiredis buffered meanwhile, so
// commands issued together leave in one write.
//
// hiredis owns the socket: its cleanup hook releases the descriptor from asio (never closes it)
// before hiredis closes it itself.
#pragma once

#include <functional>
#include <memory>

#include <asio/any_io_executor.hpp>
#include <asio/error_code.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/strand.hpp>

struct redisAsyncContext;

namespace corocache::detail {

class redis_asio_adapter : public std::enable_shared_from_this<redis_asio_adapter> {
 public:
  using strand_type = asio::strand<asio::any_io_executor>;

  /// What the owner learns about events.
  struct callbacks {
    /// Runs inside hiredis when hiredis frees the context on its own (connection lost or connect
    /// failed).
    std::function<void()> on_gone;
    /// Runs after each readiness event, once hiredis has returned (also after a detach), so
    /// that results gathered in hiredis callbacks can be handed on outside of hiredis.
    std::function<void()> after_event;
  };

  /// Installs the hooks on `context` (whose ev.data must be unset). `owner` is kept alive while a
  /// readiness event is handled. Returns null with `ec` set on failure.
  [[nodiscard]] static std::shared_ptr<redis_asio_adapter> attach(redisAsyncContext* context,
                                                                  strand_type strand,
                                                                  std::weak_ptr<void> owner,
                                                                  callbacks hooks,
                                                                  asio::error_code& ec);

  /// Stops driving the context: later events are ignored and on_gone will not run. The owner
  /// then frees the context itself, outside of any hiredis callback.
  void detach() noexcept;

  /// Writes what hiredis has buffered now, outside of hiredis (never from inside a hiredis call
  /// or hook). hiredis asks for a writable wait itself if the socket takes only part of it.
  void flush();

  /// Commands hiredis has buffered since the last write.
  [[nodiscard]] std::size_t buffered_commands() const noexcept { return buffered_commands_; }

  /// True while a readiness event is being handled, i.e. inside redisAsyncHandleRead/Write: a
  /// hiredis callback running now must not free the context.
  [[nodiscard]] bool in_hiredis() const noexcept { return depth_ > 0; }

  redis_asio_adapter(redisAsyncContext* context, strand_type strand, std::weak_ptr<void> owner,
                     callbacks hooks);

 private:
  enum class direction { read, write };

  static void add_read(void* self);
  static void del_read(void* self);
  static void add_write(void* self);
  static void del_write(void* self);
  static void cleanup(void* self);

  void start_wait(direction which);
  void on_ready(direction which, const asio::error_code& ec);
  void release_socket() noexcept;

  redisAsyncContext* context_;  // null once detached or freed
  asio::posix::stream_descriptor socket_;
  std::weak_ptr<void> owner_;
  callbacks hooks_;
  bool want_read_ = false, want_write_ = false;
  bool reading_ = false, writing_ = false;  // a wait is outstanding
  int depth_ = 0;
  std::size_t buffered_commands_ = 0;
  bool in_event_ = false;  // handling a readiness event: write waits are started after it
};

}  // namespace corocache::detail
