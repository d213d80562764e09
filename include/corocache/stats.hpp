// One stats shape for every backend and decorator: cache_stats.
//
// Which parts are filled depends on what counted them:
// - hits, misses, sets, errors: the instrumented decorator (instrumented.hpp), which counts every
//   operation of the backend it wraps (reads where the backend counts them itself, see
//   read_counts); plus the failures a fail_open inside it absorbed.
// - evictions, expirations: a memory backend (empty for the others).
// - connection: a networked backend's connection counters (connection_stats.hpp), read from the
//   backend by the instrumented decorator (the Redis backend has them); empty for the others.
// - loads: what get_or_set did (every backend counts this itself, off the hit path).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "corocache/connection_stats.hpp"
#include "corocache/error.hpp"

namespace corocache {

/// errc values index these counts directly (errc values start at 1; slot 0 stays 0).
inline constexpr std::size_t errc_slots = 32;
using errc_counts = std::array<std::uint64_t, errc_slots>;

/// The slot of `code` in errc_counts.
[[nodiscard]] constexpr std::size_t errc_slot(errc code) noexcept {
  const auto i = static_cast<std::size_t>(code);
  return i < errc_slots ? i : 0;
}

/// What a backend counts of its own reads: every get() and every key of get_many(), whatever
/// their outcome (CacheBackend<T>::own_read_counts()).
struct read_counts {
  std::uint64_t hits = 0;    ///< reads that found a value
  std::uint64_t misses = 0;  ///< reads that found none
  errc_counts errors{};      ///< reads that failed, by errc (a get_many counts once)
};

/// What get_or_set did on one backend object.
struct load_counters {
  std::uint64_t loads = 0;             ///< loader runs started for a miss
  std::uint64_t load_failures = 0;     ///< loads (or their store) that threw
  std::uint64_t shared_waits = 0;      ///< callers served by a load another caller started
  std::uint64_t unshared_loads = 0;    ///< loads run alone because the table was full
  std::uint64_t refreshes = 0;         ///< stale-while-revalidate background refreshes started
  std::uint64_t refresh_failures = 0;  ///< background refreshes that threw
  std::uint64_t lock_waits = 0;        ///< waits for another process's load (stampede lock)
  std::uint64_t lock_timeouts = 0;     ///< lock waits that ran out and loaded without the lock
};

/// What a backend (and the decorators around it) counted, in one shape for all of them.
struct cache_stats {
  std::string backend;                       ///< the name it was instrumented under, e.g. "redis"
  std::uint64_t hits = 0;                    ///< get/get_many keys found
  std::uint64_t misses = 0;                  ///< get/get_many keys not found
  std::uint64_t sets = 0;                    ///< set calls, and set_many items
  errc_counts errors{};                      ///< failed operations (and absorbed failures), by errc
  std::optional<std::uint64_t> evictions;    ///< memory backend only
  std::optional<std::uint64_t> expirations;  ///< memory backend only
  std::optional<connection_stats> connection;  ///< a networked backend's connection (Redis)
  load_counters loads;                         ///< what get_or_set did on this backend object

  /// Every failure counted in `errors`, whatever its errc.
  [[nodiscard]] std::uint64_t errors_total() const noexcept {
    std::uint64_t total = 0;
    for (auto n : errors) total += n;
    return total;
  }
};

}  // namespace corocache
