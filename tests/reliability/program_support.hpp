// What the soak and chaos programs share: "--name value" command-line flags with defaults,
// resident memory from /proc/self/statm, and running one coroutine on an io_context served by
// several threads.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

namespace corocache::test {

/// "--name value" flags; every accepted flag has a default, anything else is an error.
class program_flags {
 public:
  program_flags(int argc, char** argv, std::vector<std::pair<std::string, std::string>> defaults)
      : defaults_(std::move(defaults)) {
    for (const auto& [name, value] : defaults_) values_[name] = value;
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        help_ = true;
        continue;
      }
      if (arg.rfind("--", 0) != 0 || !values_.contains(arg.substr(2)) || i + 1 >= argc)
        throw std::invalid_argument("unknown flag or missing value: " + arg);
      values_[arg.substr(2)] = argv[++i];
    }
  }

  /// True when --help was given; usage() then says what to print.
  [[nodiscard]] bool help() const noexcept { return help_; }

  [[nodiscard]] std::string usage() const {
    std::string out = "flags (default):\n";
    for (const auto& [name, value] : defaults_) out += "  --" + name + " (" + value + ")\n";
    return out;
  }

  [[nodiscard]] const std::string& text(const std::string& name) const { return values_.at(name); }

  [[nodiscard]] std::uint64_t number(const std::string& name) const {
    const auto& value = text(name);
    std::size_t used = 0;
    const auto n = std::stoull(value, &used);
    if (used != value.size()) throw std::invalid_argument("--" + name + " needs a whole number");
    return n;
  }

  [[nodiscard]] double real(const std::string& name) const { return std::stod(text(name)); }

  /// All flags as "--name value ...", for the report's header.
  [[nodiscard]] std::string summary() const {
    std::string out;
    for (const auto& [name, value] : defaults_) out += " --" + name + " " + values_.at(name);
    return out;
  }

 private:
  std::vector<std::pair<std::string, std::string>> defaults_;
  std::map<std::string, std::string> values_;
  bool help_ = false;
};

/// The process's resident set size in bytes (second field of /proc/self/statm).
inline std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages_total = 0;
  std::size_t pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

/// True in builds where the allocator's own behaviour makes resident memory meaningless as a
/// leak signal: AddressSanitizer keeps freed blocks in a quarantine of up to 256 MiB (it finds
/// leaks itself instead).
constexpr bool resident_memory_is_meaningful() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return false;
#else
  return true;
#endif
}

/// Runs `make(executor)` on an io_context served by `threads` threads until it completes;
/// rethrows what it throws.
template <class Make>
void run_on_threads(unsigned threads, Make make) {
  asio::io_context io(static_cast<int>(threads));
  std::exception_ptr error;
  asio::co_spawn(io, make(io.get_executor()), [&](std::exception_ptr e) {
    error = e;
    io.stop();  // a backend's background timers must not keep the program alive
  });
  std::vector<std::thread> helpers;
  for (unsigned i = 1; i < threads; ++i) helpers.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : helpers) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace corocache::test
