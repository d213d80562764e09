#include "corocache/detail/cluster_slot.hpp"

#include <array>
#include <unordered_map>

namespace corocache::detail {
namespace {

constexpr std::array<std::uint16_t, 256> make_crc16_table() {
  std::array<std::uint16_t, 256> table{};
  for (std::uint16_t byte = 0; byte < 256; ++byte) {
    auto crc = static_cast<std::uint16_t>(byte << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = static_cast<std::uint16_t>((crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    table[byte] = crc;
  }
  return table;
}

constexpr auto crc16_table = make_crc16_table();

}  // namespace

std::uint16_t crc16_xmodem(std::string_view data) noexcept {
  std::uint16_t crc = 0;
  for (const char c : data) {
    const auto index = static_cast<std::uint8_t>((crc >> 8) ^ static_cast<std::uint8_t>(c));
    crc = static_cast<std::uint16_t>((crc << 8) ^ crc16_table[index]);
  }
  return crc;
}

std::string_view cluster_hash_tag(std::string_view key) noexcept {
  const auto open = key.find('{');
  if (open == std::string_view::npos) return key;
  const auto close = key.find('}', open + 1);
  if (close == std::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

std::uint16_t cluster_key_slot(std::string_view key) noexcept {
  return static_cast<std::uint16_t>(crc16_xmodem(cluster_hash_tag(key)) % cluster_slot_count);
}

std::vector<cluster_slot_group> group_by_slot(std::span<const std::string> keys) {
  std::vector<cluster_slot_group> groups;
  std::unordered_map<std::uint16_t, std::size_t> group_of_slot;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto slot = cluster_key_slot(keys[i]);
    const auto [it, added] = group_of_slot.try_emplace(slot, groups.size());
    if (added) groups.push_back({slot, {}});
    groups[it->second].positions.push_back(i);
  }
  return groups;
}

}  // namespace corocache::detail
