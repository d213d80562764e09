// The test harnesses' blocking hiredis replies as the library's redis_reply (RESP2 kinds only:
// the harnesses talk RESP2), and an error reply for a failed exchange.
#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include <hiredis/hiredis.h>

#include "corocache/detail/redis_reply.hpp"

namespace corocache::test {

inline detail::redis_reply to_reply(const redisReply& in) {
  using kind = detail::redis_reply::kind;
  detail::redis_reply out;
  switch (in.type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      out.type = in.type == REDIS_REPLY_STRING   ? kind::string
                 : in.type == REDIS_REPLY_STATUS ? kind::status
                                                 : kind::error;
      if (in.str != nullptr) out.str.assign(in.str, in.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = kind::integer;
      out.integer = in.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = kind::array;
      for (std::size_t i = 0; i < in.elements; ++i) {
        out.elements.push_back(in.element[i] != nullptr ? to_reply(*in.element[i])
                                                        : detail::redis_reply{});
      }
      break;
    default:
      break;
  }
  return out;
}

inline detail::redis_reply error_reply(std::string message) {
  detail::redis_reply reply;
  reply.type = detail::redis_reply::kind::error;
  reply.str = std::move(message);
  return reply;
}

}  // namespace corocache::test
