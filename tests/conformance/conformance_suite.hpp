// The CacheBackend contract as tests, written once and run against every backend.
//
// Use: define fixtures, list them, include this file (once per test executable):
//
//   struct my_fixture {
//     using value_type = std::string;
//     static constexpr const char* name = "my";
//     explicit my_fixture(asio::any_io_executor executor);
//     corocache::CacheBackend<std::string>& backend();
//     asio::awaitable<void> elapse(std::chrono::milliseconds duration);  // let time pass
//     std::chrono::milliseconds short_ttl() const;  // a TTL the suite can wait out with elapse()
//   };
//   using conformance_fixtures = std::tuple<my_fixture>;
//   #include "conformance/conformance_suite.hpp"
//
// Note: g++ 12 rejects braced lists inside a co_await expression, hence the named locals.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>
#include "support/catch.hpp"
#include "support/error_of.hpp"

#include "corocache/cache_backend.hpp"
#include "corocache/error.hpp"
#include "support/run_coroutine.hpp"

namespace corocache::test {

/// Runs `body(fixture, backend)` against an initialized backend of fixture type F.
template <class F, class Body>
void with_backend(Body body) {
  INFO("backend: " << F::name);  // a failure says which fixture it was
  run_coroutine([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    F fixture(executor);
    auto& backend = fixture.backend();
    co_await backend.initialize();
    co_await backend.clear();
    co_await body(fixture, backend);
    co_await backend.shutdown();
  });
}

}  // namespace corocache::test

using corocache::errc;
using corocache::test::error_of;
using corocache::test::with_backend;

TEMPLATE_LIST_TEST_CASE("a stored value is returned and a missing key is a miss", "[conformance]",
                        conformance_fixtures) {
  with_backend<TestType>([](auto&, auto& b) -> asio::awaitable<void> {
    CHECK(co_await b.set("k", "v"));
    const auto hit = co_await b.get("k");
    REQUIRE(hit);
    CHECK(*hit == "v");
    const auto miss = co_await b.get("missing");
    CHECK_FALSE(miss);
    CHECK(co_await b.exists("k"));
    CHECK_FALSE(co_await b.exists("missing"));
  });
}

TEMPLATE_LIST_TEST_CASE("set replaces an earlier value", "[conformance]", conformance_fixtures) {
  with_backend<TestType>([](auto&, auto& b) -> asio::awaitable<void> {
    co_await b.set("k", "first");
    co_await b.set("k", "second");
    const auto value = co_await b.get("k");
    CHECK(value == "second");
  });
}

TEMPLATE_LIST_TEST_CASE("an expired key is never returned", "[conformance]", conformance_fixtures) {
  with_backend<TestType>([](auto& f, auto& b) -> asio::awaitable<void> {
    co_await b.set("short", "v", f.short_ttl());
    co_await b.set("forever", "v");
    CHECK(co_await b.exists("short"));
    co_await f.elapse(f.short_ttl() * 2);
    CHECK_FALSE(co_await b.get("short"));
    CHECK_FALSE(co_await b.exists("short"));
    std::vector<std::string> keys{"short", "forever"};
    const auto values = co_await b.get_many(keys);
    REQUIRE(values.size() == 2);
    CHECK_FALSE(values[0]);
    CHECK(values[1] == "v");
    CHECK_FALSE(co_await b.erase("short"));
  });
}

TEMPLATE_LIST_TEST_CASE("set without a TTL removes an earlier expiry", "[conformance]",
                        conformance_fixtures) {
  with_backend<TestType>([](auto& f, auto& b) -> asio::awaitable<void> {
    co_await b.set("k", "with ttl", f.short_ttl());
    co_await b.set("k", "without");
    co_await f.elapse(f.short_ttl() * 2);
    const auto value = co_await b.get("k");
    CHECK(value == "without");
  });
}

TEMPLATE_LIST_TEST_CASE("set with a TTL replaces an earlier TTL", "[conformance]",
                        conformance_fixtures) {
  with_backend<TestType>([](auto& f, auto& b) -> asio::awaitable<void> {
    co_await b.set("long", "v", f.short_ttl() * 100);
    co_await b.set("long", "v", f.short_ttl());
    co_await f.elapse(f.short_ttl() * 2);
    CHECK_FALSE(co_await b.exists("long"));
  });
}

TEMPLATE_LIST_TEST_CASE("a TTL of zero or less is rejected when awaited", "[conformance]",
                        conformance_fixtures) {
  with_backend<TestType>([](auto&, auto& b) -> asio::awaitable<void> {
    using std::chrono::milliseconds;
    auto zero = b.set("k", "v", milliseconds(0));  // nothing is thrown before co_await
    CHECK(co_await error_of(std::move(zero)) == errc::invalid_argument);
    CHECK(co_await error_of(b.set("k", "v", milliseconds(-5))) == errc::invalid_argument);
    typename std::remove_reference_t<decltype(b)>::item_list items{{"a", "1"}};
    CHECK(co_await error_of(b.set_many(items, milliseconds(0))) == errc::invalid_argument);
    CHECK(co_await error_of(b.incr("n", 1, 0, milliseconds(-1))) == errc::invalid_argument);
    CHECK_FALSE(co_await b.exists("k"));
    CHECK_FALSE(co_await b.exists("a"));
    CHECK_FALSE(co_await b.exists("n"));
  });
}

TEMPLATE_LIST_TEST_CASE("erase reports whether a key was removed", "[conformance]",
                        conformance_fixtures) {
  with_backend<TestType>([](auto&, auto& b) -> asio::awaitable<void> {
    co_await b.set("k", "v");
    CHECK(co_await b.erase("k"));
    CHECK_FALSE(co_await b.erase("k"));
    CHECK_FALSE(co_await b.get("k"));
  });
}

TEMPLATE_LIST_TEST_CASE("clear removes every key", "[conformance]", conformance_fixtures) {
  with_backend<TestType>([](auto&, auto& b) -> asio::awaitable<void> {
    co_await b.set("a", "1");
    co_await b.set("b", "2");
    CHECK(co_await b.clear());
    CHECK_FALSE(co_await b.exists("a"));
    CHECK_FALSE(co_await b.exists("b"));
  });
}

TEMPLATE_LIST_TEST_CASE("get_many aligns results with keys, duplicates and misses included",
                        "[conformance]", conformance_fixtures) {
  with_backend<TestType>([](auto&, auto& b) -> asio::awaitable<void> {
    co_await b.set("a", "1");
    co_await b.set("b", "2");
    std::vector<std::string> keys{"a", "missing", "b", "a", "missing"};
    const auto values = co_await b.get_many(keys);
    REQUIRE(values.size() == 5);
    CHECK(values[0] == "1");
    CHECK_FALSE(values[1]);
    CHECK(values[2] == "2");
    CHECK(values[3] == "1");
    CHECK_FALSE(values[4]);
    std::vector<std::string> none;
    const auto no_values = co_await b.get_many(none);
    CHECK(no_values.empty());
  });
}

TEMPLATE_LIST_TEST_CASE("set_many stores every item with one TTL and the last duplicate wins",
                        "[conformance]", conformance_fixtures) {
  with_backend<TestType>([](auto& f, auto& b) -> asio::awaitable<void> {
    typename std::remove_reference_t<decltype(b)>::item_list items{
        {"a", "1"}, {"b", "2"}, {"a", "3"}};
    CHECK(co_await b.set_many(items, f.short_ttl()));
    const auto a = co_await b.get("a");
    CHECK(a == "3");
    const auto b_value = co_await b.get("b");
    CHECK(b_value == "2");
    co_await f.elapse(f.short_ttl() * 2);
    CHECK_FALSE(co_await b.exists("a"));
    CHECK_FALSE(co_await b.exists("b"));
    typename std::remove_reference_t<decltype(b)>::item_list empty;
    CHECK(co_await b.set_many(empty));
  });
}

TEMPLATE_LIST_TEST_CASE("erase_many counts the distinct keys it removed", "[conformance]",
                        conformance_fixtures) {
  with_backend<TestType>([](auto&, auto& b) -> asio::awaitable<void> {
    co_await b.set("a", "1");
    co_await b.set("b", "2");
    co_await b.set("c", "3");
    std::vector<std::string> keys{"a", "b", "a", "missing"};
    CHECK(co_await b.erase_many(keys) == 2);
    CHECK_FALSE(co_await b.exists("a"));
    CHECK(co_await b.exists("c"));
    std::vector<std::string> none;
    CHECK(co_await b.erase_many(none) == 0);
  });
}

TEMPLATE_LIST_TEST_CASE("incr and decr create a counter from initial and return the new value",
                        "[conformance]", conformance_fixtures) {
  with_backend<TestType>([](auto&, auto& b) -> asio::awaitable<void> {
    CHECK(co_await b.incr("n") == 1);
    CHECK(co_await b.incr("n", 5) == 6);
    CHECK(co_await b.decr("n", 2) == 4);
    CHECK(co_await b.incr("fresh", 3, 100) == 103);
    CHECK(co_await b.decr("down", 1, 10) == 9);
    CHECK(co_await b.incr("neg", -7) == -7);
    const auto text = co_await b.get("n");
    CHECK(text == "4");  // a counter reads back as decimal text through std::string
  });
}

TEMPLATE_LIST_TEST_CASE("a counter keeps the expiry of its creation (fixed window)",
                        "[conformance]", conformance_fixtures) {
  with_backend<TestType>([](auto& f, auto& b) -> asio::awaitable<void> {
    const auto window = f.short_ttl() * 4;
    CHECK(co_await b.incr("hits", 1, 0, window) == 1);
    co_await f.elapse(window / 2);
    CHECK(co_await b.incr("hits", 1, 0, window) == 2);  // does not extend the window
    co_await f.elapse(window / 2 + f.short_ttl());
    CHECK_FALSE(co_await b.exists("hits"));
    CHECK(co_await b.incr("hits", 1, 0, window) == 1);  // a new window starts from initial
  });
}

TEMPLATE_LIST_TEST_CASE("incr keeps an earlier expiry set by set()", "[conformance]",
                        conformance_fixtures) {
  with_backend<TestType>([](auto& f, auto& b) -> asio::awaitable<void> {
    co_await b.set("n", "10", f.short_ttl());
    CHECK(co_await b.incr("n") == 11);
    co_await f.elapse(f.short_ttl() * 2);
    CHECK_FALSE(co_await b.exists("n"));
  });
}

TEMPLATE_LIST_TEST_CASE("incr on a value that is not an integer fails and leaves it unchanged",
                        "[conformance]", conformance_fixtures) {
  with_backend<TestType>([](auto&, auto& b) -> asio::awaitable<void> {
    const std::vector<std::string> not_integers{"abc", "1.5", " 1", "01",
                                                "+1",  "",    "-0", "99999999999999999999"};
    for (const auto& stored : not_integers) {
      co_await b.set("k", stored);
      CHECK(co_await error_of(b.incr("k")) == errc::not_a_counter);
      const auto after = co_await b.get("k");
      CHECK(after == stored);
    }
  });
}

TEMPLATE_LIST_TEST_CASE("incr past the int64 range fails with overflow and changes nothing",
                        "[conformance]", conformance_fixtures) {
  with_backend<TestType>([](auto&, auto& b) -> asio::awaitable<void> {
    constexpr auto max = std::numeric_limits<std::int64_t>::max();
    constexpr auto min = std::numeric_limits<std::int64_t>::min();
    CHECK(co_await b.incr("n", max) == max);
    CHECK(co_await error_of(b.incr("n")) == errc::overflow);
    const auto value = co_await b.get("n");
    CHECK(value == std::to_string(max));
    CHECK(co_await b.decr("m", max, -1) == min);
    CHECK(co_await error_of(b.decr("m")) == errc::overflow);
    CHECK(co_await error_of(b.incr("fresh", 1, max)) == errc::overflow);
    CHECK_FALSE(co_await b.exists("fresh"));
    CHECK(co_await error_of(b.decr("fresh", min)) == errc::overflow);
  });
}

TEMPLATE_LIST_TEST_CASE("invalidate_pattern follows Redis glob syntax", "[conformance]",
                        conformance_fixtures) {
  with_backend<TestType>([](auto&, auto& b) -> asio::awaitable<void> {
    const std::vector<std::string> keys{"user:1", "user:2", "user:10", "usr:1", "a*b", "axb",
                                        "[x]",    "x",      "a\\b",    "b",     "c",   "-"};
    auto reset = [&]() -> asio::awaitable<void> {
      co_await b.clear();
      for (const auto& k : keys) co_await b.set(k, "v");
    };
    auto remaining = [&]() -> asio::awaitable<std::vector<std::string>> {
      std::vector<std::string> left;
      for (const auto& k : keys) {
        const bool present = co_await b.exists(k);
        if (present) left.push_back(k);
      }
      co_return left;
    };
    struct expectation {
      std::string pattern;
      std::size_t removed;
    };
    const std::vector<expectation> cases{
        {"user:?", 2},  {"user:*", 3}, {"u*:1", 2},    {"user:[0-9]", 2}, {"user:[^1]", 1},
        {"a\\*b", 1},   {"a*b", 3},    {"\\[x\\]", 1}, {"[x]", 1},        {"[a-c]", 2},
        {"[c-a]", 2},   {"[\\-]", 1},  {"*", 12},      {"nomatch*", 0},   {"a\\\\b", 1},
        {"user:1[", 0}, {"?", 4},      {"[^a-z]", 1},  {"user:1*", 2},    {"[ab", 1},
    };
    for (const auto& c : cases) {
      co_await reset();
      INFO("pattern " << c.pattern);
      CHECK(co_await b.invalidate_pattern(c.pattern) == c.removed);
      const auto left = co_await remaining();
      CHECK(left.size() == keys.size() - c.removed);
    }
  });
}

TEMPLATE_LIST_TEST_CASE("empty keys and binary keys with NUL bytes are ordinary keys",
                        "[conformance]", conformance_fixtures) {
  with_backend<TestType>([](auto&, auto& b) -> asio::awaitable<void> {
    const std::string empty;
    const std::string nul_a("a\0b", 3);
    const std::string nul_b("a\0c", 3);
    const std::string crlf = "line\r\nbreak";
    co_await b.set(empty, "empty");
    co_await b.set(nul_a, std::string("x\0y", 3));
    co_await b.set(nul_b, "other");
    co_await b.set(crlf, "crlf");
    const auto e = co_await b.get(empty);
    CHECK(e == "empty");
    const auto a = co_await b.get(nul_a);
    CHECK(a == std::string("x\0y", 3));
    const auto c = co_await b.get(nul_b);
    CHECK(c == "other");
    std::vector<std::string> keys{nul_b, empty, crlf, std::string("a\0", 2)};
    const auto many = co_await b.get_many(keys);
    REQUIRE(many.size() == 4);
    CHECK(many[0] == "other");
    CHECK(many[1] == "empty");
    CHECK(many[2] == "crlf");
    CHECK_FALSE(many[3]);
    CHECK(co_await b.invalidate_pattern(std::string("a\0?", 3)) == 2);
    CHECK(co_await b.exists(empty));
    CHECK(co_await b.erase(empty));
    CHECK_FALSE(co_await b.exists(empty));
    CHECK(co_await b.incr(std::string("\0n", 2)) == 1);
  });
}

TEMPLATE_LIST_TEST_CASE("operations need initialize() and fail after shutdown()", "[conformance]",
                        conformance_fixtures) {
  corocache::test::run_coroutine([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    TestType fixture(executor);
    auto& b = fixture.backend();
    CHECK(co_await error_of(b.get("k")) == errc::not_initialized);
    CHECK(co_await error_of(b.set("k", "v")) == errc::not_initialized);
    co_await b.initialize();
    co_await b.initialize();  // idempotent
    CHECK(co_await b.set("k", "v"));
    co_await b.shutdown();
    co_await b.shutdown();  // idempotent
    CHECK(co_await error_of(b.get("k")) == errc::shut_down);
    CHECK(co_await error_of(b.incr("n")) == errc::shut_down);
    CHECK(co_await error_of(b.initialize()) == errc::shut_down);
  });
}
