// cluster_slot: which of Redis Cluster's 16384 hash slots a key belongs to, and keys grouped by
// slot so that a multi-key operation sends one command per slot and merges the replies back into
// the caller's order.
//
// The key is the stored key (prefix included): a `{` in the prefix makes the prefix the hash tag
// of every key, so all of them land in one slot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corocache::detail {

inline constexpr std::uint16_t cluster_slot_count = 16384;

/// CRC16-XMODEM (polynomial 0x1021, initial value 0), the checksum Redis Cluster uses.
[[nodiscard]] std::uint16_t crc16_xmodem(std::string_view data) noexcept;

/// The part of `key` that is hashed: the hash tag (between the first `{` and the next `}`) when
/// it is non-empty, otherwise the whole key.
[[nodiscard]] std::string_view cluster_hash_tag(std::string_view key) noexcept;

/// The key's slot: CRC16 of its hash tag modulo 16384.
[[nodiscard]] std::uint16_t cluster_key_slot(std::string_view key) noexcept;

/// The keys of one slot: their positions in the caller's list, ascending.
struct cluster_slot_group {
  std::uint16_t slot = 0;
  std::vector<std::size_t> positions;
};

/// Groups `keys` by slot, groups in the order of their first key; duplicates keep a position each.
[[nodiscard]] std::vector<cluster_slot_group> group_by_slot(std::span<const std::string> keys);

/// Puts each group's results (aligned with its positions) back in the caller's order.
template <class T>
[[nodiscard]] std::vector<T> merge_slot_results(std::span<const cluster_slot_group> groups,
                                                std::vector<std::vector<T>> results,
                                                std::size_t key_count) {
  std::vector<T> merged(key_count);
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto& positions = groups[g].positions;
    for (std::size_t i = 0; i < positions.size() && i < results[g].size(); ++i) {
      merged[positions[i]] = std::move(results[g][i]);
    }
  }
  return merged;
}

}  // namespace corocache::detail
