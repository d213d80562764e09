// redis_server: a private redis-server process for one test, on a free loopback port.
//
// Tests never depend on a server started by hand: each creates its own, optionally with a unix
// socket and extra configuration lines (requirepass, ACL users), and can kill, stop, restart,
// pause (SIGSTOP) and resume (SIGCONT) it. The destructor always stops the server.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace corocache::test {

class redis_server {
 public:
  struct options {
    bool unix_socket = false;  // also listen on <temp dir>/redis.sock
    // Serve TLS only on port() ("--port 0 --tls-port"; the tls-* lines go in config, see
    // redis_tls.hpp); implies unix_socket, over which readiness checks and command() run.
    bool tls = false;
    std::vector<std::string> config;  // extra redis.conf lines, e.g. "requirepass secret"
    bool sentinel = false;            // run as a Sentinel (redis-server --sentinel); with tls,
                                      // a Sentinel serving TLS only
  };

  /// Starts the server and waits until it answers PING; throws std::runtime_error on failure.
  redis_server() : redis_server(options{}) {}
  explicit redis_server(options opts);
  ~redis_server();
  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  /// The unix socket path; empty unless options::unix_socket.
  [[nodiscard]] const std::string& unix_path() const noexcept { return unix_path_; }
  [[nodiscard]] bool running() const noexcept { return pid_ > 0; }
  /// The server's log file (redis.conf's logfile).
  [[nodiscard]] std::string log_file() const { return dir_ + "/redis.log"; }

  /// SIGKILL: the server vanishes without closing anything gracefully.
  void kill();
  /// SIGTERM and wait for the process to exit.
  void stop();
  /// Replaces the extra configuration lines; takes effect at the next restart().
  void set_config(std::vector<std::string> config);
  /// Starts the server again on the same port (stopping it first if it runs).
  void restart();
  /// SIGSTOP: connections stay open but nothing is answered.
  void pause();
  /// SIGCONT after pause().
  void resume();

  /// Sends one inline command over a fresh blocking connection and returns the raw reply line
  /// (e.g. "+PONG"), for checks independent of the code under test.
  [[nodiscard]] std::string command(const std::string& inline_command) const;

 private:
  void write_config() const;
  void start();
  void wait_until_ready();
  void signal_and_wait(int signal);

  options options_;
  std::string dir_;
  std::string unix_path_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  bool paused_ = false;
};

}  // namespace corocache::test
