// The shared contract suite against RedisCacheBackend over rediss://, on a TLS-only redis-server
// with certificates made for the run. Registered as one test (not one per case) so that the
// certificates and the server are made once.
#include <string>
#include <tuple>

#include "redis/redis_conformance_fixture.hpp"
#include "support/redis_server.hpp"
#include "support/redis_tls.hpp"

namespace {

struct tls_server {
  corocache::test::tls_certificates certificates;
  corocache::test::redis_server server{certificates.server_options()};
};

std::string server_url() {
  static tls_server instance;
  return instance.certificates.url(instance.server);
}

constexpr char fixture_name[] = "redis over TLS";

}  // namespace

using conformance_fixtures =
    std::tuple<corocache::test::redis_conformance_fixture<fixture_name, server_url>>;
#include "conformance/conformance_suite.hpp"
