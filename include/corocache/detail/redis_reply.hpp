// redis_reply: an owned copy of a hiredis reply, and copy_reply() which makes one.
//
// hiredis frees its redisReply as soon as the reply callback returns, so everything a caller needs
// is copied out first. This header and src/redis_reply.cpp do not use asio, so a fuzz target can
// build them alone.
#pragma once

#include <string>
#include <vector>

struct redisReply;

namespace corocache::detail {

/// An owned copy of a hiredis reply (hiredis frees its reply when the callback returns).
struct redis_reply {
  enum class kind { string, status, error, integer, nil, array };
  kind type = kind::nil;
  std::string str;                    // string, status, error (the message)
  long long integer = 0;              // integer
  std::vector<redis_reply> elements;  // array
};

/// Deep-copies `reply`; a null pointer gives a nil reply. RESP3-only reply types of hiredis 1.x
/// map to the closest RESP2 kind (double, verb and big number to string, bool to integer, map,
/// set and push to array).
[[nodiscard]] redis_reply copy_reply(const redisReply* reply);

}  // namespace corocache::detail
