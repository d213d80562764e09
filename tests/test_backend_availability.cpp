// What a build offers: the version macros, and make_backend's answer for a Redis URL when Redis
// cannot serve the value type (no codec) or is not in the build at all.
#include <algorithm>
#include <string>
#include <string_view>

#include <asio/io_context.hpp>

#include "corocache/config.hpp"
#include "corocache/registry.hpp"
#include "corocache/version.hpp"
#include "support/catch.hpp"

namespace {

struct point {
  int x = 0;
  int y = 0;
};

template <class T>
std::string message_of_make(std::string_view url) {
  asio::io_context io;
  try {
    (void)corocache::make_backend<T>(url, io.get_executor());
  } catch (const corocache::cache_error& e) {
    CHECK(e.error() == corocache::errc::unknown_backend);
    return e.what();
  }
  return "no error";
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("the version macros match the version string", "[version]") {
  const std::string expected = std::to_string(COROCACHE_VERSION_MAJOR) + "." +
                               std::to_string(COROCACHE_VERSION_MINOR) + "." +
                               std::to_string(COROCACHE_VERSION_PATCH);
  CHECK(expected == COROCACHE_VERSION_STRING);
  CHECK(COROCACHE_VERSION ==
        COROCACHE_VERSION_MAJOR * 10000 + COROCACHE_VERSION_MINOR * 100 + COROCACHE_VERSION_PATCH);
}

TEST_CASE("the registry lists Redis exactly when the build and the value type allow it",
          "[registry]") {
  const auto names = corocache::registered_backends<std::string>();
  const bool has_redis = std::find(names.begin(), names.end(), "redis") != names.end();
  CHECK(has_redis == bool(COROCACHE_WITH_REDIS));
  const auto point_names = corocache::registered_backends<point>();
  CHECK(std::find(point_names.begin(), point_names.end(), "redis") == point_names.end());
  CHECK(std::find(point_names.begin(), point_names.end(), "memory") != point_names.end());
}

#if COROCACHE_WITH_REDIS
TEST_CASE("a Redis URL for a type without a codec names the type and the codec header",
          "[registry]") {
  for (std::string_view url :
       {"redis://127.0.0.1:6379/0", "unix:///tmp/redis.sock", "rediss://127.0.0.1:6380/0"}) {
    const auto message = message_of_make<point>(url);
    INFO(message);
    CHECK(contains(message, "codec<"));
    CHECK(contains(message, "point>"));
    CHECK(contains(message, "corocache/codec.hpp"));
    CHECK(contains(message, "(registered: memory, null)"));
  }
}

TEST_CASE("a type with a codec gets the Redis backend from a URL", "[registry]") {
  asio::io_context io;
  // Constructing does not connect, so no server is needed.
  CHECK(corocache::make_backend<std::string>("redis://127.0.0.1:1/0", io.get_executor()));
}
#else
TEST_CASE("a memory-only build says that Redis is not in it", "[registry]") {
  const auto message = message_of_make<std::string>("redis://127.0.0.1:6379/0");
  INFO(message);
  CHECK(contains(message, "built without the Redis backend"));
  CHECK(contains(message, "(registered: memory, null)"));
}
#endif

TEST_CASE("an unknown scheme other than Redis gets no Redis explanation", "[registry]") {
  const auto message = message_of_make<point>("memcached://host");
  CHECK_FALSE(contains(message, "codec"));
  CHECK_FALSE(contains(message, "Redis"));
}
