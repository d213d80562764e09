// Fuzzes glob_match against the reference port of Redis's matcher, and glob_escape against
// glob_match. Input: the first byte is the pattern length, then the pattern, then the text.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "corocache/glob.hpp"
#include "fuzz_check.hpp"
#include "reference_glob.hpp"

namespace {

// The reference memoises but is still O(stars * text^2); longer texts add time, not coverage.
constexpr std::size_t max_text_size = 512;

std::string describe(std::string_view pattern, std::string_view text) {
  using corocache::fuzz::quoted;
  return "pattern " + quoted(pattern) + ", text " + quoted(text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto input = corocache::fuzz::as_text(data + 1, size - 1);
  const auto pattern = input.substr(0, std::min<std::size_t>(data[0], input.size()));
  const auto text = input.substr(pattern.size());
  if (text.size() > max_text_size) return -1;  // -1: do not keep this input in the corpus

  const bool expected = corocache::fuzz::reference_glob(pattern, text).matches();
  const bool actual = corocache::glob_match(pattern, text);
  COROCACHE_FUZZ_CHECK(actual == expected, describe(pattern, text) + ": glob_match says " +
                                               (actual ? "match" : "no match") +
                                               ", Redis's matcher says the opposite");

  // An escaped string matches itself and nothing else.
  COROCACHE_FUZZ_CHECK(corocache::glob_match(corocache::glob_escape(text), text),
                       "glob_escape(text) does not match text " + corocache::fuzz::quoted(text));
  COROCACHE_FUZZ_CHECK(
      corocache::glob_match(corocache::glob_escape(pattern), text) == (pattern == text),
      "glob_escape(a) vs b: " + describe(pattern, text));
  return 0;
}
