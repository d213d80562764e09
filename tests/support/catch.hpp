// Catch2 v2 for tests that co_await inside assertions. Every test includes it instead of
// <catch2/catch.hpp>.
//
// Catch2 v2's CHECK names its expression more than once (in __builtin_constant_p to silence a
// warning, and in a never-taken loop condition), and g++ 12 evaluates a co_await in those places
// too: CHECK(co_await op()) would run op() up to three times. So CHECK, CHECK_FALSE, REQUIRE and
// REQUIRE_FALSE are redefined here to evaluate their expression exactly once, then report through
// Catch2's public macros (SUCCEED, FAIL_CHECK, FAIL) with the expression and, on failure, its
// operands as Catch::StringMaker prints them. Nothing here relies on Catch2's internals.
#pragma once

#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include <catch2/catch.hpp>

namespace corocache::test::assertion {

/// An evaluated assertion: whether it held and, when it did not, its operands as text.
struct outcome {
  bool passed = false;
  std::string expansion;
};

template <class V>
std::string describe(const V& value) {
  return Catch::StringMaker<std::remove_cv_t<std::remove_reference_t<V>>>::convert(value);
}

// `decomposer() <= a == b` binds as `(decomposer() <= a) == b`: the left operand is captured,
// the comparison is evaluated at once (before any temporary of the full expression dies).
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
// The operands are printed only when the report needs them: on failure, or on success of a
// negated assertion (which then fails).
template <class L>
struct left_operand {
  const L& value;
  bool negated;

  template <class R>
  outcome compare(bool passed, const R& right, const char* op) const {
    if (passed != negated) return {passed, {}};
    return {passed, describe(value) + op + describe(right)};
  }
  template <class R>
  outcome operator==(const R& right) const {
    return compare(bool(value == right), right, " == ");
  }
  template <class R>
  outcome operator!=(const R& right) const {
    return compare(bool(value != right), right, " != ");
  }
  template <class R>
  outcome operator<(const R& right) const {
    return compare(bool(value < right), right, " < ");
  }
  template <class R>
  outcome operator<=(const R& right) const {
    return compare(bool(value <= right), right, " <= ");
  }
  template <class R>
  outcome operator>(const R& right) const {
    return compare(bool(value > right), right, " > ");
  }
  template <class R>
  outcome operator>=(const R& right) const {
    return compare(bool(value >= right), right, " >= ");
  }

  /// A lone operand: CHECK(x).
  operator outcome() const {  // NOLINT(google-explicit-constructor)
    const bool passed = static_cast<bool>(value);
    if (passed != negated) return {passed, {}};
    return {passed, describe(value)};
  }
};
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

struct decomposer {
  explicit decomposer(bool negated) : negated(negated) {}

  template <class L>
  left_operand<L> operator<=(const L& value) const {
    return {value, negated};
  }

  bool negated;
};

inline outcome negate(outcome result) {
  return {!result.passed, result.passed ? "!(" + result.expansion + ")" : std::string()};
}

inline std::string describe_exception(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return std::string("threw ") + e.what();
  } catch (...) {
    return "threw an exception that is not a std::exception";
  }
}

}  // namespace corocache::test::assertion

// COROCACHE_ASSERT(macro, negated, on_failure, expression): evaluates `expression` once (a
// co_await in it runs once), then reports it. `on_failure` is FAIL_CHECK (continue) or FAIL.
#define COROCACHE_ASSERT(macro, negated, on_failure, ...)                                         \
  do {                                                                                            \
    ::corocache::test::assertion::outcome corocache_outcome_;                                     \
    std::exception_ptr corocache_error_;                                                          \
    try {                                                                                         \
      _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wparentheses\"")          \
          corocache_outcome_ = ::corocache::test::assertion::decomposer(negated) <= __VA_ARGS__;  \
      _Pragma("GCC diagnostic pop")                                                               \
    } catch (...) {                                                                               \
      corocache_error_ = std::current_exception();                                                \
    }                                                                                             \
    if (corocache_error_) {                                                                       \
      on_failure(macro "( " #__VA_ARGS__ " ) "                                                    \
                 << ::corocache::test::assertion::describe_exception(corocache_error_));          \
    } else {                                                                                      \
      if (negated) corocache_outcome_ = ::corocache::test::assertion::negate(corocache_outcome_); \
      if (corocache_outcome_.passed) {                                                            \
        SUCCEED(macro "( " #__VA_ARGS__ " )");                                                    \
      } else {                                                                                    \
        on_failure(macro "( " #__VA_ARGS__ " )\nwith expansion:\n  "                              \
                   << corocache_outcome_.expansion);                                              \
      }                                                                                           \
    }                                                                                             \
  } while (false)

#undef CHECK
#undef CHECK_FALSE
#undef REQUIRE
#undef REQUIRE_FALSE
#define CHECK(...) COROCACHE_ASSERT("CHECK", false, FAIL_CHECK, __VA_ARGS__)
#define CHECK_FALSE(...) COROCACHE_ASSERT("CHECK_FALSE", true, FAIL_CHECK, __VA_ARGS__)
#define REQUIRE(...) COROCACHE_ASSERT("REQUIRE", false, FAIL, __VA_ARGS__)
#define REQUIRE_FALSE(...) COROCACHE_ASSERT("REQUIRE_FALSE", true, FAIL, __VA_ARGS__)
