#include "corocache/detail/cluster_slot_map.hpp"

#include <algorithm>
#include <optional>

#include "corocache/detail/cluster_slot.hpp"
#include "corocache/error.hpp"

namespace corocache::detail {
namespace {

using kind = redis_reply::kind;

[[noreturn]] void malformed(std::string_view where, std::string_view what) {
  throw_error(errc::protocol_error,
              "CLUSTER SLOTS from " + std::string(where) + ": " + std::string(what));
}

// A node entry: [host, port, id, (metadata)...]. Empty when its address is unknown.
std::optional<cluster_node> read_node(const redis_reply& entry, std::string_view answering_host,
                                      std::string_view where) {
  if (entry.type != kind::array || entry.elements.size() < 2) {
    malformed(where, "a node entry is not [host, port, ...]");
  }
  const auto& host = entry.elements[0];
  const auto& port = entry.elements[1];
  if (port.type != kind::integer || port.integer < 0 || port.integer > 65535) {
    malformed(where, "a node's port is not a number in 0..65535");
  }
  if (host.type == kind::nil || (host.type == kind::string && host.str == "?")) return std::nullopt;
  if (host.type != kind::string) malformed(where, "a node's host is not a string");
  // Port 0: the node is known but has no usable endpoint (e.g. it is handshaking).
  if (port.integer == 0) return std::nullopt;
  cluster_node node;
  node.host = host.str.empty() ? std::string(answering_host) : host.str;
  node.port = static_cast<std::uint16_t>(port.integer);
  if (entry.elements.size() > 2 && entry.elements[2].type == kind::string) {
    node.id = entry.elements[2].str;
  }
  return node;
}

}  // namespace

std::string cluster_node::description() const {
  // An IPv6 address is bracketed so that the port stays readable.
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

cluster_slot_map::cluster_slot_map() : shard_of_slot_(cluster_slot_count, -1) {}

cluster_slot_map cluster_slot_map::from_cluster_slots(const redis_reply& reply,
                                                      std::string_view answering_host,
                                                      std::string_view where) {
  if (reply.type != kind::array) malformed(where, "the reply is not an array");
  cluster_slot_map map;
  for (const auto& range : reply.elements) {
    if (range.type != kind::array || range.elements.size() < 3) {
      malformed(where, "a slot range is not [start, end, master, replicas...]");
    }
    const auto& start = range.elements[0];
    const auto& end = range.elements[1];
    if (start.type != kind::integer || end.type != kind::integer || start.integer < 0 ||
        end.integer < start.integer || end.integer >= cluster_slot_count) {
      malformed(where, "a slot range's bounds are not 0 <= start <= end < 16384");
    }
    const auto master = read_node(range.elements[2], answering_host, where);
    std::vector<cluster_node> replicas;
    for (std::size_t i = 3; i < range.elements.size(); ++i) {
      if (auto replica = read_node(range.elements[i], answering_host, where)) {
        replicas.push_back(std::move(*replica));
      }
    }
    if (!master) continue;
    const auto index = map.shard_index(*master);
    auto& known = map.shards_[index].replicas;
    for (auto& replica : replicas) {
      const auto same = [&](const cluster_node& n) { return n.same_address(replica); };
      if (std::none_of(known.begin(), known.end(), same)) known.push_back(std::move(replica));
    }
    std::fill(map.shard_of_slot_.begin() + start.integer,
              map.shard_of_slot_.begin() + end.integer + 1, static_cast<std::int32_t>(index));
  }
  return map;
}

std::size_t cluster_slot_map::shard_index(const cluster_node& master) {
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    if (shards_[i].master.same_address(master)) {
      if (shards_[i].master.id.empty()) shards_[i].master.id = master.id;
      return i;
    }
  }
  shards_.push_back({master, {}});
  return shards_.size() - 1;
}

const cluster_shard* cluster_slot_map::shard_for(std::uint16_t slot) const {
  if (slot >= cluster_slot_count) return nullptr;
  const auto index = shard_of_slot_[slot];
  return index < 0 ? nullptr : &shards_[static_cast<std::size_t>(index)];
}

const cluster_node* cluster_slot_map::master_for(std::uint16_t slot) const {
  const auto* shard = shard_for(slot);
  return shard == nullptr ? nullptr : &shard->master;
}

void cluster_slot_map::assign(std::uint16_t slot, const cluster_node& master) {
  if (slot >= cluster_slot_count) return;
  shard_of_slot_[slot] = static_cast<std::int32_t>(shard_index(master));
}

std::size_t cluster_slot_map::covered_slots() const noexcept {
  return static_cast<std::size_t>(
      std::count_if(shard_of_slot_.begin(), shard_of_slot_.end(), [](auto i) { return i >= 0; }));
}

bool cluster_slot_map::covers_all() const noexcept {
  return covered_slots() == cluster_slot_count;
}

}  // namespace corocache::detail
