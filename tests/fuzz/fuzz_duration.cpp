// Fuzzes detail::parse_duration against a digit-by-digit reference: "<decimal digits><unit>" with
// unit ms, s, m or h, nothing else, and nullopt when the milliseconds leave std::int64_t.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "corocache/backend_url.hpp"
#include "fuzz_check.hpp"

namespace {

std::optional<std::chrono::milliseconds> reference_duration(std::string_view text) {
  constexpr std::int64_t max = std::numeric_limits<std::int64_t>::max();
  std::size_t digits = 0;
  std::int64_t count = 0;
  bool too_large = false;
  for (; digits < text.size() && text[digits] >= '0' && text[digits] <= '9'; ++digits) {
    const int digit = text[digits] - '0';
    if (count > (max - digit) / 10) too_large = true;
    if (!too_large) count = count * 10 + digit;
  }
  if (digits == 0) return std::nullopt;
  const auto unit = text.substr(digits);
  std::int64_t scale = 0;
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60 * 1000;
  } else if (unit == "h") {
    scale = 60 * 60 * 1000;
  } else {
    return std::nullopt;
  }
  if (too_large || count > max / scale) return std::nullopt;
  return std::chrono::milliseconds(count * scale);
}

std::string describe(const std::optional<std::chrono::milliseconds>& value) {
  return value ? std::to_string(value->count()) + "ms" : "nullopt";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = corocache::fuzz::as_text(data, size);
  const auto expected = reference_duration(text);
  const auto actual = corocache::detail::parse_duration(text);
  COROCACHE_FUZZ_CHECK(actual == expected, "parse_duration(" + corocache::fuzz::quoted(text) +
                                               ") gave " + describe(actual) + ", expected " +
                                               describe(expected));
  return 0;
}
