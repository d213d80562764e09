// Fuzzes backend_url::parse and url_parameters on arbitrary bytes: parsing either throws
// cache_error(errc::invalid_argument) or gives a well-formed url, and no message or redacted()
// text ever shows the password. Any other exception escapes and libFuzzer reports it.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "corocache/backend_url.hpp"
#include "corocache/error.hpp"
#include "corocache/redis_options.hpp"
#include "fuzz_check.hpp"

namespace {

using corocache::backend_url;
using corocache::cache_error;
using corocache::errc;
using corocache::fuzz::quoted;

// Shorter secrets turn up in ordinary URL text too often to tell a leak from a coincidence.
constexpr std::size_t min_secret_size = 4;

// What a user most likely meant as the password in `text`: the bytes between the first ':' after
// "://" and the last '@' after it. That is wider than the parser's RFC reading on purpose: a
// password with an unescaped '/', '?' or '#' makes the URL malformed, and the error must not
// echo it. Empty when there is no such span.
std::string_view raw_secret(std::string_view text) {
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return {};
  const auto colon = text.find(':', scheme_end + 3);
  const auto at = text.rfind('@');
  if (colon == std::string_view::npos || at == std::string_view::npos || at < colon) return {};
  return text.substr(colon + 1, at - colon - 1);
}

template <class Call>
void append_message(std::string& out, Call call) {
  try {
    call();
  } catch (const cache_error& e) {
    out += e.what();
    out += '\n';
  }
}

// The fixed wording of the messages, gathered once from canned errors of every kind. A secret that
// is also a piece of this text ("backend URL", "expected") proves no leak when found; libFuzzer
// learns such words from the comparisons below and puts them in passwords.
const std::string& message_vocabulary() {
  static const std::string vocabulary = [] {
    std::string out;
    for (const char* bad : {"localhost", "1x://h", "a://h#f", "a://[", "a://[::1]x",
                            "a://h:", "a://h:x", "a://h/%", "a://h/%zz", "a://h?=1", "a://h?a&a"}) {
      append_message(out, [&] { (void)backend_url::parse(bad); });
    }
    const auto url = backend_url::parse("a://h?n=x&d=x&u=1");
    corocache::url_parameters parameters(url);
    append_message(out, [&] { (void)parameters.take_unsigned("n"); });
    append_message(out, [&] { (void)parameters.take_duration("d"); });
    append_message(out, [&] { parameters.reject_unknown(); });
    return out;
  }();
  return vocabulary;
}

// A secret found in a message proves a leak unless it is also fixed message wording. The "***"
// mask splits the message: a secret found only across it is the mask next to real text.
bool shows(std::string_view message, std::string_view piece) {
  if (message_vocabulary().find(piece) != std::string::npos) return false;
  constexpr std::string_view mask = "***";
  for (auto rest = message;;) {
    const auto end = rest.find(mask);
    if (rest.substr(0, end).find(piece) != std::string_view::npos) return true;
    if (end == std::string_view::npos) return false;
    rest.remove_prefix(end + mask.size());
  }
}

// True when `piece` occurs in `text` other than wholly inside `secret` (a view into `text`): then
// finding it in a message proves nothing.
bool occurs_outside(std::string_view text, std::string_view secret, std::string_view piece) {
  const auto secret_begin = static_cast<std::size_t>(secret.data() - text.data());
  for (auto at = text.find(piece); at != std::string_view::npos; at = text.find(piece, at + 1)) {
    if (at < secret_begin || at + piece.size() > secret_begin + secret.size()) return true;
  }
  return false;
}

// True when `piece`, found in a message, can come from the message's own wording or from text
// outside the secret: whole, or as two such parts back to back (echoed text, then wording).
bool explained(std::string_view text, std::string_view secret, std::string_view piece) {
  const auto harmless = [&](std::string_view part) {
    return occurs_outside(text, secret, part) ||
           message_vocabulary().find(part) != std::string::npos;
  };
  if (harmless(piece)) return true;
  for (std::size_t k = 1; k < piece.size(); ++k) {
    if (harmless(piece.substr(0, k)) && harmless(piece.substr(k))) return true;
  }
  return false;
}

std::string swap_letter_case(std::string_view text, std::string_view span) {
  std::string out(text);
  const auto begin = static_cast<std::size_t>(span.data() - text.data());
  for (auto i = begin; i < begin + span.size(); ++i) {
    const auto c = static_cast<unsigned char>(out[i]);
    if (std::isalpha(c))
      out[i] = static_cast<char>(std::islower(c) ? std::toupper(c) : std::tolower(c));
  }
  return out;
}

void check_failure_message(std::string_view text, std::string_view message) {
  const auto secret = raw_secret(text);
  // The direct check: the secret itself is not in the message.
  COROCACHE_FUZZ_CHECK(
      secret.size() < min_secret_size || !shows(message, secret) || explained(text, secret, secret),
      "message " + quoted(message) + " shows the password " + quoted(secret) + " of " +
          quoted(text));
  // The echo check, which also catches a message showing part of the secret (such as the "port"
  // of "redis://user:secret/word@host"): the parser treats letters of either case alike, so with
  // the secret's letters case-swapped the URL must fail with the very same message. Without '&'
  // there are no duplicate query names, the one thing the swap could change.
  if (secret.empty() || text.find('&') != std::string_view::npos) return;
  const auto swapped = swap_letter_case(text, secret);
  try {
    (void)backend_url::parse(swapped);
  } catch (const cache_error& e) {
    COROCACHE_FUZZ_CHECK(message == e.what(), "message " + quoted(message) + " for " +
                                                  quoted(text) + " shows part of its password: " +
                                                  quoted(e.what()) + " for " + quoted(swapped));
    return;
  }
  corocache::fuzz::fail(quoted(swapped) + " parses but " + quoted(text) + " does not");
}

// Runs one url_parameters call on two sets of parameters whose URLs differ only in the password.
// The call may only fail with errc::invalid_argument, and identically for both: a message that
// differs shows something of the password.
template <class Call>
void check_same_outcome(Call call, corocache::url_parameters& parameters,
                        corocache::url_parameters& twin, std::string_view text) {
  const auto outcome = [&](corocache::url_parameters& p) -> std::string {
    try {
      call(p);
      return "(no error)";
    } catch (const cache_error& e) {
      COROCACHE_FUZZ_CHECK(
          e.error() == errc::invalid_argument,
          "url_parameters threw " + std::string(e.what()) + " for " + quoted(text));
      return e.what();
    }
  };
  const auto message = outcome(parameters);
  const auto twin_message = outcome(twin);
  COROCACHE_FUZZ_CHECK(message == twin_message,
                       "url_parameters message depends on the password: " + quoted(message) +
                           " vs " + quoted(twin_message));
}

// RedisCacheBackend's reading of the same URL: it may only fail with invalid_argument or
// unsupported (rediss), and neither its message nor the redacted URL it keeps depends on the
// password.
void check_redis_settings(std::string_view text, const backend_url& url, const backend_url& other) {
  const auto outcome = [&](const backend_url& u) -> std::string {
    try {
      return corocache::detail::resolve_redis_url(u, corocache::redis_options{}).redacted_url;
    } catch (const cache_error& e) {
      COROCACHE_FUZZ_CHECK(
          e.error() == errc::invalid_argument || e.error() == errc::unsupported,
          "resolve_redis_url threw " + std::string(e.what()) + " for " + quoted(text));
      return e.what();
    }
  };
  const auto first = outcome(url);
  const auto second = outcome(other);
  COROCACHE_FUZZ_CHECK(first == second, "Redis URL outcome depends on the password: " +
                                            quoted(first) + " vs " + quoted(second));
}

void check_parsed(std::string_view text, const backend_url& url) {
  COROCACHE_FUZZ_CHECK(
      !url.scheme.empty() && std::none_of(url.scheme.begin(), url.scheme.end(),
                                          [](unsigned char c) { return std::isupper(c); }),
      "scheme " + quoted(url.scheme) + " of " + quoted(text));
  COROCACHE_FUZZ_CHECK(url.path.empty() || url.path.front() == '/',
                       "path " + quoted(url.path) + " of " + quoted(text));
  for (std::size_t i = 0; i < url.query.size(); ++i) {
    COROCACHE_FUZZ_CHECK(!url.query[i].first.empty(), "empty parameter name in " + quoted(text));
    for (std::size_t j = 0; j < i; ++j)
      COROCACHE_FUZZ_CHECK(url.query[i].first != url.query[j].first,
                           "duplicate parameter " + quoted(url.query[i].first));
  }

  // redacted() must not depend on the password at all: that rules out every leak, including
  // passwords too short to search for.
  const auto redacted = url.redacted();
  auto other = url;
  if (other.password) other.password = *other.password + "\x01-different";
  COROCACHE_FUZZ_CHECK(other.redacted() == redacted,
                       "redacted() depends on the password: " + quoted(redacted) + " vs " +
                           quoted(other.redacted()));
  // The direct form of the property; implied by the one above unless the password also turns
  // up in another part of the URL.
  COROCACHE_FUZZ_CHECK(!url.password || url.password->size() < min_secret_size ||
                           redacted.find(*url.password) == std::string::npos ||
                           other.redacted().find(*url.password) != std::string::npos,
                       "redacted() " + quoted(redacted) + " shows the password");

  corocache::url_parameters parameters(url);
  corocache::url_parameters twin(other);
  for (const auto& parameter : url.query) {
    const std::string& name = parameter.first;  // clang 14 cannot capture a structured binding
    // Each call marks the name as taken and parses the value.
    check_same_outcome([&](auto& p) { (void)p.take_unsigned(name); }, parameters, twin, text);
    check_same_outcome([&](auto& p) { (void)p.take_duration(name); }, parameters, twin, text);
  }
  check_same_outcome([](auto& p) { p.reject_unknown(); }, parameters, twin, text);
  corocache::url_parameters untaken(url);
  corocache::url_parameters untaken_twin(other);
  check_same_outcome([](auto& p) { p.reject_unknown(); }, untaken, untaken_twin, text);
  check_redis_settings(text, url, other);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = corocache::fuzz::as_text(data, size);
  std::optional<backend_url> url;
  try {
    url = backend_url::parse(text);
  } catch (const cache_error& e) {
    COROCACHE_FUZZ_CHECK(e.error() == errc::invalid_argument,
                         "parse threw " + std::string(e.what()) + " for " + quoted(text));
    check_failure_message(text, e.what());
    return 0;
  }
  check_parsed(text, *url);
  return 0;
}
