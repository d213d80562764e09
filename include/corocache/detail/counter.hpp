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

// Largest magnitude a floating type holds with every integer below it exact: 2^24 for float,
// 2^53 for double, all of int64 for an 80-bit long double.
template <class T>
inline constexpr std::int64_t exact_integer_limit = std::numeric_limits<T>::digits >= 63
                                                        ? std::numeric_limits<std::int64_t>::max()
                                                        : std::int64_t{1}
                                                              << std::numeric_limits<T>::digits;
inline constexpr std::int64_t exact_double_limit = exact_integer_limit<double>;

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
    constexpr auto limit = static_cast<T>(exact_integer_limit<T>);
    if (!(value >= -limit && value <= limit)) return std::nullopt;  // NaN too
    const auto n = static_cast<std::int64_t>(value);
    if (static_cast<T>(n) != value) return std::nullopt;
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
    if (n < -exact_integer_limit<T> || n > exact_integer_limit<T>) {
      throw_error(errc::overflow, "counter " + printable_key(key) + " exceeds 2^" +
                                      std::to_string(std::numeric_limits<T>::digits) +
                                      ", past which the floating value type is not exact");
    }
    return static_cast<T>(n);
  } else if constexpr (has_codec<T> && !std::is_same_v<T, bool>) {
    return codec<T>::decode(to_decimal(n));
  } else {
    throw_error(errc::not_a_counter,
                "counter " + printable_key(key) + ": the value type cannot hold an integer");
  }
}

}  // namespace corocache::detail
