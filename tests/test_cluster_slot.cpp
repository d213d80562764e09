// Slot computation and grouping by slot, checked against the spec's vector and against what
// redis-server 7.0's CLUSTER KEYSLOT answers for the same keys.
#include "corocache/detail/cluster_slot.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "support/catch.hpp"

using namespace corocache::detail;

TEST_CASE("CRC16-XMODEM matches the Redis Cluster spec's test vector", "[cluster_slot]") {
  CHECK(crc16_xmodem("123456789") == 0x31C3);
  CHECK(crc16_xmodem("") == 0);
}

TEST_CASE("a key without a usable hash tag hashes whole", "[cluster_slot]") {
  // Values from redis-server 7.0's CLUSTER KEYSLOT.
  CHECK(cluster_key_slot("foo") == 12182);
  CHECK(cluster_key_slot("bar") == 5061);
  CHECK(cluster_key_slot("somekey") == 11058);
  CHECK(cluster_key_slot("123456789") == 12739);
  CHECK(cluster_key_slot("") == 0);
  CHECK(cluster_key_slot("{}") == 15257);    // empty tag: the whole key
  CHECK(cluster_key_slot("{}foo") == 9500);  // empty tag first: the whole key
  CHECK(cluster_key_slot("{") == 4092);      // `{` without `}`
  CHECK(cluster_key_slot("{foo") == 13308);
  CHECK(cluster_key_slot("x{}{y}") == 14166);  // the first `{` decides, even if its tag is empty
  CHECK(cluster_key_slot("}{a}") == 15495);    // a `}` before the `{` does not count
}

TEST_CASE("a hash tag at the start or in the middle decides the slot", "[cluster_slot]") {
  CHECK(cluster_hash_tag("{user:42}:profile") == "user:42");
  CHECK(cluster_key_slot("{user:42}:profile") == cluster_key_slot("user:42"));
  CHECK(cluster_key_slot("{user:42}:profile") == 15880);
  CHECK(cluster_key_slot("{user:42}:orders") == 15880);
  CHECK(cluster_hash_tag("a{b}c") == "b");
  CHECK(cluster_key_slot("a{b}c") == 3300);
  CHECK(cluster_key_slot("{b}{c}") == 3300);  // only the first tag counts
  CHECK(cluster_hash_tag("{}") == "{}");
  CHECK(cluster_hash_tag("x{}{y}") == "x{}{y}");
  CHECK(cluster_hash_tag("a{b") == "a{b");
}

TEST_CASE("a NUL byte is part of the hashed key", "[cluster_slot]") {
  const std::string with_nul("a\0b", 3);
  CHECK(cluster_key_slot(with_nul) != cluster_key_slot("a"));
  CHECK(cluster_key_slot(with_nul) == crc16_xmodem(with_nul) % cluster_slot_count);
}

TEST_CASE("every slot is below 16384", "[cluster_slot]") {
  for (int i = 0; i < 20000; ++i) {
    CHECK(cluster_key_slot("key:" + std::to_string(i)) < cluster_slot_count);
  }
}

TEST_CASE("keys grouped by slot keep the caller's order, duplicates included", "[cluster_slot]") {
  const std::vector<std::string> keys{"foo", "{b}1", "bar", "foo", "{b}2", "b"};
  const auto groups = group_by_slot(keys);
  REQUIRE(groups.size() == 3);
  CHECK(groups[0].slot == 12182);
  CHECK(groups[0].positions == std::vector<std::size_t>{0, 3});
  CHECK(groups[1].slot == 3300);
  CHECK(groups[1].positions == std::vector<std::size_t>{1, 4, 5});
  CHECK(groups[2].slot == 5061);
  CHECK(groups[2].positions == std::vector<std::size_t>{2});

  // What each group's MGET would answer, aligned with its positions.
  std::vector<std::vector<std::optional<std::string>>> results{
      {"v-foo", "v-foo"}, {"v-b1", std::nullopt, "v-b"}, {std::nullopt}};
  const auto merged =
      merge_slot_results<std::optional<std::string>>(groups, std::move(results), keys.size());
  const std::vector<std::optional<std::string>> expected{"v-foo", "v-b1",       std::nullopt,
                                                         "v-foo", std::nullopt, "v-b"};
  CHECK(merged == expected);
}

TEST_CASE("no keys give no groups and an empty merge", "[cluster_slot]") {
  const std::vector<std::string> keys;
  const auto groups = group_by_slot(keys);
  CHECK(groups.empty());
  CHECK(merge_slot_results<int>(groups, {}, 0).empty());
}

TEST_CASE("every position appears in exactly one group", "[cluster_slot]") {
  std::vector<std::string> keys;
  for (int i = 0; i < 500; ++i) keys.push_back("k" + std::to_string(i % 300));
  const auto groups = group_by_slot(keys);
  std::vector<int> seen(keys.size(), 0);
  for (const auto& group : groups) {
    REQUIRE_FALSE(group.positions.empty());
    for (std::size_t i = 0; i < group.positions.size(); ++i) {
      const auto position = group.positions[i];
      ++seen[position];
      CHECK(cluster_key_slot(keys[position]) == group.slot);
      if (i > 0) CHECK(group.positions[i - 1] < position);
    }
  }
  CHECK(std::count(seen.begin(), seen.end(), 1) == static_cast<long>(keys.size()));
}
