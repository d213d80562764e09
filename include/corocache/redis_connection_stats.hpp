// redis_connection_stats: the name RedisCacheBackend::connection_stats() returned first; the
// counters are connection_stats (connection_stats.hpp), the shape cache_stats::connection has.
#pragma once

#include "corocache/connection_stats.hpp"

namespace corocache {

/// The counters of a Redis backend's connection: connection_stats under its earlier name.
using redis_connection_stats = connection_stats;

}  // namespace corocache
