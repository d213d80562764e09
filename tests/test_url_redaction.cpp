// No error about a configuration URL shows a password or anything that may be one: user-info,
// paths, query values. Each URL goes through every way a URL is read (the parser, the registry's
// memory, null and Redis factories, the Redis options), none of which connects to anything. In a
// memory-only build the Redis readers are left out.
#include <algorithm>
#include <string>
#include <vector>

#include <asio/io_context.hpp>

#include "corocache/backend_url.hpp"
#include "corocache/config.hpp"
#include "corocache/error.hpp"
#include "corocache/registry.hpp"
#include "support/catch.hpp"
#if COROCACHE_WITH_REDIS
#include "corocache/redis_options.hpp"
#endif

using corocache::errc;

namespace {

constexpr std::string_view secret = "hunter2";

// What each reader of `url` says about it: its error message, or "" when it accepts the URL.
std::vector<std::string> messages_for(const std::string& url) {
  std::vector<std::string> out;
  const auto record = [&](auto read) {
    try {
      read();
      out.emplace_back();
    } catch (const corocache::cache_error& e) {
      CHECK((e.error() == errc::invalid_argument ||
             (!COROCACHE_WITH_REDIS && e.error() == errc::unknown_backend)));
      out.emplace_back(e.what());
      if (out.back().empty()) out.back() = "(empty message)";
    }
  };
  asio::io_context io;
  record([&] { (void)corocache::backend_url::parse(url); });
  record([&] { (void)corocache::make_backend<std::string>(url, io.get_executor()); });
#if COROCACHE_WITH_REDIS
  record([&] {
    (void)corocache::detail::resolve_redis_options(corocache::redis_options{.url = url});
  });
#endif
  return out;
}

// Fails the test when any message about `url` shows the secret.
void check_never_shown(const std::string& url) {
  INFO("URL: " << url);
  for (const auto& message : messages_for(url)) {
    INFO("message: " << message);
    CHECK(message.find(secret) == std::string::npos);
  }
}

// True when `url` is refused by the registry and by the Redis options, never read as something.
bool rejected(const std::string& url) {
  const auto messages = messages_for(url);
  return std::all_of(messages.begin() + 1, messages.end(), [](auto& m) { return !m.empty(); });
}

// The message of the Redis options for `url`, or of the registry in a memory-only build.
std::string redis_message(const std::string& url) {
  return messages_for(url).back();
}

}  // namespace

TEST_CASE("user-info without a password is never shown", "[url_redaction]") {
  check_never_shown("redis://hunter2@host:6379/0");
  check_never_shown("unix://hunter2@/tmp/redis.sock");
  check_never_shown("memory://hunter2@");
  check_never_shown("null://hunter2@");
  check_never_shown("redis://hunter2:@host");  // a user with an empty password
  check_never_shown("redis://hunter2@host?bogus=1");
  check_never_shown("rediss://hunter2@host");
  // The message still says what is wrong.
  if (COROCACHE_WITH_REDIS) {
    CHECK_THAT(redis_message("redis://hunter2@host:6379/0"), Catch::Contains("needs a password"));
  }
}

TEST_CASE("a user with an empty password is refused, not sent to the server", "[url_redaction]") {
  CHECK(rejected("redis://hunter2:@host"));
  CHECK(rejected("redis://:@host"));
}

TEST_CASE("paths that are not a database number are never shown", "[url_redaction]") {
  check_never_shown("redis://host/hunter2");
  check_never_shown("redis://host:6379/0/hunter2");
  check_never_shown("memory:///hunter2");
  check_never_shown("null:///hunter2");
  check_never_shown("unix:///tmp/hunter2.sock?bogus=1");
  check_never_shown("unix://host/hunter2");
}

TEST_CASE("query values are never shown", "[url_redaction]") {
  check_never_shown("redis://host?password=hunter2");
  check_never_shown("redis://host?prefix=hunter2&bogus=1");
  check_never_shown("redis://host?db=hunter2");
  check_never_shown("redis://host?command_timeout=hunter2");
  check_never_shown("redis://host?allow_start_offline=hunter2");
  check_never_shown("redis://host?health_check_interval=hunter2");
  check_never_shown("memory://?x=secret&y=hunter2");
  check_never_shown("memory://?max_size=hunter2");
  check_never_shown("memory://?clean_interval=hunter2");
  check_never_shown("memory://?eviction=hunter2");
  check_never_shown("null://?password=hunter2");
  check_never_shown("redis://host/%zz?password=hunter2");  // a malformed URL is not echoed either
  check_never_shown("redis://host?password=hunter2#fragment");
  check_never_shown("redis://host?password=hunter2&password=again");
}

TEST_CASE("an '@' after the host is ambiguous and refused without showing the text",
          "[url_redaction]") {
  for (const char* url : {"redis://app:12/hunter2@host:6379/0", "redis://app:6380?x=hunter2@host",
                          "redis://app:6380?prefix=hunter2@host", "redis://app:hunter2/x@host",
                          "redis://app:hun?ter2@host", "unix://app:12/hunter2@/tmp/redis.sock",
                          "memory://?max_size=1&x=hunter2@host", "redis://host/0?prefix=a@b"}) {
    INFO(url);
    CHECK(rejected(url));
    check_never_shown(url);
  }
  // A percent-encoded '@' is an ordinary character.
  if (COROCACHE_WITH_REDIS) CHECK_FALSE(rejected("redis://host?prefix=a%40b"));
}

TEST_CASE("an '@' in the user name is ambiguous and refused", "[url_redaction]") {
  CHECK(rejected("redis://app@hunter2:x@host"));
  check_never_shown("redis://app@hunter2:x@host");
  // In the password the last '@' ends the user-info, as before.
  if (COROCACHE_WITH_REDIS) CHECK_FALSE(rejected("redis://app:hun@ter2@host"));
  check_never_shown("redis://app:hun@ter2@host?bogus=1");
}

TEST_CASE("percent-encoded secrets are not shown decoded or encoded", "[url_redaction]") {
  check_never_shown("redis://%68unter2@host");
  check_never_shown("redis://host?password=%68%75%6e%74%65%72%32");
  check_never_shown("redis://host/%68%75%6e%74%65%72%32");
  for (const auto& message : messages_for("redis://host?password=%68%75%6e%74%65%72%32")) {
    CHECK(message.find("%68%75") == std::string::npos);
  }
}

TEST_CASE("a password anywhere in a URL with another error is never shown", "[url_redaction]") {
  for (const char* url :
       {"redis://u:hunter2@h?bogus=1", "redis://u:hunter2@h/x", "redis://:hunter2@h?db=1&db=2",
        "redis://u:hunter2@h:0", "rediss://u:hunter2@h?verify=hunter2", "unix://u:hunter2@h/s",
        "redis://u:hunter2@h?command_timeout=1", "memory://u:hunter2@", "null://:hunter2@?x=1",
        "redis://u:hunter2@[::1", "redis://u:hunter2@h:notaport/0"}) {
    CHECK(rejected(url));
    check_never_shown(url);
  }
}

TEST_CASE("user names are not shown either", "[url_redaction]") {
  // A user-info may be a password written in the wrong place: all of it is masked.
  for (const auto& message : messages_for("redis://hunter2:pw@h?bogus=1")) {
    CHECK(message.find(secret) == std::string::npos);
    CHECK(message.find("pw") == std::string::npos);
  }
  if (COROCACHE_WITH_REDIS)
    CHECK_THAT(redis_message("redis://hunter2:pw@h?bogus=1"), Catch::Contains("***@h"));
}
