#include "corocache/error.hpp"

#include <set>

#include "support/catch.hpp"

using corocache::errc;

TEST_CASE("a cache_error carries its errc and compares with it", "[error]") {
  const corocache::cache_error error(errc::timeout, "get \"k\" on localhost:6379");
  CHECK(error.error() == errc::timeout);
  CHECK(error.code() == errc::timeout);
  CHECK(error.code().category().name() == std::string("corocache"));
  CHECK(std::string(error.what()).find("localhost:6379") != std::string::npos);
  const std::system_error& as_system_error = error;
  CHECK(as_system_error.code() == corocache::make_error_code(errc::timeout));
}

TEST_CASE("every errc has its own message", "[error]") {
  std::set<std::string> messages;
  for (int value = static_cast<int>(errc::invalid_argument);
       value <= static_cast<int>(errc::cancelled); ++value) {
    messages.insert(corocache::cache_category().message(value));
  }
  CHECK(messages.size() == static_cast<std::size_t>(errc::cancelled));
  CHECK(messages.count("unknown corocache error") == 0);
}

TEST_CASE("printable_key escapes unprintable bytes and shortens long keys", "[error]") {
  using corocache::detail::printable_key;
  CHECK(printable_key("user:1") == "\"user:1\"");
  CHECK(printable_key(std::string("a\0b\r\n", 5)) == "\"a\\x00b\\x0d\\x0a\"");
  CHECK(printable_key("say \"hi\"") == "\"say \\\"hi\\\"\"");
  const auto shown = printable_key(std::string(1000, 'x'));
  CHECK(shown.size() < 120);
  CHECK(shown.find("first 64 of 1000 bytes") != std::string::npos);
}
