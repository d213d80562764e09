// Helpers shared by the fuzz targets: a failed property prints what broke and aborts, so libFuzzer
// stops and writes the input to a crash-* file that reproduces it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace corocache::fuzz {

/// The input as text.
[[nodiscard]] inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// `bytes` in double quotes with every non-printable byte as \xNN, never shortened.
[[nodiscard]] inline std::string quoted(std::string_view bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte == '"' || byte == '\\') {
      out += '\\';
      out += c;
    } else if (byte >= 0x20 && byte < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += hex[byte >> 4];
      out += hex[byte & 0xf];
    }
  }
  return out + '"';
}

/// Reports a broken property and aborts.
[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "\n*** fuzz property violated: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace corocache::fuzz

/// Aborts with `message` (a std::string expression, built only on failure) unless `condition`.
#define COROCACHE_FUZZ_CHECK(condition, message)                                           \
  do {                                                                                     \
    if (!(condition)) ::corocache::fuzz::fail(std::string(#condition) + ": " + (message)); \
  } while (false)
