// cluster_slot_map: which master serves each of the 16384 slots (and which replicas follow it),
// built from a CLUSTER SLOTS reply and patched by MOVED redirects between two refreshes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "corocache/detail/redis_reply.hpp"

namespace corocache::detail {

/// One node of the cluster, as CLUSTER SLOTS names it.
struct cluster_node {
  std::string host;
  std::uint16_t port = 0;
  std::string id;  ///< the node id; empty when learnt from a MOVED redirect

  /// "host:port", how messages name the node.
  [[nodiscard]] std::string description() const;
  /// Same address (the id is not compared: a MOVED redirect does not carry it).
  [[nodiscard]] bool same_address(const cluster_node& other) const noexcept {
    return port == other.port && host == other.host;
  }
};

/// A master and its replicas.
struct cluster_shard {
  cluster_node master;
  std::vector<cluster_node> replicas;
};

class cluster_slot_map {
 public:
  /// A map that covers no slot.
  cluster_slot_map();

  /// Reads a CLUSTER SLOTS reply from the node at `answering_host` (the host given to a node
  /// listed with an empty address). Throws cache_error errc::protocol_error naming `where` when
  /// the reply is not shaped like one. Slot ranges whose master's address is unknown ("?" or
  /// nil) stay uncovered.
  [[nodiscard]] static cluster_slot_map from_cluster_slots(const redis_reply& reply,
                                                           std::string_view answering_host,
                                                           std::string_view where);

  /// The slot's master; nullptr when no known master serves it.
  [[nodiscard]] const cluster_node* master_for(std::uint16_t slot) const;
  /// The shard that serves the slot; nullptr when none does.
  [[nodiscard]] const cluster_shard* shard_for(std::uint16_t slot) const;
  /// Records a MOVED redirect: `slot` is now served by `master`.
  void assign(std::uint16_t slot, const cluster_node& master);

  /// Every shard the map knows, in the order first seen (one per distinct master).
  [[nodiscard]] const std::vector<cluster_shard>& shards() const noexcept { return shards_; }
  /// The number of slots some master serves; 16384 when the cluster is fully covered.
  [[nodiscard]] std::size_t covered_slots() const noexcept;
  [[nodiscard]] bool covers_all() const noexcept;

 private:
  std::size_t shard_index(const cluster_node& master);

  std::vector<cluster_shard> shards_;
  std::vector<std::int32_t> shard_of_slot_;  // index into shards_, -1 when uncovered
};

}  // namespace corocache::detail
