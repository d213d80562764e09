// Replies built by hand, for tests that feed the library's pure parts (the slot map, Sentinel
// discovery) what a server would send.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "corocache/detail/redis_reply.hpp"

namespace corocache::test {

inline detail::redis_reply text_reply(detail::redis_reply::kind kind, std::string text) {
  detail::redis_reply r;
  r.type = kind;
  r.str = std::move(text);
  return r;
}
inline detail::redis_reply status(std::string text) {
  return text_reply(detail::redis_reply::kind::status, std::move(text));
}
inline detail::redis_reply bulk(std::string text) {
  return text_reply(detail::redis_reply::kind::string, std::move(text));
}
inline detail::redis_reply error(std::string text) {
  return text_reply(detail::redis_reply::kind::error, std::move(text));
}
inline detail::redis_reply integer(long long value) {
  detail::redis_reply r;
  r.type = detail::redis_reply::kind::integer;
  r.integer = value;
  return r;
}
inline detail::redis_reply array(std::vector<detail::redis_reply> elements) {
  detail::redis_reply r;
  r.type = detail::redis_reply::kind::array;
  r.elements = std::move(elements);
  return r;
}

}  // namespace corocache::test
