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

// The raw text with any "user:password@" password replaced, for messages about malformed URLs.
// A malformed URL is often one whose password holds an unescaped '/', '?', '#' or '@', so redact
// from the first ':' after "://" up to the last '@' anywhere, not just inside the authority.
std::string redact_raw(std::string_view text) {
  const auto start = text.find(scheme_separator);
  if (start == std::string_view::npos) return std::string(text);
  const auto colon = text.find(':', start + scheme_separator.size());
  const auto at = text.rfind('@');
  if (colon == std::string_view::npos || at == std::string_view::npos || at < colon)
    return std::string(text);
  return fmt::format("{}***{}", text.substr(0, colon + 1), text.substr(at));
}

[[noreturn]] void fail(std::string_view text, std::string_view why) {
  detail::throw_error(errc::invalid_argument,
                      fmt::format("invalid backend URL \"{}\": {}", redact_raw(text), why));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view url, std::string_view part) {
  std::string out;
  out.reserve(part.size());
  for (std::size_t i = 0; i < part.size(); ++i) {
    if (part[i] != '%') {
      out += part[i];
      continue;
    }
    if (i + 2 >= part.size()) fail(url, "truncated percent escape");
    const int high = hex_value(part[i + 1]);
    const int low = hex_value(part[i + 2]);
    if (high < 0 || low < 0) fail(url, "bad percent escape");
    out += static_cast<char>(high * 16 + low);
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

void parse_authority(std::string_view text, std::string_view authority, backend_url& url) {
  const auto at = authority.rfind('@');
  if (at != std::string_view::npos) {
    const auto userinfo = authority.substr(0, at);
    const auto colon = userinfo.find(':');
    url.user = percent_decode(text, userinfo.substr(0, colon));
    if (colon != std::string_view::npos)
      url.password = percent_decode(text, userinfo.substr(colon + 1));
    authority.remove_prefix(at + 1);
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) fail(text, "unterminated '[' in host");
    url.host = std::string(authority.substr(1, close - 1));
    const auto rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') fail(text, "unexpected text after ']'");
    if (!rest.empty()) port_text = rest.substr(1);
    if (rest.size() == 1) fail(text, "empty port");
  } else {
    const auto colon = authority.find(':');
    url.host = percent_decode(text, authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) fail(text, "empty port");
    }
  }
  if (!port_text.empty()) {
    unsigned value = 0;
    const auto* end = port_text.data() + port_text.size();
    const auto result = std::from_chars(port_text.data(), end, value);
    if (result.ec != std::errc{} || result.ptr != end || value == 0 || value > 65535)
      fail(text, "port must be a number from 1 to 65535");  // not echoed: may be a password
    url.port = static_cast<std::uint16_t>(value);
  }
}

void parse_query(std::string_view text, std::string_view query, backend_url& url) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto name = percent_decode(text, pair.substr(0, eq));
    auto value =
        eq == std::string_view::npos ? std::string{} : percent_decode(text, pair.substr(eq + 1));
    if (name.empty()) fail(text, "query parameter without a name");
    const bool duplicate = std::any_of(url.query.begin(), url.query.end(),
                                       [&](const auto& p) { return p.first == name; });
    if (duplicate) fail(text, fmt::format("query parameter \"{}\" given twice", name));
    url.query.emplace_back(std::move(name), std::move(value));
  }
}

}  // namespace

backend_url backend_url::parse(std::string_view text) {
  backend_url url;
  const auto separator = text.find(scheme_separator);
  if (separator == std::string_view::npos)
    fail(text, "expected scheme://... (for example memory://, null:// or redis://host:6379/0)");
  const auto scheme = text.substr(0, separator);
  if (!valid_scheme(scheme)) fail(text, "the scheme must start with a letter");
  url.scheme.resize(scheme.size());
  std::transform(scheme.begin(), scheme.end(), url.scheme.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });

  auto rest = text.substr(separator + scheme_separator.size());
  if (rest.find('#') != std::string_view::npos) fail(text, "fragments ('#') are not allowed");
  const auto query_start = rest.find('?');
  const auto before_query = rest.substr(0, query_start);
  const auto path_start = before_query.find('/');
  parse_authority(text, before_query.substr(0, path_start), url);
  if (path_start != std::string_view::npos)
    url.path = percent_decode(text, before_query.substr(path_start));
  if (query_start != std::string_view::npos) parse_query(text, rest.substr(query_start + 1), url);
  return url;
}

std::string backend_url::redacted() const {
  std::string out = scheme + "://";
  if (!user.empty() || password) {
    out += user;
    if (password) out += ":***";
    out += '@';
  }
  out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port) out += fmt::format(":{}", *port);
  out += path;
  for (std::size_t i = 0; i < query.size(); ++i)
    out += fmt::format("{}{}={}", i == 0 ? '?' : '&', query[i].first, query[i].second);
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

std::optional<std::uint64_t> url_parameters::take_unsigned(std::string_view name) {
  auto text = take(name);
  if (!text) return std::nullopt;
  std::uint64_t value = 0;
  const auto* end = text->data() + text->size();
  const auto result = std::from_chars(text->data(), end, value);
  if (text->empty() || result.ec != std::errc{} || result.ptr != end) {
    detail::throw_error(
        errc::invalid_argument,
        fmt::format("URL parameter {}: expected a non-negative integer, got \"{}\" ({})", name,
                    *text, url_.redacted()));
  }
  return value;
}

std::optional<std::chrono::milliseconds> url_parameters::take_duration(std::string_view name) {
  auto text = take(name);
  if (!text) return std::nullopt;
  auto value = detail::parse_duration(*text);
  if (!value) {
    detail::throw_error(
        errc::invalid_argument,
        fmt::format(
            "URL parameter {}: expected a duration such as 250ms, 30s, 5m or 1h, got \"{}\" ({})",
            name, *text, url_.redacted()));
  }
  return value;
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

void expect_no_location(const backend_url& url) {
  if (url.host.empty() && !url.port && url.path.empty() && url.user.empty() && !url.password)
    return;
  throw_error(
      errc::invalid_argument,
      fmt::format("{}:// takes no host, port, path or credentials, only query parameters ({})",
                  url.scheme, url.redacted()));
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
