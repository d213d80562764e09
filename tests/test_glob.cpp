// The glob matcher against hand-checked cases of Redis's semantics. The Redis tests compare it
// with a real server's SCAN MATCH; the fuzz target compares it with a reference implementation.
#include "corocache/glob.hpp"

#include <string>
#include "support/catch.hpp"

using corocache::glob_escape;
using corocache::glob_match;

TEST_CASE("stars and question marks match runs and single bytes", "[glob]") {
  CHECK(glob_match("*", "anything"));
  CHECK(glob_match("*", ""));
  CHECK(glob_match("**", ""));
  CHECK(glob_match("", ""));
  CHECK_FALSE(glob_match("", "a"));
  CHECK(glob_match("a*", "a"));
  CHECK(glob_match("a*c", "abbbc"));
  CHECK_FALSE(glob_match("a*c", "abbbd"));
  CHECK(glob_match("a?c", "abc"));
  CHECK_FALSE(glob_match("a?c", "ac"));
  CHECK_FALSE(glob_match("?", ""));
  CHECK(glob_match("*a*b*", "xxaxxbxx"));
}

TEST_CASE("brackets match sets, negated sets and ranges", "[glob]") {
  CHECK(glob_match("[abc]", "b"));
  CHECK_FALSE(glob_match("[abc]", "d"));
  CHECK(glob_match("[^abc]", "d"));
  CHECK_FALSE(glob_match("[^abc]", "a"));
  CHECK(glob_match("[a-c]", "b"));
  CHECK(glob_match("[c-a]", "b"));  // swapped ends work like Redis
  CHECK_FALSE(glob_match("[a-c]", "-"));
  CHECK(glob_match("[\\]]", "]"));
  CHECK(glob_match("[a\\-z]", "-"));
  CHECK_FALSE(glob_match("[a\\-z]", "m"));
}

TEST_CASE("backslash escapes a metacharacter and a trailing backslash is literal", "[glob]") {
  CHECK(glob_match("a\\*b", "a*b"));
  CHECK_FALSE(glob_match("a\\*b", "axb"));
  CHECK(glob_match("\\?", "?"));
  CHECK_FALSE(glob_match("\\?", "x"));
  CHECK(glob_match("a\\", "a\\"));
}

TEST_CASE("an unterminated bracket is a set that ends with the pattern", "[glob]") {
  CHECK(glob_match("[ab", "a"));
  CHECK(glob_match("[ab", "b"));
  CHECK_FALSE(glob_match("[ab", "ab"));
  CHECK_FALSE(glob_match("[", "["));
  CHECK(glob_match("[^", "x"));
}

TEST_CASE("bytes are matched exactly, NUL and high bytes included", "[glob]") {
  CHECK(glob_match(std::string("a\0*", 3), std::string("a\0bc", 4)));
  CHECK_FALSE(glob_match(std::string("a\0", 2), "a"));
  CHECK(glob_match("?", "\xff"));
  // Ranges compare signed chars, as Redis does: 0x80..0xff sort below ASCII.
  CHECK(glob_match("[\x80-a]", "\xff"));
  CHECK_FALSE(glob_match("[a-\xff]", "b"));
  CHECK_FALSE(glob_match("A", "a"));
}

TEST_CASE("many stars against a long text finish quickly", "[glob]") {
  const std::string text(10000, 'a');
  CHECK_FALSE(glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", text));
  CHECK(glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*", text));
}

TEST_CASE("glob_escape makes a text match only itself", "[glob]") {
  for (const std::string text : {"plain", "a*b", "[x]", "a\\b", "?", "^-", ""}) {
    CHECK(glob_match(glob_escape(text), text));
    CHECK(glob_match(glob_escape(text) + "*", text + "suffix"));
  }
  CHECK_FALSE(glob_match(glob_escape("a*"), "ab"));
  CHECK_FALSE(glob_match(glob_escape("[ab]"), "a"));
}
