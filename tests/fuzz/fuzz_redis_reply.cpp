// Fuzzes the RESP path: arbitrary bytes go through hiredis's reader, fed in chunks whose size the
// first input byte picks, and again in one piece. Both feeds must produce the same replies and the
// same protocol error, and every reply must be structurally sound. The connection's own reader
// (detail::redis_reply_reader: hiredis's parser building redis_reply in place), fed the same
// pieces, must give exactly those replies (type, string bytes, integer, elements, recursively)
// and fail exactly when hiredis does.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <hiredis/hiredis.h>

#include "corocache/detail/redis_reply.hpp"
#include "corocache/detail/redis_reply_reader.hpp"
#include "fuzz_check.hpp"

namespace {

using corocache::fuzz::quoted;

struct reply_deleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

struct reader_deleter {
  void operator()(redisReader* reader) const { redisReaderFree(reader); }
};

struct read_result {
  std::vector<reply_ptr> replies;
  bool failed = false;
};

// hiredis's reader nests arrays at most 7 deep; deeper input is a protocol error.
void check_sound(const redisReply* reply, int depth) {
  COROCACHE_FUZZ_CHECK(reply != nullptr, "null reply or element");
  COROCACHE_FUZZ_CHECK(depth < 16, "reply nested " + std::to_string(depth) + " deep");
  switch (reply->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      COROCACHE_FUZZ_CHECK(reply->str != nullptr && reply->str[reply->len] == '\0',
                           "string reply without its terminating NUL");
      break;
    case REDIS_REPLY_ARRAY:
      COROCACHE_FUZZ_CHECK(reply->elements == 0 || reply->element != nullptr,
                           "array reply without elements");
      for (std::size_t i = 0; i < reply->elements; ++i) check_sound(reply->element[i], depth + 1);
      break;
    case REDIS_REPLY_INTEGER:
    case REDIS_REPLY_NIL:
      break;
    default:
      corocache::fuzz::fail("unknown reply type " + std::to_string(reply->type));
  }
}

bool same_reply(const redisReply* a, const redisReply* b) {
  if (a->type != b->type) return false;
  switch (a->type) {
    case REDIS_REPLY_INTEGER:
      return a->integer == b->integer;
    case REDIS_REPLY_ARRAY:
      if (a->elements != b->elements) return false;
      for (std::size_t i = 0; i < a->elements; ++i)
        if (!same_reply(a->element[i], b->element[i])) return false;
      return true;
    case REDIS_REPLY_NIL:
      return true;
    default:
      return std::string_view(a->str, a->len) == std::string_view(b->str, b->len);
  }
}

// The redis_reply kind the connection's reader must give for a hiredis 0.14 / RESP2 reply type.
corocache::detail::redis_reply::kind expected_kind(int type) {
  using kind = corocache::detail::redis_reply::kind;
  switch (type) {
    case REDIS_REPLY_STRING:
      return kind::string;
    case REDIS_REPLY_STATUS:
      return kind::status;
    case REDIS_REPLY_ERROR:
      return kind::error;
    case REDIS_REPLY_INTEGER:
      return kind::integer;
    case REDIS_REPLY_ARRAY:
      return kind::array;
    default:
      return kind::nil;
  }
}

void check_copy(const redisReply* original, const corocache::detail::redis_reply& copy,
                const std::string& where) {
  using kind = corocache::detail::redis_reply::kind;
  COROCACHE_FUZZ_CHECK(copy.type == expected_kind(original->type),
                       where + ": hiredis type " + std::to_string(original->type) + " copied as " +
                           std::to_string(static_cast<int>(copy.type)));
  switch (copy.type) {
    case kind::string:
    case kind::status:
    case kind::error:
      COROCACHE_FUZZ_CHECK(copy.str == std::string_view(original->str, original->len),
                           where + ": string " + quoted({original->str, original->len}) +
                               " copied as " + quoted(copy.str));
      break;
    case kind::integer:
      COROCACHE_FUZZ_CHECK(copy.integer == original->integer, where + ": integer copied wrong");
      break;
    case kind::array:
      COROCACHE_FUZZ_CHECK(copy.elements.size() == original->elements,
                           where + ": " + std::to_string(original->elements) +
                               " elements copied as " + std::to_string(copy.elements.size()));
      for (std::size_t i = 0; i < original->elements; ++i)
        check_copy(original->element[i], copy.elements[i], where + "[" + std::to_string(i) + "]");
      break;
    case kind::nil:
      break;
  }
  // A copy holds nothing beyond its kind's fields.
  if (copy.type != kind::string && copy.type != kind::status && copy.type != kind::error)
    COROCACHE_FUZZ_CHECK(copy.str.empty(), where + ": stray string in a copy");
  if (copy.type != kind::integer)
    COROCACHE_FUZZ_CHECK(copy.integer == 0, where + ": stray integer in a copy");
  if (copy.type != kind::array)
    COROCACHE_FUZZ_CHECK(copy.elements.empty(), where + ": stray elements in a copy");
}

// Feeds `input` in pieces of `chunk` bytes, taking every reply as soon as it is complete.
read_result read_all(std::string_view input, std::size_t chunk) {
  read_result result;
  std::unique_ptr<redisReader, reader_deleter> reader(redisReaderCreate());
  COROCACHE_FUZZ_CHECK(reader != nullptr, std::string("redisReaderCreate failed"));
  while (!input.empty() && !result.failed) {
    const auto piece = input.substr(0, chunk);
    input.remove_prefix(piece.size());
    if (redisReaderFeed(reader.get(), piece.data(), piece.size()) != REDIS_OK) {
      result.failed = true;
      break;
    }
    for (;;) {
      void* reply = nullptr;
      if (redisReaderGetReply(reader.get(), &reply) != REDIS_OK) {
        result.failed = true;
        break;
      }
      if (reply == nullptr) break;
      result.replies.emplace_back(static_cast<redisReply*>(reply));
    }
  }
  return result;
}

struct own_read_result {
  std::vector<corocache::detail::redis_reply> replies;
  bool failed = false;
};

// The same with the connection's reader.
own_read_result read_all_own(std::string_view input, std::size_t chunk) {
  using result = corocache::detail::redis_reply_reader::result;
  own_read_result out;
  corocache::detail::redis_reply_reader reader;
  while (!input.empty() && !out.failed) {
    const auto piece = input.substr(0, chunk);
    input.remove_prefix(piece.size());
    if (!reader.feed(piece.data(), piece.size())) {
      out.failed = true;
      break;
    }
    corocache::detail::redis_reply reply;
    for (;;) {
      const auto got = reader.next(reply);
      if (got == result::error) out.failed = true;
      if (got != result::reply) break;
      out.replies.push_back(std::move(reply));
    }
  }
  return out;
}

// hiredis allocates an array's element pointers as soon as it reads the "*<count>" header, so a
// count in the billions asks for gigabytes at once: a hiredis trait (a server can make its client
// allocate that much), not something the connection's reader can change. Such inputs are skipped.
// The scan is crude ('*' inside a bulk string counts too), which only skips a few more inputs.
bool has_huge_array_header(std::string_view input) {
  constexpr std::uint64_t max_elements = 100'000;
  for (auto star = input.find('*'); star != std::string_view::npos;
       star = input.find('*', star + 1)) {
    std::uint64_t count = 0;
    for (auto i = star + 1; i < input.size() && input[i] >= '0' && input[i] <= '9'; ++i) {
      count = count * 10 + static_cast<std::uint64_t>(input[i] - '0');
      if (count > max_elements) return true;
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = data[0] % 16 + 1;
  const auto input = corocache::fuzz::as_text(data + 1, size - 1);
  if (has_huge_array_header(input)) return -1;  // -1: do not keep this input in the corpus

  const auto pieces = read_all(input, chunk);
  const auto whole = read_all(input, input.size() + 1);
  COROCACHE_FUZZ_CHECK(pieces.failed == whole.failed,
                       "protocol error only when fed in " + std::to_string(chunk) +
                           "-byte pieces or only in one piece: " + quoted(input));
  COROCACHE_FUZZ_CHECK(pieces.replies.size() == whole.replies.size(),
                       std::to_string(pieces.replies.size()) + " replies in pieces, " +
                           std::to_string(whole.replies.size()) +
                           " in one piece: " + quoted(input));
  for (std::size_t i = 0; i < pieces.replies.size(); ++i) {
    check_sound(pieces.replies[i].get(), 0);
    COROCACHE_FUZZ_CHECK(same_reply(pieces.replies[i].get(), whole.replies[i].get()),
                         "reply " + std::to_string(i) + " differs between feeds: " + quoted(input));
  }

  const auto own = read_all_own(input, chunk);
  COROCACHE_FUZZ_CHECK(own.failed == pieces.failed,
                       std::string("the connection's reader ") +
                           (own.failed ? "failed" : "did not fail") + " where hiredis " +
                           (pieces.failed ? "failed" : "did not") + ": " + quoted(input));
  COROCACHE_FUZZ_CHECK(
      own.replies.size() == pieces.replies.size(),
      std::to_string(own.replies.size()) + " replies from the connection's reader, " +
          std::to_string(pieces.replies.size()) + " from hiredis: " + quoted(input));
  for (std::size_t i = 0; i < own.replies.size(); ++i)
    check_copy(pieces.replies[i].get(), own.replies[i], "reader reply " + std::to_string(i));
  return 0;
}
