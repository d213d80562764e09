// cluster_redirect: what a Redis Cluster node's error reply asks the client to do.
//
//   MOVED <slot> <host>:<port>  the slot lives elsewhere for good: update the map, resend there
//   ASK <slot> <host>:<port>    the slot is migrating: send ASKING + the command there, once
//   TRYAGAIN ...                a multi-key command met a slot in mid-migration: retry later
//   CLUSTERDOWN ...             the cluster (or the slot's shard) is failing over: retry later
//   LOADING ...                 the node is loading its data set: retry later
//
// An empty host ("MOVED 3999 :6381") means the host of the node that answered.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace corocache::detail {

struct cluster_redirect {
  enum class kind {
    moved,
    ask,
    try_again,
    cluster_down,
    loading,
    malformed,  ///< MOVED or ASK whose slot or address cannot be read
  };
  kind what = kind::malformed;
  std::uint16_t slot = 0;  ///< MOVED and ASK only
  std::string host;        ///< MOVED and ASK only; may be empty (the answering node's host)
  std::uint16_t port = 0;  ///< MOVED and ASK only

  /// TRYAGAIN, CLUSTERDOWN and LOADING: the command may succeed if sent again after a pause.
  [[nodiscard]] bool retry_later() const noexcept {
    return what == kind::try_again || what == kind::cluster_down || what == kind::loading;
  }
};

/// Reads an error reply's message (hiredis's, without the leading '-'); empty when the error is
/// not one of the cluster's (an ordinary server error such as WRONGTYPE).
[[nodiscard]] std::optional<cluster_redirect> parse_cluster_error(std::string_view message);

/// Splits "host:port" at the last ':' (so "::1:6379" is IPv6); empty when the port is not a
/// number in 1..65535.
[[nodiscard]] std::optional<std::pair<std::string, std::uint16_t>> split_host_port(
    std::string_view address);

}  // namespace corocache::detail
