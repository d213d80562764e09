// Parsing of backend URLs and their query parameters. No asio here: the URL fuzz target builds
// this file with clang.
#include "corocache/backend_url.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include <fmt/format.h>

#include "corocache/error.hpp"

namespace corocache {
namespace {

constexpr std::string_view scheme_separator = "://";

// Messages about a URL never quote its text: any part of it may be a password written in the
// wrong place, and a malformed URL is often one whose password holds an unescaped '/', '?', '#'
// or '@'. They name the scheme, once it is known to be one, and the problem.
[[noreturn]] void fail(std::string_view scheme, std::string_view why) {
  detail::throw_error(errc::invalid_argument,
                      scheme.empty() ? fmt::format("invalid backend URL: {}", why)
                                     : fmt::format("invalid {}:// URL: {}", scheme, why));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `where` names the part for the message ("user-info", "path", ...); the text is never shown.
std::string percent_decode(std::string_view scheme, std::string_view part, std::string_view where) {
  std::string out;
  out.reserve(part.size());
  for (std::size_t i = 0; i < part.size(); ++i) {
    if (part[i] != '%') {
      out += part[i];
      continue;
    }
    if (i + 2 >= part.size() || hex_value(part[i + 1]) < 0 || hex_value(part[i + 2]) < 0)
      fail(scheme, fmt::format("bad percent escape in the {}: write '%' as %25", where));
    out += static_cast<char>(hex_value(part[i + 1]) * 16 + hex_value(part[i + 2]));
    i += 2;
  }
  return out;
}

bool valid_scheme(std::string_view scheme) {
  if (scheme.empty() || !std::isalpha(static_cast<unsigned char>(scheme[0]))) return false;
  return std::all_of(scheme.begin(), scheme.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  });
}

// One "host[:port]" or "[ipv6]:port" of the authority.
std::pair<std::string, std::optional<std::uint16_t>> parse_host_port(std::string_view scheme,
                                                                     std::string_view authority) {
  std::pair<std::string, std::optional<std::uint16_t>> out;
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) fail(scheme, "unterminated '[' in host");
    out.first = std::string(authority.substr(1, close - 1));
    const auto rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') fail(scheme, "unexpected text after ']'");
    if (!rest.empty()) port_text = rest.substr(1);
    if (rest.size() == 1) fail(scheme, "empty port");
  } else {
    const auto colon = authority.find(':');
    out.first = percent_decode(scheme, authority.substr(0, colon), "host");
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) fail(scheme, "empty port");
    }
  }
  if (!port_text.empty()) {
    unsigned value = 0;
    const auto* end = port_text.data() + port_text.size();
    const auto result = std::from_chars(port_text.data(), end, value);
    if (result.ec != std::errc{} || result.ptr != end || value == 0 || value > 65535)
      fail(scheme, "port must be a number from 1 to 65535");
    out.second = static_cast<std::uint16_t>(value);
  }
  return out;
}

void parse_authority(std::string_view authority, backend_url& url) {
  const auto at = authority.rfind('@');
  if (at != std::string_view::npos) {
    const auto userinfo = authority.substr(0, at);
    const auto colon = userinfo.find(':');
    // The last '@' ends the user-info, so a password may hold one; a user name may not: in
    // "a@b:c@host" the user may as well have meant the password "a@b:c".
    if (userinfo.substr(0, colon).find('@') != std::string_view::npos)
      fail(url.scheme, "an '@' in the user name is ambiguous: write it as %40");
    url.user = percent_decode(url.scheme, userinfo.substr(0, colon), "user-info");
    if (colon != std::string_view::npos)
      url.password = percent_decode(url.scheme, userinfo.substr(colon + 1), "user-info");
    authority.remove_prefix(at + 1);
  }
  // A comma never appears in a host name or an IPv6 literal: it separates hosts.
  for (bool first = true;; first = false) {
    const auto comma = authority.find(',');
    const auto one = authority.substr(0, comma);
    if (comma != std::string_view::npos && one.empty())
      fail(url.scheme, "empty host in a host list");
    auto host_port = parse_host_port(url.scheme, one);
    if (!first && host_port.first.empty()) fail(url.scheme, "empty host in a host list");
    if (first) {
      url.host = std::move(host_port.first);
      url.port = host_port.second;
    } else {
      url.more_hosts.push_back(std::move(host_port));
    }
    if (comma == std::string_view::npos) break;
    authority.remove_prefix(comma + 1);
  }
}

void parse_query(std::string_view query, backend_url& url) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto name = percent_decode(url.scheme, pair.substr(0, eq), "query");
    auto value = eq == std::string_view::npos
                     ? std::string{}
                     : percent_decode(url.scheme, pair.substr(eq + 1), "query");
    if (name.empty()) fail(url.scheme, "query parameter without a name");
    const bool duplicate = std::any_of(url.query.begin(), url.query.end(),
                                       [&](const auto& p) { return p.first == name; });
    if (duplicate) fail(url.scheme, fmt::format("query parameter \"{}\" given twice", name));
    url.query.emplace_back(std::move(name), std::move(value));
  }
}

}  // namespace

backend_url backend_url::parse(std::string_view text) {
  backend_url url;
  const auto separator = text.find(scheme_separator);
  if (separator == std::string_view::npos)
    fail({}, "expected scheme://... (for example memory://, null:// or redis://host:6379/0)");
  const auto scheme = text.substr(0, separator);
  if (!valid_scheme(scheme))
    fail({}, "the scheme must start with a letter and hold only letters, digits, '+', '-', '.'");
  url.scheme.resize(scheme.size());
  std::transform(scheme.begin(), scheme.end(), url.scheme.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });

  const auto rest = text.substr(separator + scheme_separator.size());
  const auto authority_end = std::min(rest.find_first_of("/?#"), rest.size());
  // "redis://app:12/secret@host" or "redis://app:6380?prefix=secret@host": text that looks like
  // user-info after the host is read neither way.
  if (rest.find('@', authority_end) != std::string_view::npos) {
    fail(url.scheme,
         "an '@' after the host is ambiguous: put user-info before the host and write '@', '/', "
         "'?' and '#' inside a password, path or value as %40, %2F, %3F and %23");
  }
  if (rest.find('#') != std::string_view::npos) fail(url.scheme, "fragments ('#') are not allowed");
  parse_authority(rest.substr(0, authority_end), url);
  const auto query_start = rest.find('?');
  if (authority_end < rest.size() && rest[authority_end] == '/')
    url.path =
        percent_decode(url.scheme, rest.substr(authority_end, query_start - authority_end), "path");
  if (query_start != std::string_view::npos) parse_query(rest.substr(query_start + 1), url);
  return url;
}

std::string backend_url::redacted() const {
  std::string out = scheme + "://";
  if (!user.empty() || password) out += "***@";  // a "user" may be a password in the wrong place
  const auto add = [&out](const std::string& h, const std::optional<std::uint16_t>& p) {
    out += h.find(':') != std::string::npos ? "[" + h + "]" : h;
    if (p) out += fmt::format(":{}", *p);
  };
  add(host, port);
  for (const auto& [h, p] : more_hosts) {
    out += ',';
    add(h, p);
  }
  return out;
}

url_parameters::url_parameters(const backend_url& url)
    : url_(url), taken_(url.query.size(), false) {}

std::optional<std::string> url_parameters::take(std::string_view name) {
  for (std::size_t i = 0; i < url_.query.size(); ++i) {
    if (url_.query[i].first == name) {
      taken_[i] = true;
      return url_.query[i].second;
    }
  }
  return std::nullopt;
}

// Values are never shown: a password may have been written as one.
void url_parameters::reject_value(std::string_view name, std::string_view expected) const {
  detail::throw_error(errc::invalid_argument, fmt::format("URL parameter {}: expected {} ({})",
                                                          name, expected, url_.redacted()));
}

std::optional<std::uint64_t> url_parameters::take_unsigned(std::string_view name) {
  auto text = take(name);
  if (!text) return std::nullopt;
  std::uint64_t value = 0;
  const auto* end = text->data() + text->size();
  const auto result = std::from_chars(text->data(), end, value);
  if (text->empty() || result.ec != std::errc{} || result.ptr != end)
    reject_value(name, "a non-negative integer");
  return value;
}

std::optional<std::chrono::milliseconds> url_parameters::take_duration(std::string_view name) {
  auto text = take(name);
  if (!text) return std::nullopt;
  auto value = detail::parse_duration(*text);
  if (!value) reject_value(name, "a duration such as 250ms, 30s, 5m or 1h");
  return value;
}

std::optional<bool> url_parameters::take_bool(std::string_view name) {
  auto text = take(name);
  if (!text) return std::nullopt;
  if (*text == "true") return true;
  if (*text == "false") return false;
  reject_value(name, "true or false");
}

void url_parameters::reject_unknown() const {
  std::string unknown;
  for (std::size_t i = 0; i < taken_.size(); ++i) {
    if (!taken_[i]) unknown += (unknown.empty() ? "" : ", ") + url_.query[i].first;
  }
  if (!unknown.empty()) {
    detail::throw_error(errc::invalid_argument, fmt::format("unknown URL parameter(s) {} for {}",
                                                            unknown, url_.redacted()));
  }
}

namespace detail {

// The URL is not shown: its host or path may be a password in the wrong place.
void expect_no_location(const backend_url& url) {
  if (url.host.empty() && !url.port && url.more_hosts.empty() && url.path.empty() &&
      url.user.empty() && !url.password)
    return;
  throw_error(errc::invalid_argument,
              fmt::format("{}:// takes no host, port, path or credentials, only query parameters",
                          url.scheme));
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::int64_t count = 0;
  const auto* end = text.data() + text.size();
  const auto result = std::from_chars(text.data(), end, count);
  if (result.ec != std::errc{} || result.ptr == text.data() || text.front() == '-')
    return std::nullopt;  // "-0s" parses as 0 but is no duration
  const std::string_view unit(result.ptr, static_cast<std::size_t>(end - result.ptr));
  std::int64_t scale = 0;
  if (unit == "ms")
    scale = 1;
  else if (unit == "s")
    scale = 1000;
  else if (unit == "m")
    scale = 60'000;
  else if (unit == "h")
    scale = 3'600'000;
  else
    return std::nullopt;
  if (count > std::numeric_limits<std::int64_t>::max() / scale) return std::nullopt;
  return std::chrono::milliseconds(count * scale);
}

}  // namespace detail
}  // namespace corocache
