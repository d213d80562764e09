// Backend configuration strings: "memory://?max_size=10000", "null://",
// "redis://user:secret@host:6379/0?prefix=app:", "unix:///run/redis.sock?db=1".
//
// backend_url splits such a string into its parts (percent-decoded); url_parameters lets a backend
// factory take the query parameters it understands and reject every other one by name.
//
// No error message quotes the URL's text, its user-info, path or a query value: any of them may be
// a password. Messages name the scheme, the host and port, the problem and parameter names. A URL
// that can be read two ways is rejected: an '@' after the host ("redis://app:6380?x=secret@host"),
// an '@' in the user name. Inside a password, path or value write '@', '/', '?', '#', '&' and '%'
// percent-encoded.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corocache {

/// A parsed backend URL:
/// scheme://[user[:password]@]host[:port][,host[:port]...][/path][?name=value&...].
struct backend_url {
  std::string scheme;                   ///< lower-cased, e.g. "redis"
  std::string user;                     ///< empty when absent
  std::optional<std::string> password;  ///< absent unless the URL has "user:password@"
  std::string host;                     ///< without brackets for an IPv6 literal
  std::optional<std::uint16_t> port;    ///< absent unless given
  /// The hosts after the first of a comma-separated list ("h1:1,h2:2,h3:3", as
  /// redis-sentinel:// takes): host and port above are the first. Empty for a single host.
  std::vector<std::pair<std::string, std::optional<std::uint16_t>>> more_hosts;
  std::string path;                                        ///< "" or starting with '/'
  std::vector<std::pair<std::string, std::string>> query;  ///< in order, names unique

  /// Parses `text`; throws cache_error(errc::invalid_argument) naming what is wrong, without
  /// quoting any of the text but the scheme.
  [[nodiscard]] static backend_url parse(std::string_view text);

  /// "scheme://[***@]host[:port][,host[:port]...]": the user-info masked whole, path and query left
  /// out. Safe for logs and errors.
  [[nodiscard]] std::string redacted() const;
};

/// The query parameters of a backend_url, taken one by one by a factory.
class url_parameters {
 public:
  /// The parameters of `url`, none taken yet.
  explicit url_parameters(const backend_url& url);

  /// The raw value of parameter `name`, if present; marks it as understood.
  [[nodiscard]] std::optional<std::string> take(std::string_view name);
  /// A non-negative integer parameter; errc::invalid_argument when malformed. No message shows
  /// the value.
  [[nodiscard]] std::optional<std::uint64_t> take_unsigned(std::string_view name);
  /// A duration such as "250ms", "30s", "5m" or "1h"; a unit is required.
  [[nodiscard]] std::optional<std::chrono::milliseconds> take_duration(std::string_view name);
  /// "true" or "false"; errc::invalid_argument otherwise.
  [[nodiscard]] std::optional<bool> take_bool(std::string_view name);

  /// Throws errc::invalid_argument naming every parameter no take() asked for (not its value).
  void reject_unknown() const;

 private:
  [[noreturn]] void reject_value(std::string_view name, std::string_view expected) const;

  const backend_url& url_;
  std::vector<bool> taken_;
};

namespace detail {
/// Throws errc::invalid_argument when `url` has a host (or several), port, path or credentials (for
/// backends configured by query parameters alone, such as memory:// and null://).
void expect_no_location(const backend_url& url);

/// Parses "250ms" / "30s" / "5m" / "1h"; nullopt when malformed or out of range.
[[nodiscard]] std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
}  // namespace detail

}  // namespace corocache
