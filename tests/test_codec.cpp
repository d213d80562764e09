#include "corocache/codec.hpp"

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>
#include "support/catch.hpp"

using corocache::codec;
using corocache::errc;

namespace {
template <class T>
errc decode_error(std::string_view bytes) {
  try {
    (void)codec<T>::decode(bytes);
  } catch (const corocache::cache_error& e) {
    return e.error();
  }
  return errc{};
}
}  // namespace

TEST_CASE("strings and byte vectors are stored as their bytes", "[codec]") {
  const std::string binary("a\0\r\n\xff", 5);
  CHECK(codec<std::string>::encode(binary) == binary);
  CHECK(codec<std::string>::decode(binary) == binary);
  const std::vector<std::byte> bytes{std::byte{0}, std::byte{0xff}};
  CHECK(codec<std::vector<std::byte>>::encode(bytes) == std::string("\0\xff", 2));
  CHECK(codec<std::vector<std::byte>>::decode(std::string("\0\xff", 2)) == bytes);
  CHECK(codec<std::vector<unsigned char>>::decode("ab") == std::vector<unsigned char>{'a', 'b'});
}

TEST_CASE("numbers are canonical decimal text that reads back exactly", "[codec]") {
  CHECK(codec<std::int64_t>::encode(-42) == "-42");
  CHECK(codec<std::int64_t>::decode("-42") == -42);
  constexpr auto max = std::numeric_limits<std::int64_t>::max();
  CHECK(codec<std::int64_t>::decode(std::to_string(max)) == max);
  CHECK(codec<double>::encode(0.1) == "0.1");
  CHECK(codec<double>::decode("0.1") == 0.1);
  CHECK(codec<bool>::encode(true) == "1");
  CHECK(codec<bool>::decode("0") == false);
  CHECK(codec<std::uint8_t>::decode("255") == 255);
}

TEST_CASE("non-canonical or out-of-range numbers are codec errors", "[codec]") {
  for (const char* bad : {"", " 1", "1 ", "+1", "01", "-0", "1.0", "abc", "1e3", "0x10"}) {
    INFO(bad);
    CHECK(decode_error<std::int64_t>(bad) == errc::codec_error);
  }
  CHECK(decode_error<std::int64_t>("9223372036854775808") == errc::codec_error);
  CHECK(decode_error<std::uint8_t>("256") == errc::codec_error);
  CHECK(decode_error<std::uint32_t>("-1") == errc::codec_error);
  CHECK(decode_error<double>("1.50") == errc::codec_error);
  CHECK(decode_error<double>("nan?") == errc::codec_error);
  CHECK(decode_error<bool>("true") == errc::codec_error);
}

struct point {
  int x = 0;
  int y = 0;
};

TEST_CASE("only types with a codec satisfy has_codec", "[codec]") {
  STATIC_REQUIRE(corocache::has_codec<std::string>);
  STATIC_REQUIRE(corocache::has_codec<std::vector<std::byte>>);
  STATIC_REQUIRE(corocache::has_codec<double>);
  STATIC_REQUIRE_FALSE(corocache::has_codec<point>);
}
