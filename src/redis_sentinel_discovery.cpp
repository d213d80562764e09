// redis_sentinel_discovery: the master's address from the sentinels (see the header).
#include "corocache/detail/redis_sentinel_discovery.hpp"

#include <charconv>
#include <utility>

namespace corocache::detail {
namespace {

std::string host_port(const std::string& host, std::uint16_t port) {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]:" : host + ":") + std::to_string(port);
}

std::vector<redis_command> auth_of(const std::string& user,
                                   const std::optional<std::string>& password) {
  if (!password) return {};
  if (user.empty()) return {redis_command{"AUTH", *password}};
  return {redis_command{"AUTH", user, *password}};
}

// The first argument of a command (e.g. "AUTH"), read back from its RESP encoding.
std::string command_name(redis_command command) {  // a copy: resp() completes the encoding
  const auto resp = command.resp();
  const auto header_end = resp.find("\r\n");                  // "*N"
  const auto length_end = resp.find("\r\n", header_end + 2);  // "$len"
  if (header_end == std::string_view::npos || length_end == std::string_view::npos)
    return "a command";
  const auto length = resp.substr(header_end + 3, length_end - header_end - 3);
  std::size_t n = 0;
  std::from_chars(length.data(), length.data() + length.size(), n);
  return std::string(resp.substr(length_end + 2, n));
}

// A server's error reply, for a message: it never holds the password that was sent.
std::string server_said(const redis_reply& reply) {
  return reply.str.empty() ? "an empty error reply" : reply.str;
}

}  // namespace

redis_sentinel_discovery::redis_sentinel_discovery(redis_sentinel_settings settings,
                                                   std::vector<redis_command> master_handshake)
    : settings_(std::move(settings)),
      sentinel_auth_(auth_of(settings_.user, settings_.password)),
      master_handshake_(std::move(master_handshake)) {}

std::string redis_sentinel_discovery::sentinel_name(std::size_t i) const {
  const auto& s = settings_.sentinels[i];
  return "sentinel " + host_port(s.host, s.port);
}

std::string redis_sentinel_discovery::master_name() const {
  return "\"" + settings_.master_name + "\"";
}

std::string redis_sentinel_discovery::description() const {
  std::string hosts;
  for (const auto& s : settings_.sentinels) {
    hosts += (hosts.empty() ? "" : ",") + host_port(s.host, s.port);
  }
  return "sentinel master " + master_name() + " via " + hosts;
}

sentinel_step redis_sentinel_discovery::begin() {
  tried_ = 0;
  unknown_master_ = 0;
  failures_.clear();
  current_ = preferred_ < settings_.sentinels.size() ? preferred_ : 0;
  round_start_ = current_;
  if (settings_.sentinels.empty()) {
    phase_ = phase::idle;
    return {sentinel_step::kind::failed, {}, 0, {}, "no sentinel to ask"};
  }
  return ask_current();
}

sentinel_step redis_sentinel_discovery::ask_current() {
  phase_ = phase::sentinel;
  ++tried_;
  const auto& s = settings_.sentinels[current_];
  return {sentinel_step::kind::connect, s.host, s.port, {}, {}};
}

sentinel_step redis_sentinel_discovery::on_connected() {
  sentinel_step step{sentinel_step::kind::send, {}, 0, {}, {}};
  if (phase_ == phase::sentinel) {
    step.commands = sentinel_auth_;
    step.commands.push_back(
        redis_command{"SENTINEL", "get-master-addr-by-name", settings_.master_name});
    preamble_left_ = sentinel_auth_.size();
  } else if (phase_ == phase::master) {
    step.commands = master_handshake_;
    step.commands.push_back(redis_command{"ROLE"});
    preamble_left_ = master_handshake_.size();
  } else {
    return {sentinel_step::kind::failed, {}, 0, {}, "sentinel discovery: no round in progress"};
  }
  replies_left_ = step.commands.size();
  return step;
}

sentinel_step redis_sentinel_discovery::on_reply(const redis_reply& reply) {
  if (phase_ == phase::idle || replies_left_ == 0)
    return {sentinel_step::kind::failed, {}, 0, {}, "sentinel discovery: unexpected reply"};
  --replies_left_;
  const bool to_sentinel = phase_ == phase::sentinel;
  if (preamble_left_ > 0) {
    const auto index = to_sentinel ? sentinel_auth_.size() - preamble_left_
                                   : master_handshake_.size() - preamble_left_;
    --preamble_left_;
    if (reply.type != redis_reply::kind::error) return {sentinel_step::kind::wait, {}, 0, {}, {}};
    if (to_sentinel) return next_sentinel("AUTH rejected: " + server_said(reply));
    return next_sentinel(command_name(master_handshake_[index]) + " rejected by the master " +
                         host_port(master_host_, master_port_) + ": " + server_said(reply));
  }
  return to_sentinel ? on_sentinel_answer(reply) : on_role(reply);
}

sentinel_step redis_sentinel_discovery::on_sentinel_answer(const redis_reply& reply) {
  using kind = redis_reply::kind;
  if (reply.type == kind::nil) {
    ++unknown_master_;
    return next_sentinel("knows no master named " + master_name());
  }
  if (reply.type == kind::error) return next_sentinel(server_said(reply));
  unsigned port = 0;
  bool valid = reply.type == kind::array && reply.elements.size() == 2 &&
               reply.elements[0].type == kind::string && !reply.elements[0].str.empty() &&
               reply.elements[1].type == kind::string;
  if (valid) {
    const auto& text = reply.elements[1].str;
    const auto* end = text.data() + text.size();
    const auto result = std::from_chars(text.data(), end, port);
    valid = result.ec == std::errc{} && result.ptr == end && port > 0 && port <= 65535;
  }
  if (!valid) return next_sentinel("unexpected reply to SENTINEL get-master-addr-by-name");
  phase_ = phase::master;
  master_host_ = reply.elements[0].str;
  master_port_ = static_cast<std::uint16_t>(port);
  return {sentinel_step::kind::connect, master_host_, master_port_, {}, {}};
}

sentinel_step redis_sentinel_discovery::on_role(const redis_reply& reply) {
  using kind = redis_reply::kind;
  const auto where = host_port(master_host_, master_port_);
  if (reply.type == kind::error)
    return next_sentinel("ROLE on " + where + ": " + server_said(reply));
  const bool has_role =
      reply.type == kind::array && !reply.elements.empty() &&
      (reply.elements[0].type == kind::string || reply.elements[0].type == kind::status);
  if (!has_role) return next_sentinel("unexpected ROLE reply from " + where);
  const auto& role = reply.elements[0].str;
  if (role != "master") {
    // A demoted master, or a failover the sentinel has not seen through yet: never write to it.
    return next_sentinel("gave " + where + ", which is a " + (role == "slave" ? "replica" : role) +
                         ", not the master");
  }
  phase_ = phase::idle;
  preferred_ = current_;
  return {sentinel_step::kind::done, master_host_, master_port_, {}, {}};
}

sentinel_step redis_sentinel_discovery::on_failed(const std::string& why) {
  if (phase_ == phase::master)
    return next_sentinel("gave " + host_port(master_host_, master_port_) + ": " + why);
  if (phase_ == phase::sentinel) return next_sentinel(why);
  return {sentinel_step::kind::failed, {}, 0, {}, "sentinel discovery: no round in progress"};
}

sentinel_step redis_sentinel_discovery::next_sentinel(std::string why) {
  failures_ += (failures_.empty() ? "" : "; ") + sentinel_name(current_) + ": " + why;
  replies_left_ = 0;
  preamble_left_ = 0;
  if (tried_ < settings_.sentinels.size()) {
    current_ = (current_ + 1) % settings_.sentinels.size();
    return ask_current();
  }
  // The next round starts one further, so that a sentinel that hangs is not always asked first.
  phase_ = phase::idle;
  preferred_ = (round_start_ + 1) % settings_.sentinels.size();
  std::string error;
  if (unknown_master_ == settings_.sentinels.size()) {
    error = "no sentinel knows a master named " + master_name() + " (" + failures_ + ")";
  } else {
    error = "no sentinel gave a reachable master " + master_name() + ": " + failures_;
  }
  return {sentinel_step::kind::failed, {}, 0, {}, std::move(error)};
}

}  // namespace corocache::detail
