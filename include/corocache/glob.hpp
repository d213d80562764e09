// Redis glob patterns, as used by invalidate_pattern(), KEYS and SCAN MATCH.
//
// The syntax and every corner case follow Redis's own matcher (util.c, stringmatchlen):
//   *        any run of bytes, including none
//   ?        exactly one byte
//   [abc]    one byte of the set; [^abc] one byte not in it; [a-z] a range (ends may be swapped)
//   \x       the byte x itself, outside and inside brackets
// An unterminated '[' matches like a set that ends at the pattern's end; a trailing '\' matches a
// backslash. Matching is byte-wise and case-sensitive; bytes >= 0x80 order as signed chars in
// ranges, as they do in Redis. One deliberate difference: an empty text matches a pattern made only
// of '*' (Redis's matcher says no, but its KEYS/SCAN special-case "*", and a prefixed key is never
// empty).
#pragma once

#include <string>
#include <string_view>

namespace corocache {

/// True when `text` matches the Redis glob `pattern`.
[[nodiscard]] bool glob_match(std::string_view pattern, std::string_view text) noexcept;

/// `text` with every glob metacharacter escaped, so it matches only itself.
[[nodiscard]] std::string glob_escape(std::string_view text);

}  // namespace corocache
