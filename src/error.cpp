// The corocache error category and the helpers that build error messages.
#include "corocache/error.hpp"

#include <fmt/format.h>

namespace corocache {
namespace {

class category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "corocache"; }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::invalid_argument:
        return "invalid argument";
      case errc::not_a_counter:
        return "value is not an integer counter";
      case errc::overflow:
        return "counter overflow";
      case errc::codec_error:
        return "value could not be encoded or decoded";
      case errc::connection_error:
        return "connection error";
      case errc::timeout:
        return "operation timed out";
      case errc::server_error:
        return "server replied with an error";
      case errc::not_initialized:
        return "backend not initialized";
      case errc::shut_down:
        return "backend shut down";
      case errc::unknown_backend:
        return "unknown backend";
      case errc::duplicate_backend:
        return "backend name already registered";
      case errc::wrong_type:
        return "key holds a value of the wrong type";
      case errc::unsupported:
        return "not supported by this build";
      case errc::protocol_error:
        return "unexpected reply from server";
      case errc::cancelled:
        return "operation cancelled";
    }
    return "unknown corocache error";
  }
};

}  // namespace

const std::error_category& cache_category() noexcept {
  static const category_impl instance;
  return instance;
}

namespace detail {

void throw_error(errc code, const std::string& message) {
  throw cache_error(code, message);
}

std::string printable_key(std::string_view key) {
  constexpr std::size_t max_shown = 64;
  std::string out = "\"";
  for (std::size_t i = 0; i < key.size() && i < max_shown; ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  out += '"';
  if (key.size() > max_shown) out += fmt::format(" (first {} of {} bytes)", max_shown, key.size());
  return out;
}

}  // namespace detail
}  // namespace corocache
