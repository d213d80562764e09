// Hostile inputs every CacheBackend<std::string> must survive, written once and run against each
// backend (test_hostile_input.cpp, test_redis_hostile_input.cpp): awkward and huge keys, huge key
// lists, extreme TTLs and counters, and glob patterns built to overreach or to backtrack.
// Each case expects the correct result or a cache_error with a meaningful errc, never a crash, a
// hang or a change to a key the operation does not name.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "corocache/cache_backend.hpp"
#include "corocache/error.hpp"
#include "corocache/glob.hpp"
#include "support/catch.hpp"
#include "support/error_of.hpp"

namespace corocache::test::hostile {

using string_cache = CacheBackend<std::string>;
using namespace std::string_literals;

/// Makes `duration` pass for the backend: a manual clock advances, a real server is waited for.
using let_time_pass = std::function<asio::awaitable<void>(std::chrono::milliseconds)>;

/// Keys that trouble text protocols, glob matchers and UTF-8 decoders; all are valid keys.
inline std::vector<std::string> awkward_keys() {
  return {""s,
          "\0"s,
          "nul\0inside"s,
          "\r\n"s,
          "cr\rlf\n"s,
          "*"s,
          "?"s,
          "["s,
          "]"s,
          "[a-z]"s,
          "\\"s,
          "a*b?c[d]\\e"s,
          "^-"s,
          "\xff\xfe\x80"s,
          "\xc3\x28"s,
          " "s,
          "two words"s,
          "*1\r\n$4\r\nPING\r\n"s,
          "$-1\r\n"s,
          "a"s};
}

/// The value stored under `key` by these checks: it names its key, so a mix-up shows.
inline std::string value_for(std::string_view key) {
  return "value of " + std::string(key);
}

using corocache::test::error_of;

inline asio::awaitable<void> store_all(string_cache& cache, const std::vector<std::string>& keys) {
  string_cache::item_list items;
  for (const auto& key : keys) items.emplace_back(key, value_for(key));
  CHECK(co_await cache.set_many(std::move(items)));
}

/// Checks that each key holds value_for(key) exactly when `present(key)`.
template <class Present>
asio::awaitable<void> check_contents(string_cache& cache, const std::vector<std::string>& keys,
                                     Present present) {
  auto keys_copy = keys;
  const auto values = co_await cache.get_many(std::move(keys_copy));
  REQUIRE(values.size() == keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    INFO("key " << detail::printable_key(keys[i]));
    if (present(keys[i])) {
      CHECK(values[i] == value_for(keys[i]));
    } else {
      CHECK_FALSE(values[i].has_value());
    }
  }
}

/// Every awkward key round-trips through set, get, exists, get_many and erase, and erasing one
/// leaves the others alone.
inline asio::awaitable<void> check_awkward_keys_round_trip(string_cache& cache) {
  const auto keys = awkward_keys();
  for (const auto& key : keys) {
    INFO("key " << detail::printable_key(key));
    CHECK(co_await cache.set(key, value_for(key)));
    CHECK(co_await cache.get(key) == value_for(key));
    CHECK(co_await cache.exists(key));
  }
  co_await check_contents(cache, keys, [](const std::string&) { return true; });
  for (std::size_t i = 0; i < keys.size(); ++i) {
    INFO("erasing key " << detail::printable_key(keys[i]));
    CHECK(co_await cache.erase(keys[i]));
    co_await check_contents(cache, keys, [&](const std::string& k) {
      for (std::size_t j = 0; j <= i; ++j)
        if (keys[j] == k) return false;
      return true;
    });
  }
}

/// Patterns meant to overreach: invalidate_pattern(p) removes exactly the keys glob_match(p, key)
/// selects, and glob_escape(key) selects that key alone.
inline asio::awaitable<void> check_patterns_remove_exactly_their_matches(string_cache& cache) {
  const auto keys = awkward_keys();
  std::vector<std::string> patterns = {"*"s,     "?"s,   "["s,      "[^"s,  "\\"s,    "*\\"s,
                                       "[a-"s,   "\0*"s, "*\r\n*"s, "[]*"s, "[^a]*"s, "**?**"s,
                                       "\xff*"s, "*]"s,  "[\\"s,    "a[*"s, ""s};
  for (const auto& key : keys) patterns.push_back(glob_escape(key));
  for (const auto& pattern : patterns) {
    INFO("pattern " << detail::printable_key(pattern));
    co_await store_all(cache, keys);
    std::size_t expected = 0;
    for (const auto& key : keys) expected += glob_match(pattern, key) ? 1 : 0;
    CHECK(co_await cache.invalidate_pattern(pattern) == expected);
    co_await check_contents(cache, keys,
                            [&](const std::string& k) { return !glob_match(pattern, k); });
  }
  for (const auto& key : keys) {
    std::size_t matches = 0;
    for (const auto& other : keys) matches += glob_match(glob_escape(key), other) ? 1 : 0;
    CHECK(matches == 1);
  }
}

/// Patterns that make a naive matcher backtrack exponentially finish quickly and match nothing.
inline asio::awaitable<void> check_backtracking_patterns_finish(string_cache& cache) {
  const std::vector<std::string> keys = {std::string(64, 'a'), std::string(3000, 'a'),
                                         std::string(100, '*')};
  co_await store_all(cache, keys);
  std::string nested;
  for (int i = 0; i < 30; ++i) nested += "*a";
  std::string deep;
  for (int i = 0; i < 2000; ++i) deep += "a*";
  for (const auto& pattern : {nested + "b", deep + "b", std::string(5000, '*') + "b"}) {
    CHECK(co_await cache.invalidate_pattern(pattern) == 0);
  }
  co_await check_contents(cache, keys, [](const std::string&) { return true; });
}

/// A 1 MiB key (every byte value, glob metacharacters included) works for every operation.
inline asio::awaitable<void> check_huge_keys(string_cache& cache) {
  std::string mixed(1 << 20, '\0');
  for (std::size_t i = 0; i < mixed.size(); ++i) mixed[i] = static_cast<char>(i * 7 % 256);
  const std::vector<std::string> keys = {mixed, std::string(1 << 20, '*'), "small"};
  co_await store_all(cache, keys);
  for (const auto& key : keys) {
    CHECK(co_await cache.get(key) == value_for(key));
    CHECK(co_await cache.exists(key));
  }
  co_await check_contents(cache, keys, [](const std::string&) { return true; });
  CHECK(co_await cache.invalidate_pattern(glob_escape(mixed)) == 1);
  co_await check_contents(cache, keys, [&](const std::string& k) { return k != mixed; });
  CHECK(co_await cache.erase(keys[1]));
  CHECK(co_await cache.get(keys[2]) == value_for(keys[2]));
  std::string huge_value(4 << 20, 'v');
  CHECK(co_await cache.set(mixed, huge_value));
  CHECK(co_await cache.get(mixed) == huge_value);
}

/// get_many over 100k keys answers each key in order, duplicates and misses included.
inline asio::awaitable<void> check_huge_key_lists(string_cache& cache) {
  constexpr std::size_t count = 100'000;
  string_cache::item_list items;
  std::vector<std::string> keys;
  keys.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    keys.push_back("k" + std::to_string(i));
    if (i % 2 == 0) items.emplace_back(keys.back(), value_for(keys.back()));
  }
  CHECK(co_await cache.set_many(std::move(items)));
  co_await check_contents(cache, keys,
                          [](const std::string& k) { return std::stoul(k.substr(1)) % 2 == 0; });
  std::vector<std::string> same(count, "k0");
  const auto values = co_await cache.get_many(std::move(same));
  REQUIRE(values.size() == count);
  std::size_t right = 0;
  for (const auto& v : values) right += v == value_for("k0") ? 1 : 0;
  CHECK(right == count);
  std::vector<std::string> odd_and_even = {"k1", "k2"};
  CHECK(co_await cache.erase_many(std::move(odd_and_even)) == 1);
}

/// A 1 ms TTL expires, a century-long one keeps the value, a TTL <= 0 is invalid_argument.
inline asio::awaitable<void> check_extreme_ttls(string_cache& cache, let_time_pass wait) {
  using std::chrono::milliseconds;
  CHECK(co_await cache.set("brief", "x", milliseconds(1)));
  CHECK(co_await cache.incr("brief counter", 1, 0, milliseconds(1)) == 1);
  string_cache::item_list items = {{"brief item", "y"}};
  CHECK(co_await cache.set_many(std::move(items), milliseconds(1)));
  co_await wait(milliseconds(50));
  CHECK_FALSE(co_await cache.get("brief"));
  CHECK_FALSE(co_await cache.exists("brief counter"));
  CHECK_FALSE(co_await cache.get("brief item"));
  CHECK(co_await cache.incr("brief counter") == 1);  // a new counter, the old one expired

  const milliseconds century = std::chrono::hours(24 * 365 * 100);
  CHECK(co_await cache.set("century", "x", century));
  CHECK(co_await cache.incr("century counter", 5, 0, century) == 5);
  co_await wait(milliseconds(50));
  CHECK(co_await cache.get("century") == "x");
  CHECK(co_await cache.incr("century counter") == 6);
  CHECK(co_await error_of(cache.set("zero", "x", milliseconds(0))) == errc::invalid_argument);
  CHECK(co_await error_of(cache.set("negative", "x", milliseconds::min())) ==
        errc::invalid_argument);
  CHECK_FALSE(co_await cache.exists("zero"));
}

/// TTLs near the largest duration either keep the value or fail with a cache_error that leaves
/// the key as it was; never a value that vanishes at once.
inline asio::awaitable<void> check_largest_ttls(string_cache& cache, let_time_pass wait) {
  using std::chrono::milliseconds;
  for (const auto ttl :
       {milliseconds::max(), milliseconds(std::numeric_limits<std::int64_t>::max() / 2)}) {
    INFO("TTL " << ttl.count() << " ms");
    CHECK(co_await cache.set("forever", "before"));
    const auto failure = co_await error_of(cache.set("forever", "after", ttl));
    CHECK((failure == std::nullopt || failure == errc::invalid_argument ||
           failure == errc::server_error));
    co_await wait(milliseconds(50));
    CHECK(co_await cache.get("forever") == (failure ? "before" : "after"));
  }
}

/// Counters at the ends of int64 fail with errc::overflow and keep their value; stored values
/// that are not int64 counters fail with not_a_counter (or overflow) and are kept too.
inline asio::awaitable<void> check_counter_limits(string_cache& cache) {
  constexpr auto max = std::numeric_limits<std::int64_t>::max();
  constexpr auto min = std::numeric_limits<std::int64_t>::min();
  CHECK(co_await cache.incr("top", 0, max) == max);
  CHECK(co_await error_of(cache.incr("top")) == errc::overflow);
  CHECK(co_await error_of(cache.incr("top", max)) == errc::overflow);
  CHECK(co_await cache.get("top") == std::to_string(max));
  CHECK(co_await cache.decr("bottom", 0, min) == min);
  CHECK(co_await error_of(cache.decr("bottom")) == errc::overflow);
  CHECK(co_await error_of(cache.incr("bottom", min)) == errc::overflow);
  CHECK(co_await cache.get("bottom") == std::to_string(min));
  CHECK(co_await error_of(cache.decr("any", min)) == errc::overflow);
  CHECK(co_await error_of(cache.incr("fresh", 1, max)) == errc::overflow);
  CHECK_FALSE(co_await cache.exists("fresh"));
  CHECK(co_await cache.incr("top", min) == -1);

  for (const auto& stored : {"abc"s, ""s, "1.5"s, "1\0"s, "\xff"s}) {
    INFO("stored " << detail::printable_key(stored));
    CHECK(co_await cache.set("text", stored));
    CHECK(co_await error_of(cache.incr("text")) == errc::not_a_counter);
    CHECK(co_await cache.get("text") == stored);
  }
  for (const auto& stored :
       {"9223372036854775808"s, "-9223372036854775809"s, "99999999999999999999999"s}) {
    INFO("stored " << stored);
    CHECK(co_await cache.set("wide", stored));
    const auto failure = co_await error_of(cache.incr("wide", 0));
    CHECK((failure == errc::not_a_counter || failure == errc::overflow));
    CHECK(co_await cache.get("wide") == stored);
  }
}

}  // namespace corocache::test::hostile
