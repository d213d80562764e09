#include "support/redis_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace corocache::test {
namespace {

constexpr const char* server_binary = "/usr/bin/redis-server";

std::uint16_t free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("redis_server: socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    throw std::runtime_error("redis_server: cannot find a free port");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

// A blocking connection with send and receive timeouts, so a paused server cannot hang the
// harness; -1 when it cannot connect.
template <class Address>
int connect_with_timeouts(int family, const Address& address) {
  const int fd = ::socket(family, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  timeval timeout{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int connect_loopback(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  return connect_with_timeouts(AF_INET, address);
}

int connect_unix(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  return connect_with_timeouts(AF_UNIX, address);
}

// Over the unix socket when there is one: a TLS-only server has no plain TCP port.
std::string exchange(std::uint16_t port, const std::string& unix_path, const std::string& request) {
  const int fd = unix_path.empty() ? connect_loopback(port) : connect_unix(unix_path);
  if (fd < 0) return {};
  std::string reply;
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
      static_cast<ssize_t>(request.size())) {
    char buffer[512];
    while (reply.find("\r\n") == std::string::npos) {
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      reply.append(buffer, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  const auto end = reply.find("\r\n");
  return end == std::string::npos ? std::string{} : reply.substr(0, end);
}

}  // namespace

redis_server::redis_server(options opts) : options_(std::move(opts)) {
  char pattern[] = "/tmp/corocache-redis-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("redis_server: mkdtemp failed");
  dir_ = pattern;
  if (options_.unix_socket || options_.tls) unix_path_ = dir_ + "/redis.sock";
  write_config();
  // The port is free when chosen but may be taken before the server binds it: retry then.
  for (int tries = 0;; ++tries) {
    port_ = free_loopback_port();
    try {
      start();
      return;
    } catch (const std::exception&) {
      if (tries == 4) {
        std::filesystem::remove_all(dir_);
        throw;
      }
    }
  }
}

void redis_server::write_config() const {
  std::ofstream conf(dir_ + "/redis.conf");
  conf << "bind 127.0.0.1\nsave \"\"\nappendonly no\ndaemonize no\n"
       << "dir " << dir_ << "\nlogfile " << dir_ << "/redis.log\n";
  if (!unix_path_.empty()) conf << "unixsocket " << unix_path_ << "\nunixsocketperm 700\n";
  for (const auto& line : options_.config) conf << line << '\n';
}

void redis_server::set_config(std::vector<std::string> config) {
  options_.config = std::move(config);
  write_config();
}

redis_server::~redis_server() {
  if (pid_ > 0) signal_and_wait(SIGKILL);
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void redis_server::start() {
  const std::string conf = dir_ + "/redis.conf";
  const std::string port = std::to_string(port_);
  std::vector<const char*> argv{server_binary, conf.c_str(), "--port", port.c_str(), nullptr};
  if (options_.tls)
    argv = {server_binary, conf.c_str(), "--port", "0", "--tls-port", port.c_str(), nullptr};
  if (options_.sentinel && options_.tls) {
    argv = {server_binary, conf.c_str(), "--sentinel", "--port",
            "0",           "--tls-port", port.c_str(), nullptr};
  } else if (options_.sentinel) {
    argv = {server_binary, conf.c_str(), "--sentinel", "--port", port.c_str(), nullptr};
  }
  // fork/exec rather than posix_spawn for PR_SET_PDEATHSIG: a crashing test must not leave its
  // server behind (or holding the test's stdout open). Only async-signal-safe calls in the child.
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("redis_server: fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    const int null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
      ::dup2(null_fd, 0);
      ::dup2(null_fd, 1);
      ::dup2(null_fd, 2);
    }
    ::execv(server_binary, const_cast<char**>(argv.data()));
    ::_exit(127);
  }
  pid_ = pid;
  paused_ = false;
  wait_until_ready();
}

void redis_server::wait_until_ready() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("redis_server: redis-server exited at start (port " +
                               std::to_string(port_) + ")");
    }
    // Any reply (+PONG, or -NOAUTH with requirepass) means the server is serving.
    if (!exchange(port_, options_.tls ? unix_path_ : "", "PING\r\n").empty()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  signal_and_wait(SIGKILL);
  throw std::runtime_error("redis_server: redis-server did not answer PING in time");
}

void redis_server::signal_and_wait(int signal) {
  if (pid_ <= 0) return;
  if (paused_ && signal != SIGKILL) ::kill(pid_, SIGCONT);
  ::kill(pid_, signal);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  paused_ = false;
}

void redis_server::kill() {
  signal_and_wait(SIGKILL);
}

void redis_server::stop() {
  signal_and_wait(SIGTERM);
}

void redis_server::restart() {
  stop();
  start();
}

void redis_server::pause() {
  if (pid_ > 0 && !paused_) {
    ::kill(pid_, SIGSTOP);
    paused_ = true;
  }
}

void redis_server::resume() {
  if (pid_ > 0 && paused_) {
    ::kill(pid_, SIGCONT);
    paused_ = false;
  }
}

std::string redis_server::command(const std::string& inline_command) const {
  return exchange(port_, options_.tls ? unix_path_ : "", inline_command + "\r\n");
}

}  // namespace corocache::test
