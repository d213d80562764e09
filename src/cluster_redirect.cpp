#include "corocache/detail/cluster_redirect.hpp"

#include <charconv>
#include <utility>

namespace corocache::detail {
namespace {

// The first word of `message` and what follows the single space after it.
std::pair<std::string_view, std::string_view> first_word(std::string_view message) {
  const auto space = message.find(' ');
  if (space == std::string_view::npos) return {message, {}};
  return {message.substr(0, space), message.substr(space + 1)};
}

template <class Number>
std::optional<Number> parse_number(std::string_view text) {
  Number value{};
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end) return std::nullopt;
  return value;
}

cluster_redirect parse_target(cluster_redirect::kind what, std::string_view rest) {
  cluster_redirect malformed;
  const auto [slot_text, address] = first_word(rest);
  const auto slot = parse_number<std::uint32_t>(slot_text);
  if (!slot || *slot >= 16384 || address.find(' ') != std::string_view::npos) return malformed;
  auto endpoint = split_host_port(address);
  if (!endpoint) return malformed;
  return {what, static_cast<std::uint16_t>(*slot), std::move(endpoint->first), endpoint->second};
}

cluster_redirect retry_later(cluster_redirect::kind what) {
  cluster_redirect redirect;
  redirect.what = what;
  return redirect;
}

}  // namespace

std::optional<std::pair<std::string, std::uint16_t>> split_host_port(std::string_view address) {
  const auto colon = address.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const auto port = parse_number<std::uint32_t>(address.substr(colon + 1));
  if (!port || *port == 0 || *port > 65535) return std::nullopt;
  return std::pair{std::string(address.substr(0, colon)), static_cast<std::uint16_t>(*port)};
}

std::optional<cluster_redirect> parse_cluster_error(std::string_view message) {
  const auto [word, rest] = first_word(message);
  using kind = cluster_redirect::kind;
  if (word == "MOVED") return parse_target(kind::moved, rest);
  if (word == "ASK") return parse_target(kind::ask, rest);
  if (word == "TRYAGAIN") return retry_later(kind::try_again);
  if (word == "CLUSTERDOWN") return retry_later(kind::cluster_down);
  if (word == "LOADING") return retry_later(kind::loading);
  return std::nullopt;
}

}  // namespace corocache::detail
