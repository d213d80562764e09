// The oracle for fuzz_glob: a literal, deliberately unoptimised port of Redis's glob matcher
// (src/util.c, stringmatchlen_impl, nocase = 0), kept apart from src/glob.cpp so the two can
// disagree.
//
// It keeps Redis's pointer-and-length code shape and reads the pattern through a NUL-terminated
// copy, because Redis matches an sds pattern and looks one byte past its end in places (the
// '*' run, the unterminated '['). Pattern bytes are compared as signed chars, as Redis does on
// x86-64 (where plain char is signed). Left out on purpose:
//   - skipLongerMatches, a pure optimisation: the fuzzer checks that glob.cpp's copy of it never
//     changes an answer;
//   - the nesting limit (1000 '*'), unreachable here because fuzz patterns are at most 255 bytes.
// The '*' recursion is memoised on (pattern offset, text offset) so that star-heavy patterns stay
// polynomial; the memo does not change answers because the function is pure.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>

namespace corocache::fuzz {

class reference_glob {
 public:
  reference_glob(std::string_view pattern, std::string_view text)
      : pattern_(pattern), text_(text) {}

  [[nodiscard]] bool matches() {
    // glob.hpp's one documented deviation from Redis: an empty text matches a pattern made only
    // of '*' (Redis's matcher never enters its loop for an empty string and answers "patternLen
    // == 0").
    if (text_.empty()) return pattern_.find_first_not_of('*') == std::string::npos;
    return match(pattern_.c_str(), static_cast<int>(pattern_.size()), text_.data(),
                 static_cast<int>(text_.size()));
  }

 private:
  bool match(const char* pattern, int pattern_len, const char* string, int string_len) {
    while (pattern_len && string_len) {
      switch (pattern[0]) {
        case '*':
          while (pattern_len && pattern[1] == '*') {
            pattern++;
            pattern_len--;
          }
          if (pattern_len == 1) return true;
          while (string_len) {
            if (match_after_star(pattern + 1, pattern_len - 1, string, string_len)) return true;
            string++;
            string_len--;
          }
          return false;
        case '?':
          string++;
          string_len--;
          break;
        case '[': {
          pattern++;
          pattern_len--;
          const bool negate = pattern[0] == '^';
          if (negate) {
            pattern++;
            pattern_len--;
          }
          bool matched = false;
          while (true) {
            if (pattern[0] == '\\' && pattern_len >= 2) {
              pattern++;
              pattern_len--;
              if (pattern[0] == string[0]) matched = true;
            } else if (pattern[0] == ']') {
              break;
            } else if (pattern_len == 0) {
              pattern--;
              pattern_len++;
              break;
            } else if (pattern_len >= 3 && pattern[1] == '-') {
              int start = static_cast<signed char>(pattern[0]);
              int end = static_cast<signed char>(pattern[2]);
              const int c = static_cast<signed char>(string[0]);
              if (start > end) {
                const int t = start;
                start = end;
                end = t;
              }
              pattern += 2;
              pattern_len -= 2;
              if (c >= start && c <= end) matched = true;
            } else if (pattern[0] == string[0]) {
              matched = true;
            }
            pattern++;
            pattern_len--;
          }
          if (negate) matched = !matched;
          if (!matched) return false;
          string++;
          string_len--;
          break;
        }
        case '\\':
          if (pattern_len >= 2) {
            pattern++;
            pattern_len--;
          }
          [[fallthrough]];
        default:
          if (pattern[0] != string[0]) return false;
          string++;
          string_len--;
          break;
      }
      pattern++;
      pattern_len--;
      if (string_len == 0) {
        while (*pattern == '*') {
          pattern++;
          pattern_len--;
        }
        break;
      }
    }
    return pattern_len == 0 && string_len == 0;
  }

  bool match_after_star(const char* pattern, int pattern_len, const char* string, int string_len) {
    const auto key = static_cast<std::size_t>(pattern - pattern_.c_str()) * (text_.size() + 1) +
                     static_cast<std::size_t>(string - text_.data());
    if (const auto it = memo_.find(key); it != memo_.end()) return it->second;
    const bool result = match(pattern, pattern_len, string, string_len);
    memo_.emplace(key, result);
    return result;
  }

  std::string pattern_;
  std::string text_;
  std::unordered_map<std::size_t, bool> memo_;
};

}  // namespace corocache::fuzz
