#include "corocache/backend_url.hpp"

#include "support/catch.hpp"

#include "corocache/error.hpp"

using corocache::backend_url;
using corocache::errc;
using corocache::url_parameters;

namespace {
std::string error_message(std::string_view text) {
  try {
    (void)backend_url::parse(text);
  } catch (const corocache::cache_error& e) {
    CHECK(e.error() == errc::invalid_argument);
    return e.what();
  }
  FAIL("expected " << text << " to be rejected");
  return {};
}
}  // namespace

TEST_CASE("a full redis URL is split into its parts", "[backend_url]") {
  const auto url = backend_url::parse("Redis://alice:s%40cret@cache.local:6380/2?prefix=app%3A&x=");
  CHECK(url.scheme == "redis");
  CHECK(url.user == "alice");
  CHECK(url.password == "s@cret");
  CHECK(url.host == "cache.local");
  CHECK(url.port == 6380);
  CHECK(url.path == "/2");
  REQUIRE(url.query.size() == 2);
  CHECK(url.query[0] == std::pair<std::string, std::string>{"prefix", "app:"});
  CHECK(url.query[1].second.empty());
  CHECK(url.redacted() == "redis://alice:***@cache.local:6380/2?prefix=app:&x=");
}

TEST_CASE("memory, null, unix socket and IPv6 URLs parse", "[backend_url]") {
  const auto memory = backend_url::parse("memory://?max_size=10000&clean_interval=30s");
  CHECK(memory.scheme == "memory");
  CHECK(memory.host.empty());
  CHECK(memory.query.size() == 2);
  CHECK(backend_url::parse("null://").scheme == "null");
  const auto unix_url = backend_url::parse("unix:///run/redis/redis.sock?db=3");
  CHECK(unix_url.host.empty());
  CHECK(unix_url.path == "/run/redis/redis.sock");
  const auto v6 = backend_url::parse("redis://[::1]:7000");
  CHECK(v6.host == "::1");
  CHECK(v6.port == 7000);
  const auto password_only = backend_url::parse("redis://:pw@h");
  CHECK(password_only.user.empty());
  CHECK(password_only.password == "pw");
}

TEST_CASE("malformed URLs are rejected with a message that hides the password", "[backend_url]") {
  CHECK(error_message("localhost:6379").find("scheme://") != std::string::npos);
  CHECK(error_message("redis://h:0").find("port") != std::string::npos);
  CHECK(error_message("redis://h:99999").find("port") != std::string::npos);
  CHECK(error_message("redis://h:").find("empty port") != std::string::npos);
  CHECK(error_message("redis://h/%zz").find("percent") != std::string::npos);
  CHECK(error_message("redis://h?a=1&a=2").find("twice") != std::string::npos);
  CHECK(error_message("1redis://h").find("scheme") != std::string::npos);
  CHECK(error_message("redis://[::1").find("']'") == std::string::npos);
  const auto message = error_message("redis://alice:topsecret@h:notaport/0");
  CHECK(message.find("topsecret") == std::string::npos);
  CHECK(message.find("***") != std::string::npos);
}

TEST_CASE("url_parameters takes typed values and names the unknown ones", "[backend_url]") {
  const auto url = backend_url::parse("memory://?max_size=5&clean_interval=250ms&typo=1&other=2");
  url_parameters params(url);
  CHECK(params.take_unsigned("max_size") == 5u);
  CHECK(params.take_duration("clean_interval") == std::chrono::milliseconds(250));
  CHECK_FALSE(params.take("absent"));
  try {
    params.reject_unknown();
    FAIL("unknown parameters were accepted");
  } catch (const corocache::cache_error& e) {
    CHECK(e.error() == errc::invalid_argument);
    CHECK(std::string(e.what()).find("typo, other") != std::string::npos);
  }
}

TEST_CASE("durations need a unit and stay in range", "[backend_url]") {
  using corocache::detail::parse_duration;
  using std::chrono::milliseconds;
  CHECK(parse_duration("250ms") == milliseconds(250));
  CHECK(parse_duration("30s") == milliseconds(30000));
  CHECK(parse_duration("5m") == milliseconds(300000));
  CHECK(parse_duration("1h") == milliseconds(3600000));
  CHECK(parse_duration("0s") == milliseconds(0));
  CHECK_FALSE(parse_duration("30"));
  CHECK_FALSE(parse_duration("s"));
  CHECK_FALSE(parse_duration("-1s"));
  CHECK_FALSE(parse_duration("1d"));
  CHECK_FALSE(parse_duration("99999999999999999h"));
  const auto url = backend_url::parse("memory://?clean_interval=30");
  url_parameters params(url);
  CHECK_THROWS_AS(params.take_duration("clean_interval"), corocache::cache_error);
}
