// One Redis command, encoded in RESP as its arguments are added, so that sending it is one copy
// into hiredis's output buffer (redisAsyncFormattedCommand): no argument vector, no per-command
// formatting inside hiredis, and a prefixed key is written in place instead of concatenated first.
// A typical GET or SET fits the inline buffer, so building one allocates nothing.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string_view>

namespace corocache::detail {

class redis_command {
 public:
  redis_command() = default;

  /// `redis_command{"GET", key}`: the arguments, in order (binary safe).
  redis_command(std::initializer_list<std::string_view> arguments) {
    std::size_t bytes = 0;
    for (const auto argument : arguments) bytes += argument.size();
    reserve(arguments.size(), bytes);
    for (const auto argument : arguments) push_back(argument);
  }

  redis_command(const redis_command& other) { assign(other.data(), other.size_, other.count_); }
  redis_command(redis_command&& other) noexcept { take(other); }
  redis_command& operator=(const redis_command& other) {
    if (this != &other) assign(other.data(), other.size_, other.count_);
    return *this;
  }
  redis_command& operator=(redis_command&& other) noexcept {
    if (this != &other) {
      heap_.reset();
      capacity_ = inline_capacity;
      take(other);
    }
    return *this;
  }
  ~redis_command() = default;

  /// Makes room for `count` more arguments of `bytes` bytes in all.
  void reserve(std::size_t count, std::size_t bytes) {
    ensure(std::max(size_, header_space) + bytes + count * argument_overhead);
  }

  /// Adds one argument.
  void push_back(std::string_view argument) { push_back(argument, {}); }

  /// Adds one argument made of two pieces, e.g. a key prefix and a key.
  void push_back(std::string_view first, std::string_view second) {
    const auto length = first.size() + second.size();
    char digits[20];
    const auto digit_count = static_cast<std::size_t>(
        std::to_chars(digits, digits + sizeof digits, length).ptr - digits);
    // "$<length>\r\n<first><second>\r\n"
    if (size_ == 0) size_ = header_space;
    ensure(size_ + 1 + digit_count + 2 + length + 2);
    char* out = data() + size_;
    *out++ = '$';
    out = copy(out, {digits, digit_count});
    out = copy(out, "\r\n");
    out = copy(out, first);
    out = copy(out, second);
    out = copy(out, "\r\n");
    size_ = static_cast<std::size_t>(out - data());
    ++count_;
  }

  /// The number of arguments.
  [[nodiscard]] std::size_t size() const { return count_; }
  [[nodiscard]] bool empty() const { return count_ == 0; }

  /// Argument `index` (0 is the verb); empty when there are fewer arguments. Walks the encoded
  /// arguments, so meant for the first few (a cluster reads the key to route a command).
  [[nodiscard]] std::string_view argument(std::size_t index) const {
    if (index >= count_) return {};
    const char* at = data() + header_space;
    for (std::size_t i = 0;; ++i) {
      // "$<length>\r\n<bytes>\r\n"
      std::size_t length = 0;
      const char* digits_end = std::from_chars(at + 1, data() + size_, length).ptr;
      const char* bytes = digits_end + 2;
      if (i == index) return {bytes, length};
      at = bytes + length + 2;
    }
  }

  /// The whole command in RESP ("*<n>\r\n" then every argument). The header is written into space
  /// kept in front of the arguments, so this copies nothing.
  [[nodiscard]] std::string_view resp() {
    if (size_ == 0) size_ = header_space;
    char header[header_space];
    header[0] = '*';
    auto* end = std::to_chars(header + 1, header + header_space - 2, count_).ptr;
    *end++ = '\r';
    *end++ = '\n';
    const auto header_size = static_cast<std::size_t>(end - header);
    const auto start = header_space - header_size;
    std::memcpy(data() + start, header, header_size);
    return {data() + start, size_ - start};
  }

 private:
  static constexpr std::size_t inline_capacity = 160;
  static constexpr std::size_t header_space = 24;       // '*', up to 20 digits, CRLF
  static constexpr std::size_t argument_overhead = 24;  // '$', up to 20 digits, CRLF, CRLF

  static char* copy(char* out, std::string_view bytes) {
    if (!bytes.empty()) std::memcpy(out, bytes.data(), bytes.size());
    return out + bytes.size();
  }

  [[nodiscard]] char* data() { return heap_ ? heap_.get() : inline_; }
  [[nodiscard]] const char* data() const { return heap_ ? heap_.get() : inline_; }

  void ensure(std::size_t needed) {
    if (needed <= capacity_) return;
    const auto capacity = std::max(needed, 2 * capacity_);
    auto bigger = std::make_unique_for_overwrite<char[]>(capacity);
    if (size_ > 0) std::memcpy(bigger.get(), data(), size_);
    heap_ = std::move(bigger);
    capacity_ = capacity;
  }

  void assign(const char* bytes, std::size_t size, std::size_t count) {
    size_ = 0;
    ensure(size);
    if (size > 0) std::memcpy(data(), bytes, size);
    size_ = size;
    count_ = count;
  }

  void take(redis_command& other) noexcept {
    if (other.heap_) {
      heap_ = std::move(other.heap_);
      capacity_ = other.capacity_;
    } else if (other.size_ > 0) {
      std::memcpy(inline_, other.inline_, other.size_);
    }
    size_ = other.size_;
    count_ = other.count_;
    other.capacity_ = inline_capacity;
    other.size_ = other.count_ = 0;
  }

  char inline_[inline_capacity];
  std::unique_ptr<char[]> heap_;
  std::size_t capacity_ = inline_capacity;
  std::size_t size_ = 0;   // bytes used, header space included
  std::size_t count_ = 0;  // arguments
};

}  // namespace corocache::detail
