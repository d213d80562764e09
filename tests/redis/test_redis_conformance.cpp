// The shared contract suite against RedisCacheBackend on a real redis-server, with real time.
#include <string>
#include <tuple>

#include "redis/redis_conformance_fixture.hpp"
#include "support/redis_server.hpp"

namespace {

std::string server_url() {
  static corocache::test::redis_server server;
  return "redis://127.0.0.1:" + std::to_string(server.port()) + "/0";
}

constexpr char fixture_name[] = "redis";

}  // namespace

using conformance_fixtures =
    std::tuple<corocache::test::redis_conformance_fixture<fixture_name, server_url>>;
#include "conformance/conformance_suite.hpp"
