// Fuzzes backend_url::parse and url_parameters on arbitrary bytes: parsing either throws
// cache_error(errc::invalid_argument) or gives a well-formed url, and no message or redacted()
// text ever shows the password. Any other exception escapes and libFuzzer reports it.
//
// A second property plants a marker password into the input where a password may stand (user-info,
// path, query value, or anything followed by '@'), plain or percent-encoded: no reader's message
// may then contain the marker in any form.
#include <algorithm>
#include <array>
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
    for (const char* bad :
         {"localhost", "1x://h", "a://h#f", "a://[", "a://[::1]x", "a://h:", "a://h:x", "a://h/%",
          "a://h/%zz", "a://h?=1", "a://h?a&a", "a://h/@", "a://a@b:c@h", "a://%@h", "a://%"}) {
      append_message(out, [&] { (void)backend_url::parse(bad); });
    }
    const auto url = backend_url::parse("a://h?n=x&d=x&b=x&u=1");
    corocache::url_parameters parameters(url);
    append_message(out, [&] { (void)parameters.take_unsigned("n"); });
    append_message(out, [&] { (void)parameters.take_duration("d"); });
    append_message(out, [&] { (void)parameters.take_bool("b"); });
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
  // Messages name the scheme in lower case ("invalid redis:// URL"), whatever case the text has.
  std::string scheme(text.substr(0, text.find("://") + 3));
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto harmless = [&](std::string_view part) {
    return occurs_outside(text, secret, part) || scheme.find(part) != std::string::npos ||
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

// RedisCacheBackend's reading of the same URL: it may only fail with invalid_argument, and
// neither its message nor the redacted URL it keeps depends on the
// password.
void check_redis_settings(std::string_view text, const backend_url& url, const backend_url& other) {
  const auto outcome = [&](const backend_url& u) -> std::string {
    try {
      return corocache::detail::resolve_redis_url(u, corocache::redis_options{}).redacted_url;
    } catch (const cache_error& e) {
      COROCACHE_FUZZ_CHECK(
          e.error() == errc::invalid_argument,
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
  // An empty password stays empty: Redis rejects it, whatever another password would give.
  if (other.password && !other.password->empty())
    other.password = *other.password + "\x01-different";
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
    check_same_outcome([&](auto& p) { (void)p.take_bool(name); }, parameters, twin, text);
  }
  check_same_outcome([](auto& p) { p.reject_unknown(); }, parameters, twin, text);
  corocache::url_parameters untaken(url);
  corocache::url_parameters untaken_twin(other);
  check_same_outcome([](auto& p) { p.reject_unknown(); }, untaken, untaken_twin, text);
  check_redis_settings(text, url, other);
}

// The planted password. Its characters need no escaping anywhere in a URL, none of them ends a
// part, and no message wording holds it.
constexpr std::string_view marker = "Qz7!xK~v";

std::string percent_encoded(std::string_view text, bool upper) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    out += '%';
    out += digits[byte >> 4];
    out += digits[byte & 0xf];
  }
  return out;
}

// The text with every valid %XX escape decoded, the rest left as it is.
std::string lenient_decode(std::string_view text) {
  const auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// The marker, and the marker with every byte percent-encoded in upper and in lower case.
const std::array<std::string, 3>& marker_forms() {
  static const std::array<std::string, 3> forms = {
      std::string(marker), percent_encoded(marker, true), percent_encoded(marker, false)};
  return forms;
}

bool holds_marker(std::string_view text) {
  return std::any_of(marker_forms().begin(), marker_forms().end(),
                     [&](const std::string& form) { return text.find(form) != text.npos; });
}

// Where the marker goes, by construction a place whose text no message may show.
enum class position {
  before_at,    // "...<marker>@...": user-info, or after the host and so an ambiguous URL
  query_value,  // "...?name=<marker>..." or "...&name=<marker>...": always inside a value
  path,         // "...host/<marker>..." before any '?' or '#': always inside the path
};

// Known and unknown parameter names, so that the marker reaches every value check.
constexpr std::string_view planted_names[] = {"prefix",
                                              "db",
                                              "connect_timeout",
                                              "command_timeout",
                                              "reconnect_min",
                                              "reconnect_max",
                                              "health_check_interval",
                                              "allow_start_offline",
                                              "max_size",
                                              "clean_interval",
                                              "shards",
                                              "eviction",
                                              "password",
                                              "x"};

struct planted_url {
  std::string text;
  position where;
};

// Byte 0 picks the position and the marker's encoding, byte 1 where in the rest it goes (and the
// parameter name); the rest of the input is the URL around it ("redis://" added when it has no
// scheme separator). Nothing when the input is too short or already holds the marker.
std::optional<planted_url> plant_marker(std::string_view input) {
  if (input.size() < 2) return std::nullopt;
  const auto control = static_cast<unsigned char>(input[0]);
  const auto offset = static_cast<unsigned char>(input[1]);
  std::string base(input.substr(2));
  // Input that holds the marker already (the fuzzer learns it from the checks) could show it
  // legitimately, as a host or a parameter name.
  if (holds_marker(base) || holds_marker(lenient_decode(base))) return std::nullopt;
  if (base.find("://") == std::string::npos) base.insert(0, "redis://");
  const auto rest_begin = base.find("://") + 3;

  const auto where = static_cast<position>(control % 3);
  std::string planted(marker);
  if (control / 3 % 3 == 1) planted = percent_encoded(marker, true);
  if (control / 3 % 3 == 2) planted = percent_encoded(marker, false);

  // The region the marker may go into, so that the construction fixes its part of the URL.
  auto region_end = base.size();
  if (where == position::path)
    region_end = std::min(base.find_first_of("?#", rest_begin), base.size());
  const auto at = rest_begin + offset % (region_end - rest_begin + 1);
  const auto head = std::string_view(base).substr(0, at);
  const auto tail = std::string_view(base).substr(at);
  std::string text(head);
  switch (where) {
    case position::before_at:
      text += planted + "@";
      break;
    case position::query_value:
      // The first '?' after "://" starts the query: inside it, '&' starts a new pair.
      text += head.find('?', rest_begin) == std::string_view::npos ? '?' : '&';
      text += planted_names[offset % std::size(planted_names)];
      text += "=" + planted;
      break;
    case position::path:
      text += "/" + planted;
      break;
  }
  text += tail;
  return planted_url{std::move(text), where};
}

// Aborts when `message` shows the marker, plain or percent-encoded either way.
void check_no_marker(std::string_view message, const planted_url& url, std::string_view reader) {
  COROCACHE_FUZZ_CHECK(!holds_marker(message),
                       std::string(reader) + " shows the marker password: " + quoted(message) +
                           " for " + quoted(url.text));
}

// Every reader of the planted URL: the parser, the url_parameters calls the factories make, the
// memory/null location check and the Redis settings.
void check_planted(const planted_url& planted) {
  const auto message_of = [&](std::string_view reader, auto call) {
    try {
      call();
    } catch (const cache_error& e) {
      check_no_marker(e.what(), planted, reader);
    }
  };
  std::optional<backend_url> url;
  message_of("parse", [&] { url = backend_url::parse(planted.text); });
  if (!url) return;
  check_no_marker(url->redacted(), planted, "redacted()");
  message_of("expect_no_location", [&] { corocache::detail::expect_no_location(*url); });
  corocache::url_parameters parameters(*url);
  for (const auto& parameter : url->query) {
    const std::string& name = parameter.first;
    message_of("take_unsigned", [&] { (void)parameters.take_unsigned(name); });
    message_of("take_duration", [&] { (void)parameters.take_duration(name); });
    message_of("take_bool", [&] { (void)parameters.take_bool(name); });
  }
  message_of("reject_unknown", [&] { parameters.reject_unknown(); });
  message_of("reject_unknown", [&] { corocache::url_parameters(*url).reject_unknown(); });
  message_of("resolve_redis_url", [&] {
    const auto settings = corocache::detail::resolve_redis_url(*url, corocache::redis_options{});
    // A unix socket path is the endpoint itself, shown on purpose.
    if (planted.where != position::path || settings.address.unix_path.empty())
      check_no_marker(settings.redacted_url, planted, "redacted_url");
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = corocache::fuzz::as_text(data, size);
  if (const auto planted = plant_marker(text)) check_planted(*planted);
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
