// A byte-for-byte port of Redis's stringmatchlen (Redis 7.0, with its protections against
// exponential backtracking and deep nesting), so the memory backend and the Redis server agree.
// This file must not include asio: the fuzz targets build it with clang.
#include "corocache/glob.hpp"

#include <cstddef>

namespace corocache {
namespace {

// Redis gives up (no match) past this many nested '*' expansions.
constexpr int max_nesting = 1000;

class matcher {
 public:
  matcher(std::string_view pattern, std::string_view text) : pattern_(pattern), text_(text) {}

  bool run() {
    // Redis never enters its loop for an empty text, so "*" would not match "" there; KEYS and
    // SCAN special-case "*" instead. A backend's keys always follow a prefix, so the answer that
    // holds for "prefix" + "" is the one users see: trailing stars match the empty text.
    if (text_.empty()) return pattern_.find_first_not_of('*') == std::string_view::npos;
    return match(0, 0, 0);
  }

 private:
  // Redis reads patterns as NUL-terminated strings and sometimes looks one byte past the end.
  char pat(std::size_t i) const { return i < pattern_.size() ? pattern_[i] : '\0'; }

  bool match(std::size_t p, std::size_t s, int nesting) {
    if (nesting > max_nesting) return false;
    const std::size_t pn = pattern_.size();
    const std::size_t sn = text_.size();
    while (p < pn && s < sn) {
      switch (pattern_[p]) {
        case '*': {
          while (p < pn && pat(p + 1) == '*') ++p;
          if (pn - p == 1) return true;
          for (; s < sn; ++s) {
            if (match(p + 1, s, nesting + 1)) return true;
            if (skip_longer_matches_) return false;
          }
          skip_longer_matches_ = true;
          return false;
        }
        case '?':
          ++s;
          break;
        case '[':
          if (!match_set(p, text_[s])) return false;
          ++s;
          break;
        case '\\':
          if (pn - p >= 2) ++p;
          [[fallthrough]];
        default:
          if (pattern_[p] != text_[s]) return false;
          ++s;
          break;
      }
      ++p;
      if (s == sn) {
        while (pat(p) == '*') ++p;
        break;
      }
    }
    return p >= pn && s == sn;
  }

  // Matches one byte against the set starting at pattern_[p] == '['; leaves p on its last byte.
  bool match_set(std::size_t& p, char c) const {
    const std::size_t pn = pattern_.size();
    ++p;
    const bool negate = pat(p) == '^';
    if (negate) ++p;
    bool matched = false;
    for (;;) {
      if (pat(p) == '\\' && pn - p >= 2) {
        ++p;
        if (pattern_[p] == c) matched = true;
      } else if (pat(p) == ']') {
        break;
      } else if (p >= pn) {
        --p;
        break;
      } else if (pn - p >= 3 && pattern_[p + 1] == '-') {
        int start = static_cast<signed char>(pattern_[p]);
        int end = static_cast<signed char>(pattern_[p + 2]);
        if (start > end) std::swap(start, end);
        const int value = static_cast<signed char>(c);
        p += 2;
        if (value >= start && value <= end) matched = true;
      } else if (pattern_[p] == c) {
        matched = true;
      }
      ++p;
    }
    return negate ? !matched : matched;
  }

  std::string_view pattern_;
  std::string_view text_;
  bool skip_longer_matches_ = false;
};

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) noexcept {
  return matcher(pattern, text).run();
}

std::string glob_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\' || c == '^' || c == '-')
      out += '\\';
    out += c;
  }
  return out;
}

}  // namespace corocache
