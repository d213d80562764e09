// Catch2 v2 for tests that co_await inside assertions.
//
// Catch2 v2's assertion macro names its expression three times: in __builtin_constant_p (to
// silence a warning), in the real check, and in a never-taken `false && (expr)` loop condition.
// g++ 12 evaluates a co_await in the first and the last, so CHECK(co_await op()) would run op()
// up to three times and can crash. This header keeps only the real check. Every test includes it
// instead of <catch2/catch.hpp>.
#pragma once

#include <catch2/catch.hpp>

#undef CATCH_INTERNAL_IGNORE_BUT_WARN
#define CATCH_INTERNAL_IGNORE_BUT_WARN(...)

#undef INTERNAL_CATCH_TEST
#define INTERNAL_CATCH_TEST(macroName, resultDisposition, ...)                                   \
  do {                                                                                           \
    Catch::AssertionHandler catchAssertionHandler(macroName##_catch_sr, CATCH_INTERNAL_LINEINFO, \
                                                  CATCH_INTERNAL_STRINGIFY(__VA_ARGS__),         \
                                                  resultDisposition);                            \
    INTERNAL_CATCH_TRY {                                                                         \
      CATCH_INTERNAL_START_WARNINGS_SUPPRESSION                                                  \
      CATCH_INTERNAL_SUPPRESS_PARENTHESES_WARNINGS                                               \
      catchAssertionHandler.handleExpr(Catch::Decomposer() <= __VA_ARGS__);                      \
      CATCH_INTERNAL_STOP_WARNINGS_SUPPRESSION                                                   \
    }                                                                                            \
    INTERNAL_CATCH_CATCH(catchAssertionHandler)                                                  \
    INTERNAL_CATCH_REACT(catchAssertionHandler)                                                  \
  } while (false)
