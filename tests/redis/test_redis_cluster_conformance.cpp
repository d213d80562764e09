// The shared contract suite against RedisCacheBackend over redis-cluster://, on the executable's
// local cluster (3 masters + 3 replicas): the same cases as on one server, unchanged. Each case's
// unique prefix spreads its keys over the three masters.
#include <string>
#include <tuple>

#include "redis/redis_conformance_fixture.hpp"
#include "support/redis_cluster.hpp"

namespace {

std::string cluster_url() {
  auto& cluster = corocache::test::shared_redis_cluster();
  return "redis-cluster://127.0.0.1:" + std::to_string(cluster.port(0)) +
         ",127.0.0.1:" + std::to_string(cluster.port(1));
}

constexpr char fixture_name[] = "redis cluster";

}  // namespace

using conformance_fixtures =
    std::tuple<corocache::test::redis_conformance_fixture<fixture_name, cluster_url>>;
#include "conformance/conformance_suite.hpp"
