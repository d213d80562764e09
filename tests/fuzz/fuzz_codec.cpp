// Fuzzes the built-in codecs. For each of them, decode(bytes) either throws
// cache_error(errc::codec_error) or gives a value whose encode() is exactly `bytes`; and a value
// built from the input's raw bytes survives encode() then decode() unchanged.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "corocache/codec.hpp"
#include "corocache/error.hpp"
#include "fuzz_check.hpp"

namespace {

using corocache::codec;
using corocache::fuzz::quoted;

template <class T>
std::string type_name() {
  if constexpr (std::is_same_v<T, std::string>)
    return "std::string";
  else if constexpr (std::is_same_v<T, std::vector<std::byte>>)
    return "std::vector<std::byte>";
  else if constexpr (std::is_same_v<T, bool>)
    return "bool";
  else if constexpr (std::is_same_v<T, double>)
    return "double";
  else if constexpr (std::is_signed_v<T>)
    return "int" + std::to_string(sizeof(T) * 8) + "_t";
  else
    return "uint" + std::to_string(sizeof(T) * 8) + "_t";
}

template <class T>
void check_decode(std::string_view bytes) {
  T value{};
  try {
    value = codec<T>::decode(bytes);
  } catch (const corocache::cache_error& e) {
    COROCACHE_FUZZ_CHECK(
        e.error() == corocache::errc::codec_error,
        "codec<" + type_name<T>() + ">::decode(" + quoted(bytes) + ") threw: " + e.what());
    return;
  }
  const std::string encoded = codec<T>::encode(value);
  COROCACHE_FUZZ_CHECK(encoded == bytes, "codec<" + type_name<T>() + ">::decode(" + quoted(bytes) +
                                             ") re-encodes as " + quoted(encoded));
}

bool same_value(double a, double b) {
  // Any NaN may come back as the canonical NaN of its sign; everything else, -0.0 included,
  // must come back bit for bit.
  if (std::isnan(a)) return std::isnan(b) && std::signbit(a) == std::signbit(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

template <class N>
void check_round_trip(std::string_view bytes) {
  N value{};
  if constexpr (std::is_same_v<N, bool>) {
    value = !bytes.empty() && (bytes[0] & 1);
  } else {
    std::memcpy(&value, bytes.data(), std::min(sizeof value, bytes.size()));
  }
  const std::string encoded = codec<N>::encode(value);
  N decoded{};
  try {
    decoded = codec<N>::decode(encoded);
  } catch (const corocache::cache_error& e) {
    corocache::fuzz::fail("codec<" + type_name<N>() + "> cannot decode its own " + quoted(encoded) +
                          ": " + e.what());
  }
  bool same = decoded == value;
  if constexpr (std::is_same_v<N, double>) same = same_value(value, decoded);
  COROCACHE_FUZZ_CHECK(same, "codec<" + type_name<N>() + "> round trip through " + quoted(encoded));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto bytes = corocache::fuzz::as_text(data, size);
  check_decode<std::string>(bytes);
  check_decode<std::vector<std::byte>>(bytes);
  check_decode<std::int64_t>(bytes);
  check_decode<std::int32_t>(bytes);
  check_decode<std::uint64_t>(bytes);
  check_decode<double>(bytes);
  check_decode<bool>(bytes);

  check_round_trip<std::int64_t>(bytes);
  check_round_trip<std::int32_t>(bytes);
  check_round_trip<std::uint64_t>(bytes);
  check_round_trip<double>(bytes);
  check_round_trip<bool>(bytes);
  return 0;
}
