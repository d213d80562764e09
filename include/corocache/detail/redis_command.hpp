// One Redis command, encoded in RESP as its arguments are added, so that sending it is one copy
// into hiredis's output buffer (redisAsyncFormattedCommand): no argument vector, no per-command
// formatting inside hiredis, and a prefixed key is written in place instead of concatenated first.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>

namespace corocache::detail {

class redis_command {
 public:
  redis_command() = default;

  /// `redis_command{"GET", key}`: the arguments, in order (binary safe).
  redis_command(std::initializer_list<std::string_view> arguments) {
    std::size_t bytes = header_space;
    for (const auto argument : arguments) bytes += argument.size() + argument_overhead;
    resp_.reserve(bytes);
    for (const auto argument : arguments) push_back(argument);
  }

  /// Makes room for `count` more arguments of `bytes` bytes in all.
  void reserve(std::size_t count, std::size_t bytes) {
    resp_.reserve(std::max(resp_.size(), header_space) + bytes + count * argument_overhead);
  }

  /// Adds one argument.
  void push_back(std::string_view argument) { push_back(argument, {}); }

  /// Adds one argument made of two pieces, e.g. a key prefix and a key.
  void push_back(std::string_view first, std::string_view second) {
    if (resp_.empty()) resp_.assign(header_space, '\0');
    const auto length = first.size() + second.size();
    char digits[20];
    const auto digit_count = static_cast<std::size_t>(
        std::to_chars(digits, digits + sizeof digits, length).ptr - digits);
    // One resize, then plain copies: "$<length>\r\n<first><second>\r\n".
    const auto old_size = resp_.size();
    resp_.resize(old_size + 1 + digit_count + 2 + length + 2);
    char* out = resp_.data() + old_size;
    *out++ = '$';
    out = copy(out, {digits, digit_count});
    out = copy(out, "\r\n");
    out = copy(out, first);
    out = copy(out, second);
    copy(out, "\r\n");
    ++size_;
  }

  /// The number of arguments.
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] bool empty() const { return size_ == 0; }

  /// The whole command in RESP ("*<n>\r\n" then every argument). The header is written into space
  /// kept in front of the arguments, so this copies nothing.
  [[nodiscard]] std::string_view resp() {
    if (resp_.empty()) resp_.assign(header_space, '\0');
    char header[header_space];
    header[0] = '*';
    auto* end = std::to_chars(header + 1, header + header_space - 2, size_).ptr;
    *end++ = '\r';
    *end++ = '\n';
    const auto header_size = static_cast<std::size_t>(end - header);
    const auto start = header_space - header_size;
    std::memcpy(resp_.data() + start, header, header_size);
    return std::string_view(resp_).substr(start);
  }

 private:
  static char* copy(char* out, std::string_view bytes) {
    if (!bytes.empty()) std::memcpy(out, bytes.data(), bytes.size());
    return out + bytes.size();
  }

  static constexpr std::size_t header_space = 24;       // '*', up to 20 digits, CRLF
  static constexpr std::size_t argument_overhead = 24;  // '$', up to 20 digits, CRLF, CRLF
  std::string resp_;
  std::size_t size_ = 0;
};

}  // namespace corocache::detail
