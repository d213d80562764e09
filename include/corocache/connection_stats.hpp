// connection_stats: what a networked backend's connection has done so far, the shape shared by
// RedisCacheBackend::connection_stats() and cache_stats::connection.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "corocache/error.hpp"

namespace corocache {

/// Counters of one connection since it was created (RedisCacheBackend::connection_stats(), and
/// cache_stats::connection through instrumented<T>). Each is read on its own: a snapshot taken
/// while operations run is not one instant.
struct connection_stats {
  /// Commands written to the server (caller commands, handshakes and health checks).
  std::uint64_t commands_sent = 0;
  /// Replies read from the server.
  std::uint64_t replies = 0;
  /// Operations that failed with errc::timeout (a command or a connect attempt took too long).
  std::uint64_t timeouts = 0;
  /// Operations cancelled by their caller (errc::cancelled).
  std::uint64_t cancellations = 0;
  /// Connections lost or reset (the server closed it, a write failed, a command or health check
  /// got no reply in time).
  std::uint64_t disconnects = 0;
  /// Connections re-established after one was lost.
  std::uint64_t reconnects = 0;
  /// Connect attempts whose AUTH or SELECT the server refused.
  std::uint64_t handshake_failures = 0;
  /// Health-check PINGs sent on an idle connection.
  std::uint64_t health_checks = 0;
  /// Callers' operations submitted and not completed yet.
  std::uint64_t in_flight = 0;
  /// Operations that failed, indexed by the value of their errc (errors[0] is unused).
  std::array<std::uint64_t, static_cast<std::size_t>(errc::cancelled) + 1> errors{};

  /// How many operations failed with `code`.
  [[nodiscard]] std::uint64_t errors_with(errc code) const {
    const auto index = static_cast<std::size_t>(code);
    return index < errors.size() ? errors[index] : 0;
  }
};

/// A backend with a connection whose counters it reports; instrumented<T> puts them in
/// cache_stats::connection.
class connection_stats_source {
 public:
  virtual ~connection_stats_source() = default;
  /// The connection's counters now.
  [[nodiscard]] virtual corocache::connection_stats connection_stats() const = 0;
};

}  // namespace corocache
