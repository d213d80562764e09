// How an in-process backend reads a stored T as a 64-bit counter and writes one back as T,
// following the contract: decimal text for string-like types, the number for arithmetic types.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>

#include "corocache/codec.hpp"
#include "corocache/detail/decimal.hpp"
#include "corocache/error.hpp"

namespace corocache::detail {

// Largest magnitude a double holds without losing integer precision.
inline constexpr std::int64_t exact_double_limit = std::int64_t{1} << 53;

/// The counter `value` holds, or nothing when it is not an integer.
template <class T>
[[nodiscard]] std::optional<std::int64_t> counter_of(const T& value) {
  if constexpr (std::is_same_v<T, bool>) {
    return std::nullopt;
  } else if constexpr (std::is_integral_v<T>) {
    if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(std::int64_t)) {
      if (value > static_cast<T>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
    }
    return static_cast<std::int64_t>(value);
  } else if constexpr (std::is_floating_point_v<T>) {
    const auto whole = static_cast<double>(value);
    if (!(whole >= -static_cast<double>(exact_double_limit) &&
          whole <= static_cast<double>(exact_double_limit)))
      return std::nullopt;
    const auto n = static_cast<std::int64_t>(whole);
    if (static_cast<double>(n) != whole) return std::nullopt;
    return n;
  } else if constexpr (has_codec<T>) {
    return from_decimal<std::int64_t>(codec<T>::encode(value));
  } else {
    return std::nullopt;
  }
}

/// The counter `n` as a T; throws errc::overflow when T cannot hold it exactly.
template <class T>
[[nodiscard]] T value_of_counter(std::int64_t n, const std::string& key) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    if (n < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
        (n > 0 && static_cast<std::uint64_t>(n) > std::numeric_limits<T>::max()))
      throw_error(errc::overflow, "counter " + printable_key(key) + " does not fit the value type");
    return static_cast<T>(n);
  } else if constexpr (std::is_floating_point_v<T>) {
    if (n < -exact_double_limit || n > exact_double_limit)
      throw_error(errc::overflow, "counter " + printable_key(key) + " exceeds 2^53 in a double");
    return static_cast<T>(n);
  } else if constexpr (has_codec<T> && !std::is_same_v<T, bool>) {
    return codec<T>::decode(to_decimal(n));
  } else {
    throw_error(errc::not_a_counter,
                "counter " + printable_key(key) + ": the value type cannot hold an integer");
  }
}

}  // namespace corocache::detail
