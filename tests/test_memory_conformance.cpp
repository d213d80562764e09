// The shared contract suite against MemoryCacheBackend, on a manual clock.
#include <string>
#include <tuple>

#include "corocache/memory_backend.hpp"
#include "support/manual_clock.hpp"

namespace {

template <std::size_t Shards, corocache::eviction_policy Policy>
struct memory_fixture {
  using value_type = std::string;
  static constexpr const char* name = "memory";

  explicit memory_fixture(asio::any_io_executor)
      : cache(corocache::memory_options{
            .max_size = 1000, .shards = Shards, .clock = clock.source(), .eviction = Policy}) {}

  corocache::CacheBackend<std::string>& backend() { return cache; }

  asio::awaitable<void> elapse(std::chrono::milliseconds duration) {
    clock.advance(duration);
    co_return;
  }

  std::chrono::milliseconds short_ttl() const { return std::chrono::seconds(1); }

  corocache::test::manual_clock clock;
  corocache::MemoryCacheBackend<std::string> cache;
};

}  // namespace

using corocache::eviction_policy;
using conformance_fixtures =
    std::tuple<memory_fixture<1, eviction_policy::lru>, memory_fixture<8, eviction_policy::lru>,
               memory_fixture<1, eviction_policy::s3_fifo>,
               memory_fixture<8, eviction_policy::s3_fifo>>;
#include "conformance/conformance_suite.hpp"
