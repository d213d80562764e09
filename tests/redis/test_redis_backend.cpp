// RedisCacheBackend beyond the shared contract: prefixes, glob agreement with the server, binary
// data, large values, TTL lookup, sets, codecs, counters and lifecycle, against real servers.
#include "corocache/redis_backend.hpp"

#include <algorithm>
#include <atomic>
#include <set>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "corocache/glob.hpp"
#include "redis/redis_test_support.hpp"
#include "support/catch.hpp"
#include "support/redis_server.hpp"
#include "support/run_coroutine.hpp"

using corocache::errc;
using corocache::redis_options;
using corocache::RedisCacheBackend;
using corocache::test::error_of;
using corocache::test::redis_server;
using corocache::test::run_coroutine;
using namespace std::chrono_literals;
using namespace std::string_literals;

namespace {

redis_server& shared_server() {
  static redis_server server;
  return server;
}

std::string url_of(const redis_server& server, int db = 0) {
  return "redis://127.0.0.1:" + std::to_string(server.port()) + "/" + std::to_string(db);
}

std::string unique_prefix(const std::string& name) {
  static std::atomic<int> next{0};
  return name + ":" + std::to_string(next++) + ":";
}

redis_options options_for(std::string prefix) {
  return redis_options{.url = url_of(shared_server()), .prefix = std::move(prefix)};
}

std::set<std::string> sorted(std::vector<std::string> values) {
  return {values.begin(), values.end()};
}

// Every key the server's SCAN MATCH `pattern` returns, over a whole scan.
asio::awaitable<std::set<std::string>> scan_match(corocache::detail::redis_connection& connection,
                                                  std::string pattern) {
  std::set<std::string> keys;
  std::string cursor = "0";
  do {
    corocache::detail::redis_command scan{"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
    const auto reply = co_await connection.execute(std::move(scan));
    REQUIRE(reply.type == corocache::detail::redis_reply::kind::array);
    cursor = reply.elements.at(0).str;
    for (const auto& key : reply.elements.at(1).elements) keys.insert(key.str);
  } while (cursor != "0");
  co_return keys;
}

}  // namespace

TEST_CASE("two backends with different prefixes on one database never see each other's keys",
          "[redis_backend]") {
  run_coroutine([](asio::any_io_executor ex) -> asio::awaitable<void> {
    const auto prefix_a = unique_prefix("a");
    const auto prefix_b = unique_prefix("b");
    RedisCacheBackend<std::string> a(ex, options_for(prefix_a));
    RedisCacheBackend<std::string> b(ex, options_for(prefix_b));
    RedisCacheBackend<std::string> raw(ex, options_for(""));
    co_await a.initialize();
    co_await b.initialize();
    co_await raw.initialize();

    co_await a.set("k", "from a");
    co_await b.set("k", "from b");
    co_await b.set("other", "b only");
    CHECK(co_await a.get("k") == "from a");
    CHECK(co_await b.get("k") == "from b");
    CHECK_FALSE(co_await a.exists("other"));
    CHECK(co_await raw.get(prefix_a + "k") == "from a");  // stored as prefix + key

    CHECK(co_await a.invalidate_pattern("*") == 1);
    CHECK(co_await b.get("k") == "from b");
    co_await a.set("k", "again");
    CHECK(co_await b.clear());
    CHECK(co_await a.get("k") == "again");
    CHECK_FALSE(co_await b.exists("k"));
    CHECK(co_await a.erase("k"));
  });
}

TEST_CASE("glob_match agrees with the server's SCAN MATCH on tricky patterns", "[redis_backend]") {
  redis_server server;  // its own database: SCAN sees exactly these keys
  const std::vector<std::string> keys{"a",
                                      "b",
                                      "c",
                                      "z",
                                      "A",
                                      "-",
                                      "abc",
                                      "abbc",
                                      "ac",
                                      "a*c",
                                      "a?c",
                                      "a[c",
                                      "a]c",
                                      "a\\c",
                                      "a-c",
                                      "a^c",
                                      "a!c",
                                      "[",
                                      "]",
                                      "\\",
                                      "*",
                                      "?",
                                      "a\\",
                                      "a[",
                                      "\x80",
                                      "\xff",
                                      "a\x80"
                                      "c",
                                      "a\xff"
                                      "c",
                                      "\x7f",
                                      "a\0c"s,
                                      "a\r\nc",
                                      "x[abc]y",
                                      "aaaaaaaaaaaaaaaaaaaaab"};
  const std::vector<std::string> patterns{"*",           "**",          "a*",
                                          "*c",          "a*c",         "*a*",
                                          "?",           "??",          "???",
                                          "a?c",         "[abc]",       "a[bc]c",
                                          "a[*?]c",      "[^a]",        "a[^b]c",
                                          "[!a]",        "[a-z]",       "[z-a]",
                                          "a[a-c]c",     "[A-Z]",       "[a-]",
                                          "[-a]",        "[]]",         "[]a]",
                                          "[^]",         "a\\*c",       "a\\?c",
                                          "a\\[c",       "a[\\]]c",     "a[\\-]c",
                                          "\\a",         "a[",          "a[c",
                                          "[",           "a[b",         "[^",
                                          "a\\",         "\\",          "a\\\\c",
                                          "a\\\\",       "[\x80-\xff]", "[\xff-\x80]",
                                          "a\x80*",      "*\xff",       "a[\x80-\xff]c",
                                          "[\x7f-\x80]", "a\0c"s,       "a\r\n?",
                                          "x\\[abc]y",   "x[[]abc]y",   "a*a*a*a*a*a*a*b",
                                          "*[",          "*\\"};
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    RedisCacheBackend<std::string> raw(ex, url_of(server), "");
    co_await raw.initialize();
    corocache::CacheBackend<std::string>::item_list items;
    for (const auto& key : keys) items.emplace_back(key, "v");
    co_await raw.set_many(items);

    auto connection =
        corocache::detail::redis_connection::create(ex, corocache::test::options_for(server));
    co_await connection->connect();
    for (const auto& pattern : patterns) {
      std::set<std::string> expected;
      for (const auto& key : keys)
        if (corocache::glob_match(pattern, key)) expected.insert(key);
      INFO("pattern " << corocache::detail::printable_key(pattern));
      CHECK(co_await scan_match(*connection, pattern) == expected);
    }
    co_await connection->close();
  });
}

TEST_CASE("invalidate_pattern matches only under the prefix, even one full of glob characters",
          "[redis_backend]") {
  run_coroutine([](asio::any_io_executor ex) -> asio::awaitable<void> {
    const auto prefix = unique_prefix("g[*?\\]");
    RedisCacheBackend<std::string> cache(ex, options_for(prefix));
    RedisCacheBackend<std::string> neighbour(ex, options_for(unique_prefix("g_")));
    co_await cache.initialize();
    co_await neighbour.initialize();
    corocache::CacheBackend<std::string>::item_list items{
        {"user:1", "a"}, {"user:2", "b"}, {"user:10", "c"}, {"session:1", "d"}, {"", "e"}};
    co_await cache.set_many(items);
    co_await neighbour.set_many(items);

    CHECK(co_await cache.invalidate_pattern("user:?") == 2);
    CHECK(co_await cache.invalidate_pattern("user:?") == 0);
    CHECK(co_await cache.get("user:10") == "c");
    CHECK(co_await cache.invalidate_pattern("*") == 3);  // the empty key too
    CHECK_FALSE(co_await cache.exists(""));
    CHECK(co_await neighbour.invalidate_pattern("*") == 5);
  });
}

TEST_CASE("clear and invalidate_pattern go through many SCAN pages", "[redis_backend]") {
  run_coroutine([](asio::any_io_executor ex) -> asio::awaitable<void> {
    RedisCacheBackend<std::string> cache(ex, options_for(unique_prefix("pages")));
    co_await cache.initialize();
    corocache::CacheBackend<std::string>::item_list items;
    for (int i = 0; i < 2500; ++i) items.emplace_back("k" + std::to_string(i), "v");
    co_await cache.set_many(items);
    CHECK(co_await cache.invalidate_pattern("k1*") == 1111);
    CHECK(co_await cache.exists("k2499"));
    CHECK(co_await cache.clear());
    CHECK(co_await cache.invalidate_pattern("*") == 0);
  });
}

TEST_CASE("keys and values with NUL, CR and LF bytes round-trip", "[redis_backend]") {
  run_coroutine([](asio::any_io_executor ex) -> asio::awaitable<void> {
    RedisCacheBackend<std::string> cache(ex, options_for(unique_prefix("binary")));
    co_await cache.initialize();
    const auto key = "k\0e\r\ny*"s;
    const auto value = "\0\r\n$3\r\nabc\r\n\xff"s;
    CHECK(co_await cache.set(key, value));
    CHECK(co_await cache.get(key) == value);
    CHECK_FALSE(co_await cache.exists("k"));
    std::vector<std::string> keys{key, "k"};
    const auto values = co_await cache.get_many(keys);
    REQUIRE(values.size() == 2);
    CHECK(values[0] == value);
    CHECK_FALSE(values[1]);
    CHECK(co_await cache.invalidate_pattern("k\0e\r\ny\\*"s) == 1);

    RedisCacheBackend<std::vector<std::byte>> bytes(ex, options_for(unique_prefix("bytes")));
    co_await bytes.initialize();
    std::vector<std::byte> blob{std::byte{0}, std::byte{13}, std::byte{10}, std::byte{255}};
    co_await bytes.set(key, blob);
    CHECK(co_await bytes.get(key) == blob);
  });
}

TEST_CASE("a 16 MiB value round-trips intact", "[redis_backend]") {
  run_coroutine([](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto options = options_for(unique_prefix("large"));
    options.command_timeout = 30s;  // sanitizer builds copy 16 MiB slowly
    RedisCacheBackend<std::string> cache(ex, options);
    co_await cache.initialize();
    std::string value(16 * 1024 * 1024, '\0');
    for (std::size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>(i * 7919 % 251);
    CHECK(co_await cache.set("big", value));
    const auto back = co_await cache.get("big");
    REQUIRE(back);
    CHECK(back->size() == value.size());
    CHECK(*back == value);
    CHECK(co_await cache.erase("big"));
  });
}

TEST_CASE("get_ttl tells a missing key, a key without expiry and the remaining time apart",
          "[redis_backend]") {
  run_coroutine([](asio::any_io_executor ex) -> asio::awaitable<void> {
    RedisCacheBackend<std::string> cache(ex, options_for(unique_prefix("ttl")));
    co_await cache.initialize();
    CHECK_FALSE(co_await cache.get_ttl("missing"));
    co_await cache.set("forever", "v");
    CHECK(co_await cache.get_ttl("forever") == corocache::no_expiry);

    co_await cache.set("k", "v", 60s);
    const auto ttl = co_await cache.get_ttl("k");
    REQUIRE(ttl);
    CHECK(*ttl > 0ms);
    CHECK(*ttl <= 60s);
    co_await cache.set("k", "v");
    CHECK(co_await cache.get_ttl("k") == corocache::no_expiry);

    corocache::CacheBackend<std::string>::item_list items{{"m1", "a"}, {"m2", "b"}};
    co_await cache.set_many(items, 60s);
    for (const auto* key : {"m1", "m2"}) {
      const auto item_ttl = co_await cache.get_ttl(key);
      REQUIRE(item_ttl);
      CHECK(*item_ttl > 0ms);
    }
  });
}

TEST_CASE("counters create with a TTL once and keep their expiry afterwards", "[redis_backend]") {
  run_coroutine([](asio::any_io_executor ex) -> asio::awaitable<void> {
    RedisCacheBackend<std::string> cache(ex, options_for(unique_prefix("counter")));
    co_await cache.initialize();
    CHECK(co_await cache.incr("hits", 5, 100, 60s) == 105);
    const auto created = co_await cache.get_ttl("hits");
    REQUIRE(created);
    CHECK(*created > 0ms);
    CHECK(co_await cache.decr("hits", 10, 0, 1s) == 95);
    const auto kept = co_await cache.get_ttl("hits");
    REQUIRE(kept);
    CHECK(*kept > 1s);  // the later TTL did not apply
    CHECK(co_await cache.incr("plain") == 1);
    CHECK(co_await cache.get_ttl("plain") == corocache::no_expiry);
  });
}

TEST_CASE("counters are exact across the whole int64 range", "[redis_backend]") {
  run_coroutine([](asio::any_io_executor ex) -> asio::awaitable<void> {
    RedisCacheBackend<std::int64_t> cache(ex, options_for(unique_prefix("range")));
    co_await cache.initialize();
    constexpr auto max = std::numeric_limits<std::int64_t>::max();
    constexpr auto min = std::numeric_limits<std::int64_t>::min();
    CHECK(co_await cache.incr("n", 1, max - 1) == max);  // beyond 2^53, where doubles round
    CHECK(co_await error_of(cache.incr("n")) == errc::overflow);
    CHECK(co_await cache.get("n") == max);
    CHECK(co_await cache.decr("m", 1, min + 1) == min);
    CHECK(co_await error_of(cache.decr("m")) == errc::overflow);
    CHECK(co_await error_of(cache.incr("fresh", max, 1)) == errc::overflow);
    CHECK_FALSE(co_await cache.exists("fresh"));  // a failed creation leaves nothing behind
  });
}

TEST_CASE("a counter stays within the range of a narrow value type", "[redis_backend]") {
  run_coroutine([](asio::any_io_executor ex) -> asio::awaitable<void> {
    RedisCacheBackend<std::int16_t> cache(ex, options_for(unique_prefix("int16")));
    co_await cache.initialize();
    CHECK(co_await cache.incr("n", 32000, 0, 60s) == 32000);
    CHECK(co_await error_of(cache.incr("n", 1000)) == errc::overflow);
    CHECK(co_await cache.get("n") == std::int16_t{32000});
    const auto ttl = co_await cache.get_ttl("n");
    REQUIRE(ttl);
    CHECK(*ttl > 0ms);  // the rollback kept the expiry
    CHECK(co_await error_of(cache.incr("fresh", 1, 40000)) == errc::overflow);
    CHECK_FALSE(co_await cache.exists("fresh"));

    RedisCacheBackend<std::uint32_t> unsigned_cache(ex, options_for(unique_prefix("uint32")));
    co_await unsigned_cache.initialize();
    CHECK(co_await error_of(unsigned_cache.decr("u")) == errc::overflow);
    CHECK_FALSE(co_await unsigned_cache.exists("u"));
  });
}

TEST_CASE("a bool backend stores flags but holds no counter, like every backend",
          "[redis_backend]") {
  run_coroutine([](asio::any_io_executor ex) -> asio::awaitable<void> {
    RedisCacheBackend<bool> flags(ex, options_for(unique_prefix("bool")));
    co_await flags.initialize();
    CHECK(co_await flags.set("on", true));
    CHECK(co_await flags.get("on") == true);
    CHECK(co_await error_of(flags.incr("on")) == errc::not_a_counter);
    CHECK(co_await error_of(flags.incr("missing")) == errc::not_a_counter);
    CHECK_FALSE(co_await flags.exists("missing"));
  });
}

TEST_CASE("counters keep working after the server forgets its scripts", "[redis_backend]") {
  run_coroutine([](asio::any_io_executor ex) -> asio::awaitable<void> {
    RedisCacheBackend<std::string> cache(ex, options_for(unique_prefix("noscript")));
    co_await cache.initialize();
    CHECK(co_await cache.incr("n") == 1);
    CHECK(shared_server().command("SCRIPT FLUSH") == "+OK");
    CHECK(co_await cache.incr("n") == 2);  // EVALSHA fails with NOSCRIPT, EVAL takes over
    CHECK(co_await cache.incr("n") == 3);
  });
}

TEST_CASE("Redis errors map to their errc and name the key", "[redis_backend]") {
  run_coroutine([](asio::any_io_executor ex) -> asio::awaitable<void> {
    RedisCacheBackend<std::string> cache(ex, options_for(unique_prefix("errors")));
    co_await cache.initialize();
    co_await cache.set("text", "abc");
    CHECK(co_await error_of(cache.incr("text")) == errc::not_a_counter);
    CHECK(co_await cache.get("text") == "abc");
    CHECK(co_await cache.add_to_set("set", "m"));
    CHECK(co_await error_of(cache.get("set")) == errc::wrong_type);
    CHECK(co_await error_of(cache.incr("set")) == errc::wrong_type);
    CHECK(co_await error_of(cache.add_to_set("text", "m")) == errc::wrong_type);
    try {
      co_await cache.incr("set");
      FAIL("incr on a set succeeded");
    } catch (const corocache::cache_error& e) {
      CHECK_THAT(e.what(), Catch::Contains("set"));
      CHECK_THAT(e.what(), Catch::Contains("incr"));
    }
  });
}

TEST_CASE("sets add, list and remove members encoded by the codec", "[redis_backend]") {
  run_coroutine([](asio::any_io_executor ex) -> asio::awaitable<void> {
    RedisCacheBackend<std::string> cache(ex, options_for(unique_prefix("sets")));
    co_await cache.initialize();
    CHECK((co_await cache.get_set_members("tags")).empty());
    CHECK(co_await cache.add_to_set("tags", "red"));
    CHECK_FALSE(co_await cache.add_to_set("tags", "red"));
    std::vector<std::string> more{"green", "blue", "red", "green", "\0\r\n"s};
    CHECK(co_await cache.add_many_to_set("tags", more) == 3);
    std::vector<std::string> none;
    CHECK(co_await cache.add_many_to_set("tags", none) == 0);
    const std::set<std::string> expected{"red", "green", "blue", "\0\r\n"s};
    CHECK(sorted(co_await cache.get_set_members("tags")) == expected);
    CHECK(co_await cache.remove_from_set("tags", "green"));
    CHECK_FALSE(co_await cache.remove_from_set("tags", "green"));
    CHECK_FALSE(co_await cache.remove_from_set("missing", "green"));
    CHECK(co_await cache.exists("tags"));
    CHECK(co_await cache.clear());
    CHECK_FALSE(co_await cache.exists("tags"));

    RedisCacheBackend<std::int64_t> numbers(ex, options_for(unique_prefix("int_sets")));
    co_await numbers.initialize();
    std::vector<std::int64_t> ids{3, -7, 3};
    CHECK(co_await numbers.add_many_to_set("ids", ids) == 2);
    auto members = co_await numbers.get_set_members("ids");
    std::sort(members.begin(), members.end());
    const std::vector<std::int64_t> expected_ids{-7, 3};
    CHECK(members == expected_ids);
  });
}

TEST_CASE("a stored value the codec cannot decode is a codec_error naming the key",
          "[redis_backend]") {
  run_coroutine([](asio::any_io_executor ex) -> asio::awaitable<void> {
    const auto prefix = unique_prefix("codec");
    RedisCacheBackend<std::string> text(ex, options_for(prefix));
    RedisCacheBackend<std::int64_t> numbers(ex, options_for(prefix));
    co_await text.initialize();
    co_await numbers.initialize();
    co_await text.set("price", "12abc");
    co_await text.set("padded", "007");
    co_await text.set("ok", "42");
    try {
      co_await numbers.get("price");
      FAIL("decoded 12abc as a number");
    } catch (const corocache::cache_error& e) {
      CHECK(e.error() == errc::codec_error);
      CHECK_THAT(e.what(), Catch::Contains("price"));
    }
    CHECK(co_await error_of(numbers.get("padded")) == errc::codec_error);
    std::vector<std::string> keys{"ok", "price"};
    CHECK(co_await error_of(numbers.get_many(keys)) == errc::codec_error);
    CHECK(co_await numbers.get("ok") == 42);
    CHECK(co_await numbers.incr("ok") == 43);
    CHECK(co_await text.get("ok") == "43");        // a counter reads back as decimal text
    CHECK(co_await text.get("price") == "12abc");  // the failed read changed nothing
  });
}

TEST_CASE("operations fail before initialize and after shutdown", "[redis_backend]") {
  run_coroutine([](asio::any_io_executor ex) -> asio::awaitable<void> {
    RedisCacheBackend<std::string> cache(ex, options_for(unique_prefix("lifecycle")));
    CHECK(co_await error_of(cache.get("k")) == errc::not_initialized);
    CHECK(co_await error_of(cache.get_ttl("k")) == errc::not_initialized);
    CHECK(co_await error_of(cache.add_to_set("k", "m")) == errc::not_initialized);
    co_await cache.initialize();
    co_await cache.initialize();  // idempotent
    co_await cache.set("k", "v");
    co_await cache.shutdown();
    co_await cache.shutdown();
    CHECK(co_await error_of(cache.get("k")) == errc::shut_down);
    CHECK(co_await error_of(cache.get_set_members("k")) == errc::shut_down);
    CHECK(co_await error_of(cache.initialize()) == errc::shut_down);
  });
}

TEST_CASE("destroying the backend fails its pending operations with shut_down", "[redis_backend]") {
  redis_server server;
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto options = redis_options{.url = url_of(server), .prefix = "p:", .command_timeout = 20s};
    auto cache = std::make_unique<RedisCacheBackend<std::string>>(ex, options);
    co_await cache->initialize();
    server.pause();  // the GET below stays unanswered
    std::optional<errc> outcome;
    bool done = false;
    asio::co_spawn(ex, error_of(cache->get("k")), [&](std::exception_ptr, std::optional<errc> e) {
      outcome = e;
      done = true;
    });
    asio::steady_timer settle(ex, 50ms);  // let the GET reach the socket
    co_await settle.async_wait(asio::use_awaitable);
    CHECK_FALSE(done);
    cache.reset();
    while (!done) {
      asio::steady_timer poll(ex, 5ms);
      co_await poll.async_wait(asio::use_awaitable);
    }
    server.resume();
    CHECK(outcome == errc::shut_down);
  });
}

TEST_CASE("initialize against an unreachable server fails with connection_error",
          "[redis_backend]") {
  std::uint16_t port = 0;
  {
    redis_server gone;  // a port that was just free and now has nobody listening
    port = gone.port();
  }
  run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    RedisCacheBackend<std::string> cache(
        ex, "redis://:hunter2@127.0.0.1:" + std::to_string(port) + "/0?connect_timeout=2s");
    try {
      co_await cache.initialize();
      FAIL("connected to a stopped server");
    } catch (const corocache::cache_error& e) {
      CHECK((e.error() == errc::connection_error || e.error() == errc::timeout));
      CHECK_THAT(e.what(), Catch::Contains(std::to_string(port)));
      CHECK_THAT(e.what(), !Catch::Contains("hunter2"));
    }
    CHECK(co_await error_of(cache.get("k")) == errc::not_initialized);
  });
}
