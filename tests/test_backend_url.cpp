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
  CHECK(url.redacted() == "redis://***@cache.local:6380");
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
  CHECK(message.find("alice") == std::string::npos);
  CHECK(message.find("port") != std::string::npos);
  CHECK(message.find("invalid redis:// URL") != std::string::npos);
}

TEST_CASE("no parse error quotes the URL's text", "[backend_url]") {
  // Before: each of these quoted the text after the user-info, or all of it.
  for (const char* text : {"redis://h/%zz?password=hunter2", "redis://h?password=hunter2#f",
                           "redis://h/hunter2%", "redis://hunter2/%zz", "redis://[hunter2",
                           "redis://[::1]hunter2", "redis://h?x=hunter2%4"}) {
    INFO(text);
    const auto message = error_message(text);
    CHECK(message.find("hunter2") == std::string::npos);
    CHECK(message.rfind("invalid redis:// URL: ", 0) == 0);
  }
  CHECK(error_message("1hunter2://h").find("hunter2") == std::string::npos);
  CHECK(error_message("hunter2@h").find("hunter2") == std::string::npos);
}

TEST_CASE("an '@' after the host is rejected as ambiguous", "[backend_url]") {
  // Before: "redis://app:6380?prefix=hunter2@host" parsed with host "app", and the others
  // quoted the path or query holding the password in later messages.
  for (const char* text :
       {"redis://app:6380?prefix=hunter2@host", "redis://app:6380?x=hunter2@host",
        "redis://app:12/hunter2@host:6379/0", "redis://h/a@b", "redis://h?a=b@", "redis://h/?@",
        "unix://a:b/c@/tmp/s", "memory://?x=hunter2@"}) {
    INFO(text);
    const auto message = error_message(text);
    CHECK(message.find("hunter2") == std::string::npos);
    CHECK(message.find("'@' after the host") != std::string::npos);
  }
  CHECK(backend_url::parse("redis://h?prefix=a%40b").query[0].second == "a@b");
  CHECK(backend_url::parse("redis://h/a%40b").path == "/a@b");
  const auto at_in_password = backend_url::parse("redis://app:hun@ter2@host:1");
  CHECK(at_in_password.password == "hun@ter2");
  CHECK(at_in_password.host == "host");
  CHECK(at_in_password.port == 1);
}

TEST_CASE("an '@' in the user name is rejected as ambiguous", "[backend_url]") {
  for (const char* text : {"redis://a@hunter2:b@host", "redis://a@hunter2@host"}) {
    INFO(text);
    const auto message = error_message(text);
    CHECK(message.find("hunter2") == std::string::npos);
    CHECK(message.find("user name") != std::string::npos);
  }
  CHECK(backend_url::parse("redis://a%40b:c@host").user == "a@b");
}

TEST_CASE("redacted() shows scheme, host and port only", "[backend_url]") {
  CHECK(backend_url::parse("redis://hunter2@h:1/0?x=1").redacted() == "redis://***@h:1");
  CHECK(backend_url::parse("redis://:hunter2@h").redacted() == "redis://***@h");
  CHECK(backend_url::parse("redis://u:@h").redacted() == "redis://***@h");
  CHECK(backend_url::parse("redis://h/hunter2?x=hunter2").redacted() == "redis://h");
  CHECK(backend_url::parse("redis://[::1]:7000").redacted() == "redis://[::1]:7000");
  CHECK(backend_url::parse("unix:///tmp/s.sock").redacted() == "unix://");
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

TEST_CASE("url_parameters never shows a value", "[backend_url]") {
  // Before: the malformed value was quoted, and every message carried the whole query.
  const auto url =
      backend_url::parse("memory://?n=hunter2&d=hunter2&b=hunter2&t=true&f=false&password=hunter2");
  url_parameters params(url);
  const auto message_of = [](auto call) -> std::string {
    try {
      call();
    } catch (const corocache::cache_error& e) {
      CHECK(e.error() == errc::invalid_argument);
      return e.what();
    }
    FAIL("accepted");
    return {};
  };
  const auto take_unsigned = message_of([&] { (void)params.take_unsigned("n"); });
  CHECK_THAT(take_unsigned,
             Catch::StartsWith("URL parameter n: expected a non-negative integer (memory://):"));
  const auto take_duration = message_of([&] { (void)params.take_duration("d"); });
  CHECK(take_duration.find("hunter2") == std::string::npos);
  CHECK(take_duration.find("URL parameter d: expected a duration") == 0);
  CHECK_THAT(message_of([&] { (void)params.take_bool("b"); }),
             Catch::StartsWith("URL parameter b: expected true or false (memory://):"));
  CHECK(params.take_bool("t") == true);
  CHECK(params.take_bool("f") == false);
  CHECK_FALSE(params.take_bool("absent"));
  CHECK_THAT(message_of([&] { params.reject_unknown(); }),
             Catch::StartsWith("unknown URL parameter(s) password for memory://:") &&
                 !Catch::Contains("hunter2"));
}

TEST_CASE("booleans are exactly true or false", "[backend_url]") {
  for (const char* value : {"", "1", "0", "yes", "TRUE", "True", "false ", "truex"}) {
    INFO(value);
    const auto url = backend_url::parse(std::string("memory://?b=") + value);
    url_parameters params(url);
    CHECK_THROWS_AS(params.take_bool("b"), corocache::cache_error);
  }
}

TEST_CASE("memory:// and null:// with a location are refused without showing it", "[backend_url]") {
  for (const char* text : {"memory://hunter2", "memory://hunter2@", "memory:///hunter2",
                           "null://:hunter2@", "null://h:1"}) {
    INFO(text);
    try {
      corocache::detail::expect_no_location(backend_url::parse(text));
      FAIL("accepted");
    } catch (const corocache::cache_error& e) {
      CHECK(e.error() == errc::invalid_argument);
      CHECK(std::string(e.what()).find("hunter2") == std::string::npos);
      CHECK(std::string(e.what()).find("takes no host") != std::string::npos);
    }
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
