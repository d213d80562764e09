// redis_reply: one Redis reply, as the connection's reader (redis_reply_reader.hpp) builds it.
#pragma once

#include <string>
#include <vector>

namespace corocache::detail {

/// One reply. RESP3-only reply types of hiredis 1.x map to the closest RESP2 kind (double, verb
/// and big number to string, bool to integer, map, set and push to array).
struct redis_reply {
  enum class kind { string, status, error, integer, nil, array };
  kind type = kind::nil;
  std::string str;                    // string, status, error (the message)
  long long integer = 0;              // integer
  std::vector<redis_reply> elements;  // array
};

}  // namespace corocache::detail
