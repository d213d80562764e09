// type_name<T>(): the name of a type as the compiler spells it, for error messages.
#pragma once

#include <string_view>

namespace corocache::detail {

/// "my_type" for T = my_type (g++ and clang); "the value type" where the compiler gives no name.
template <class T>
[[nodiscard]] constexpr std::string_view type_name() {
#if defined(__GNUC__) || defined(__clang__)
  // g++: "... type_name() [with T = my_type; std::string_view = ...]", clang: "... [T = my_type]"
  constexpr std::string_view function = __PRETTY_FUNCTION__;
  constexpr std::string_view marker = "T = ";
  constexpr auto start = function.find(marker);
  if constexpr (start != std::string_view::npos) {
    constexpr auto rest = function.substr(start + marker.size());
    return rest.substr(0, rest.find_first_of(";]"));
  }
#endif
  return "the value type";
}

}  // namespace corocache::detail
