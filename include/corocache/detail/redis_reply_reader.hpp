// redis_reply_reader: RESP bytes in, redis_reply values out.
//
// hiredis's reply reader does the parsing; its object hooks build each redis_reply in place, so a
// reply is not first built as a hiredis redisReply and then copied (which cost two allocations
// and a copy of every string per reply). No asio here: a fuzz target builds it alone and checks
// it against hiredis's own objects.
#pragma once

#include <cstddef>

#include "corocache/detail/redis_reply.hpp"

struct redisReader;

namespace corocache::detail {

class redis_reply_reader {
 public:
  redis_reply_reader();
  redis_reply_reader(const redis_reply_reader&) = delete;
  redis_reply_reader& operator=(const redis_reply_reader&) = delete;
  ~redis_reply_reader();

  /// Appends bytes received; false when out of memory.
  [[nodiscard]] bool feed(const char* data, std::size_t size);

  enum class result { reply, incomplete, error };
  /// The next complete reply, moved into `out`: `reply`; `incomplete` when more bytes are needed;
  /// `error` when the stream is not RESP (error() says why; the reader is then unusable).
  [[nodiscard]] result next(redis_reply& out);

  /// Why next() failed.
  [[nodiscard]] const char* error() const;

 private:
  redisReader* reader_;
  redis_reply building_;  // the reply being parsed; its elements are built inside it
};

}  // namespace corocache::detail
