// Canonical decimal text for numbers, the form Redis counters and other languages' clients use.
#pragma once

#include <charconv>
#include <concepts>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace corocache::detail {

/// Shortest text that reads back as `value` (to_chars).
template <class N>
requires std::is_arithmetic_v<N>
[[nodiscard]] std::string to_decimal(N value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

/// The number `text` spells, only when `text` is exactly what to_decimal would print for it
/// (no '+', no leading zeros, no "-0", no spaces): Redis's rule for integers, which makes decoding
/// the exact inverse of encoding.
template <class N>
requires std::is_arithmetic_v<N>
[[nodiscard]] std::optional<N> from_decimal(std::string_view text) {
  N value{};
  const char* end = text.data() + text.size();
  const auto result = std::from_chars(text.data(), end, value);
  if (result.ec != std::errc{} || result.ptr != end) return std::nullopt;
  if (to_decimal(value) != text) return std::nullopt;
  return value;
}

}  // namespace corocache::detail
