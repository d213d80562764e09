// redis_reply_reader: hiredis's parser with object hooks that build redis_reply in place.
#include "corocache/detail/redis_reply_reader.hpp"

#include <new>
#include <utility>

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

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

// Where the value a task describes lives: in its parent's elements, or, for the top level, in
// the reader's reply under construction. The objects hiredis gets back are these addresses; they
// are never freed one by one.
redis_reply* place(const redisReadTask* task, redis_reply::kind kind) {
  redis_reply* reply;
  if (task->parent != nullptr) {
    reply = &static_cast<redis_reply*>(task->parent->obj)->elements[task->idx];
  } else {
    reply = static_cast<redis_reply*>(task->privdata);
    reply->str.clear();
    reply->integer = 0;
    reply->elements.clear();
  }
  reply->type = kind;
  return reply;
}

// A null return tells hiredis "out of memory": nothing may throw through its C code.
void* create_string(const redisReadTask* task, char* str, size_t len) try {
  auto* reply = place(task, kind_of(task->type));
#if HIREDIS_MAJOR >= 1
  if (task->type == REDIS_REPLY_VERB && len >= 4) {  // "txt:...": the type is not the value
    str += 4;
    len -= 4;
  }
#endif
  reply->str.assign(str, len);
  return reply;
} catch (...) {
  return nullptr;
}

#if HIREDIS_MAJOR >= 1
void* create_array(const redisReadTask* task, size_t elements) try {
#else
void* create_array(const redisReadTask* task, int elements) try {
#endif
  auto* reply = place(task, kind_of(task->type));
  reply->elements.resize(static_cast<std::size_t>(elements));
  return reply;
} catch (...) {
  return nullptr;
}

void* create_integer(const redisReadTask* task, long long value) {
  auto* reply = place(task, redis_reply::kind::integer);
  reply->integer = value;
  return reply;
}

void* create_nil(const redisReadTask* task) {
  return place(task, redis_reply::kind::nil);
}

#if HIREDIS_MAJOR >= 1
void* create_double(const redisReadTask* task, double, char* str, size_t len) try {
  auto* reply = place(task, redis_reply::kind::string);
  reply->str.assign(str, len);
  return reply;
} catch (...) {
  return nullptr;
}

void* create_bool(const redisReadTask* task, int value) {
  auto* reply = place(task, redis_reply::kind::integer);
  reply->integer = value != 0 ? 1 : 0;
  return reply;
}
#endif

void free_object(void*) {}

redisReplyObjectFunctions object_functions = {
#if HIREDIS_MAJOR >= 1
    create_string, create_array, create_integer, create_double,
    create_nil,    create_bool,  free_object,
#else
    create_string, create_array, create_integer, create_nil, free_object,
#endif
};

}  // namespace

redis_reply_reader::redis_reply_reader()
    : reader_(redisReaderCreateWithFunctions(&object_functions)) {
  if (reader_ == nullptr) throw std::bad_alloc();
  reader_->privdata = &building_;
}

redis_reply_reader::~redis_reply_reader() {
  redisReaderFree(reader_);
}

bool redis_reply_reader::feed(const char* data, std::size_t size) {
  return redisReaderFeed(reader_, data, size) == REDIS_OK;
}

redis_reply_reader::result redis_reply_reader::next(redis_reply& out) {
  void* reply = nullptr;
  if (redisReaderGetReply(reader_, &reply) != REDIS_OK) return result::error;
  if (reply == nullptr) return result::incomplete;
  out = std::move(building_);
  return result::reply;
}

const char* redis_reply_reader::error() const {
  return reader_->errstr;
}

}  // namespace corocache::detail
