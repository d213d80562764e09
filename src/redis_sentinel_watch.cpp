// redis_sentinel_watch: failover announcements and when to act on them (see the header).
#include "corocache/detail/redis_sentinel_watch.hpp"

#include <charconv>
#include <string_view>
#include <utility>
#include <vector>

namespace corocache::detail {
namespace {

bool is_text(const redis_reply& r) {
  return r.type == redis_reply::kind::string || r.type == redis_reply::kind::status;
}

std::optional<std::uint16_t> port_of(std::string_view text) {
  unsigned port = 0;
  const auto* end = text.data() + text.size();
  const auto result = std::from_chars(text.data(), end, port);
  if (result.ec != std::errc{} || result.ptr != end || port == 0 || port > 65535)
    return std::nullopt;
  return static_cast<std::uint16_t>(port);
}

std::vector<std::string_view> words_of(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t at = 0;
  while (at < text.size()) {
    const auto end = std::min(text.find(' ', at), text.size());
    if (end > at) words.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return words;
}

}  // namespace

std::optional<sentinel_switch> parse_switch_master(const redis_reply& message) {
  if (message.type != redis_reply::kind::array || message.elements.size() != 3) return std::nullopt;
  const auto& e = message.elements;
  if (!is_text(e[0]) || !is_text(e[1]) || !is_text(e[2])) return std::nullopt;
  if (e[0].str != "message" || e[1].str != "+switch-master") return std::nullopt;
  const auto words = words_of(e[2].str);
  if (words.size() != 5) return std::nullopt;
  const auto old_port = port_of(words[2]);
  const auto new_port = port_of(words[4]);
  if (!old_port || !new_port) return std::nullopt;
  return sentinel_switch{std::string(words[0]), std::string(words[1]), *old_port,
                         std::string(words[3]), *new_port};
}

bool is_readonly_error(const redis_reply& reply) {
  return reply.type == redis_reply::kind::error && reply.str.rfind("READONLY", 0) == 0;
}

sentinel_subscription_schedule::attempt sentinel_subscription_schedule::first() {
  current_ = 0;
  return {0, std::chrono::milliseconds(0)};
}

sentinel_subscription_schedule::attempt sentinel_subscription_schedule::after_failure() {
  if (count_ > 0) current_ = (current_ + 1) % count_;
  return {current_, backoff_.next()};
}

void sentinel_master_watch::on_master(std::string host, std::uint16_t port) {
  host_ = std::move(host);
  port_ = port;
}

bool sentinel_master_watch::on_switch(const sentinel_switch& announcement) const {
  if (port_ == 0 || announcement.master_name != master_name_) return false;
  return announcement.new_host != host_ || announcement.new_port != port_;
}

bool sentinel_master_watch::on_readonly(std::chrono::steady_clock::time_point now) {
  if (last_readonly_drop_ && now - *last_readonly_drop_ < readonly_period_) return false;
  last_readonly_drop_ = now;
  return true;
}

}  // namespace corocache::detail
