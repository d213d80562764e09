// copy_reply(): deep copy of a hiredis reply into redis_reply (no asio here: fuzzable alone).
#include "corocache/detail/redis_reply.hpp"

#include <hiredis/hiredis.h>

namespace corocache::detail {
namespace {

// RESP3 reply types exist only in hiredis 1.x; 0.14 knows the six RESP2 ones.
redis_reply::kind kind_of(int type) {
  switch (type) {
    case REDIS_REPLY_STRING:
      return redis_reply::kind::string;
    case REDIS_REPLY_STATUS:
      return redis_reply::kind::status;
    case REDIS_REPLY_ERROR:
      return redis_reply::kind::error;
    case REDIS_REPLY_INTEGER:
      return redis_reply::kind::integer;
    case REDIS_REPLY_ARRAY:
      return redis_reply::kind::array;
#if HIREDIS_MAJOR >= 1
    case REDIS_REPLY_DOUBLE:
    case REDIS_REPLY_VERB:
    case REDIS_REPLY_BIGNUM:
      return redis_reply::kind::string;
    case REDIS_REPLY_BOOL:
      return redis_reply::kind::integer;
    case REDIS_REPLY_MAP:
    case REDIS_REPLY_SET:
    case REDIS_REPLY_PUSH:
      return redis_reply::kind::array;
#endif
    default:
      return redis_reply::kind::nil;
  }
}

void copy_into(redis_reply& out, const redisReply& in) {
  out.type = kind_of(in.type);
  switch (out.type) {
    case redis_reply::kind::string:
    case redis_reply::kind::status:
    case redis_reply::kind::error:
      if (in.str != nullptr) out.str.assign(in.str, in.len);
      break;
    case redis_reply::kind::integer:
      out.integer = in.integer;
      break;
    case redis_reply::kind::array:
      out.elements.resize(in.element == nullptr ? 0 : in.elements);
      for (std::size_t i = 0; i < out.elements.size(); ++i) {
        if (in.element[i] != nullptr) copy_into(out.elements[i], *in.element[i]);
      }
      break;
    case redis_reply::kind::nil:
      break;
  }
}

}  // namespace

redis_reply copy_reply(const redisReply* reply) {
  redis_reply out;
  if (reply != nullptr) copy_into(out, *reply);
  return out;
}

}  // namespace corocache::detail
