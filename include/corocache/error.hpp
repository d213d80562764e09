// Error reporting for corocache: the errc codes, their category and cache_error.
//
// Every failure of a cache operation is thrown as corocache::cache_error, a std::system_error whose
// code() compares equal to a corocache::errc value. A cache miss is never an error: it is an empty
// std::optional.
#pragma once

#include <string>
#include <string_view>
#include <system_error>

namespace corocache {

/// Why a cache operation failed.
enum class errc {
  /// An argument was out of its domain: a TTL <= 0, a malformed URL, an unknown URL parameter.
  invalid_argument = 1,
  /// incr/decr found a stored value that is not a 64-bit integer; the value was left unchanged.
  not_a_counter,
  /// incr/decr would leave the range of std::int64_t (or of T); the value was left unchanged.
  overflow,
  /// A stored value could not be decoded as T, or T could not be encoded.
  codec_error,
  /// The backend could not reach its server, or lost the connection while a command was pending.
  connection_error,
  /// The server did not answer within the configured timeout.
  timeout,
  /// The server answered with an error reply.
  server_error,
  /// An operation was called before initialize().
  not_initialized,
  /// An operation was called after shutdown(), or was pending when the backend shut down.
  shut_down,
  /// No backend is registered under the requested name or URL scheme.
  unknown_backend,
  /// A backend is already registered under that name.
  duplicate_backend,
  /// The key holds a value of another Redis type than the operation needs (e.g. a set op on a
  /// string).
  wrong_type,
  /// The feature is not available in this build (e.g. TLS with a hiredis built without SSL).
  unsupported,
  /// The server sent a reply the backend cannot interpret.
  protocol_error,
  /// The caller cancelled the operation (an asio cancellation slot: awaitable operators,
  /// parallel groups, a co_spawn with a bound slot). The connection stays usable; a command
  /// that was already sent may still run on the server.
  cancelled,
};

/// The category of corocache::errc codes; its name() is "corocache".
[[nodiscard]] const std::error_category& cache_category() noexcept;

[[nodiscard]] inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), cache_category()};
}

/// The exception thrown by every corocache operation that fails.
class cache_error : public std::system_error {
 public:
  /// An error with code `code` and a message that names the key or endpoint.
  cache_error(errc code, const std::string& message)
      : std::system_error(make_error_code(code), message) {}

  /// The corocache error code; code() gives the same value as a std::error_code.
  [[nodiscard]] errc error() const noexcept { return static_cast<errc>(code().value()); }
};

namespace detail {

/// Throws cache_error; kept out of line so call sites stay small.
[[noreturn]] void throw_error(errc code, const std::string& message);

/// Renders a key for an error message: non-printable bytes escaped, long keys shortened.
[[nodiscard]] std::string printable_key(std::string_view key);

}  // namespace detail
}  // namespace corocache

// Lets errc convert to std::error_code; a standard trait, kept out of the API reference.
/// @cond
template <>
struct std::is_error_code_enum<corocache::errc> : std::true_type {};
/// @endcond
