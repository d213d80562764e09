// Value codecs: how a T becomes the bytes a networked backend stores, and back.
//
// corocache::codec<T> is the customization point. Built in: std::string (the bytes as they are),
// byte vectors (std::vector of std::byte, char, unsigned char) and arithmetic types (canonical
// decimal text, so counters and other languages' clients interoperate). For a type of your own,
// specialize it:
//
//   template <> struct corocache::codec<my_type> {
//     static std::string encode(const my_type& value);
//     static my_type decode(std::string_view bytes);  // throws cache_error(errc::codec_error)
//   };
//
// json_codec.hpp adds a codec for types with nlohmann::json to_json/from_json.
#pragma once

#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "corocache/detail/decimal.hpp"
#include "corocache/error.hpp"

namespace corocache {

/// The codec used by default for values of type T; undefined for types without one.
template <class T, class Enable = void>
struct codec;

/// A codec C for T: encode gives bytes, decode gives back T or throws errc::codec_error.
template <class C, class T>
concept value_codec = requires(const T& value, std::string_view bytes) {
  { C::encode(value) } -> std::convertible_to<std::string>;
  { C::decode(bytes) } -> std::same_as<T>;
};

/// True when codec<T> is defined and usable.
template <class T>
concept has_codec = value_codec<codec<T>, T>;

/// Strings are stored as they are.
template <>
struct codec<std::string> {
  /// The bytes of `value`, unchanged.
  static const std::string& encode(const std::string& value) { return value; }
  /// The stored bytes as a string.
  static std::string decode(std::string_view bytes) { return std::string(bytes); }
  /// The stored bytes as a string, without a copy.
  static std::string decode(std::string&& bytes) { return std::move(bytes); }
};

/// Byte vectors (std::byte, char, unsigned char) are stored as they are.
template <class Byte>
requires(std::same_as<Byte, std::byte> || std::same_as<Byte, char> ||
         std::same_as<Byte, unsigned char>) struct codec<std::vector<Byte>> {
  /// The bytes of `value`, unchanged.
  static std::string encode(const std::vector<Byte>& value) {
    return std::string(reinterpret_cast<const char*>(value.data()), value.size());
  }
  /// The stored bytes as a vector.
  static std::vector<Byte> decode(std::string_view bytes) {
    const auto* first = reinterpret_cast<const Byte*>(bytes.data());
    return std::vector<Byte>(first, first + bytes.size());
  }
};

/// Numbers as canonical decimal text; bool as "0" / "1".
template <class N>
struct codec<N, std::enable_if_t<std::is_arithmetic_v<N>>> {
  /// Canonical decimal text ("0"/"1" for bool).
  static std::string encode(N value) {
    if constexpr (std::is_same_v<N, bool>) {
      return value ? "1" : "0";
    } else {
      return detail::to_decimal(value);
    }
  }

  /// The number the canonical decimal text holds; errc::codec_error for anything else.
  static N decode(std::string_view bytes) {
    if constexpr (std::is_same_v<N, bool>) {
      if (bytes == "0" || bytes == "1") return bytes == "1";
    } else if (auto value = detail::from_decimal<N>(bytes)) {
      return *value;
    }
    detail::throw_error(errc::codec_error,
                        "not a canonical decimal number: " + detail::printable_key(bytes));
  }
};

}  // namespace corocache
