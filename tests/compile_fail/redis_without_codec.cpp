// Must not compile: a RedisCacheBackend for a type without a codec stops with a message naming
// the fix (tests/CMakeLists.txt checks the message).
#include "corocache/redis_backend.hpp"

#include <asio/io_context.hpp>

struct point {
  int x = 0;
  int y = 0;
};

int main() {
  asio::io_context io;
  corocache::RedisCacheBackend<point> cache(io.get_executor(), "redis://127.0.0.1:6379/0");
}
