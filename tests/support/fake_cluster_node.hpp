// fake_cluster_node: a scripted Redis node on a loopback port, for routing tests that need exact
// control over what a cluster answers (MOVED, ASK, TRYAGAIN, CLUSTERDOWN, malformed errors, a
// connection closed mid-reply). Each command received is recorded and handed to the script,
// whose return value is written back as raw RESP; an empty answer closes the connection, and
// truncated(bytes) writes `bytes` and then closes it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace corocache::test {

class fake_cluster_node {
 public:
  using command = std::vector<std::string>;
  using script = std::function<std::string(const command&)>;

  fake_cluster_node(asio::any_io_executor executor, script answer)
      : state_(std::make_shared<state>(executor, std::move(answer))) {
    auto accept = [s = state_]() { return accept_loop(s); };
    asio::co_spawn(executor, accept, asio::detached);
  }
  ~fake_cluster_node() {
    asio::error_code ignored;
    state_->acceptor.close(ignored);
  }

  [[nodiscard]] std::uint16_t port() const { return state_->acceptor.local_endpoint().port(); }
  /// Every command received so far, on any connection, in order of arrival.
  [[nodiscard]] const std::vector<command>& received() const { return state_->received; }
  /// How many of them start with `name`.
  [[nodiscard]] std::size_t count(const std::string& name) const {
    std::size_t n = 0;
    for (const auto& c : state_->received) n += !c.empty() && c[0] == name;
    return n;
  }

  /// An answer that writes `bytes` (a reply cut short) and closes the connection.
  static std::string truncated(const std::string& bytes) { return std::string(1, '\0') + bytes; }

  static std::string bulk(const std::string& value) {
    return "$" + std::to_string(value.size()) + "\r\n" + value + "\r\n";
  }
  /// A CLUSTER SLOTS reply that gives every slot to the node at `port` on 127.0.0.1.
  static std::string all_slots_to(std::uint16_t port) {
    return "*1\r\n*3\r\n:0\r\n:16383\r\n*3\r\n" + bulk("127.0.0.1") + ":" + std::to_string(port) +
           "\r\n" + bulk("0123456789012345678901234567890123456789");
  }

 private:
  struct state {
    state(asio::any_io_executor executor, script s)
        : acceptor(executor, {asio::ip::make_address("127.0.0.1"), 0}), answer(std::move(s)) {}
    asio::ip::tcp::acceptor acceptor;
    script answer;
    std::vector<command> received;
  };

  // One complete RESP array of bulk strings from the front of `buffer`, consumed; empty when the
  // buffer does not hold a whole one yet.
  static std::optional<command> take_command(std::string& buffer) {
    std::size_t at = 0;
    auto line = [&]() -> std::optional<std::string> {
      const auto end = buffer.find("\r\n", at);
      if (end == std::string::npos) return std::nullopt;
      auto text = buffer.substr(at, end - at);
      at = end + 2;
      return text;
    };
    const auto header = line();
    if (!header || header->empty() || (*header)[0] != '*') return std::nullopt;
    const auto count = std::stoul(header->substr(1));
    command result;
    for (std::size_t i = 0; i < count; ++i) {
      const auto length_line = line();
      if (!length_line) return std::nullopt;
      const auto length = std::stoul(length_line->substr(1));
      if (buffer.size() < at + length + 2) return std::nullopt;
      result.push_back(buffer.substr(at, length));
      at += length + 2;
    }
    buffer.erase(0, at);
    return result;
  }

  static asio::awaitable<void> session(std::shared_ptr<state> s, asio::ip::tcp::socket socket) {
    std::string buffer;
    char chunk[4096];
    try {
      for (;;) {
        const auto n = co_await socket.async_read_some(asio::buffer(chunk), asio::use_awaitable);
        buffer.append(chunk, n);
        while (auto received = take_command(buffer)) {
          s->received.push_back(*received);
          const auto answer = s->answer(*received);
          if (answer.empty()) co_return;  // closes the connection
          const bool close = answer[0] == '\0';
          const auto bytes = close ? answer.substr(1) : answer;
          co_await asio::async_write(socket, asio::buffer(bytes), asio::use_awaitable);
          if (close) co_return;
        }
      }
    } catch (const std::exception&) {
      // The client went away.
    }
  }

  static asio::awaitable<void> accept_loop(std::shared_ptr<state> s) {
    try {
      for (;;) {
        auto socket = co_await s->acceptor.async_accept(asio::use_awaitable);
        auto serve = [s, socket = std::move(socket)]() mutable {
          return session(s, std::move(socket));
        };
        asio::co_spawn(s->acceptor.get_executor(), std::move(serve), asio::detached);
      }
    } catch (const std::exception&) {
      // The acceptor was closed.
    }
  }

  std::shared_ptr<state> state_;
};

}  // namespace corocache::test
