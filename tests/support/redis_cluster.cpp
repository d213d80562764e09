#include "support/redis_cluster.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <hiredis/hiredis.h>

#include "support/hiredis_blocking_reply.hpp"

namespace corocache::test {
namespace {

constexpr const char* cli_binary = "/usr/bin/redis-cli";
constexpr std::size_t node_count = 6;

// Runs `argv` with its output in `log`; kills it after `timeout`. Returns its exit status (-1 when
// it was killed or did not start).
int run_bounded(const std::vector<std::string>& args, const std::string& log,
                std::chrono::milliseconds timeout) {
  std::vector<const char*> argv;
  for (const auto& arg : args) argv.push_back(arg.c_str());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int in = ::open("/dev/null", O_RDONLY);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    if (in >= 0) ::dup2(in, 0);
    ::execv(argv[0], const_cast<char**>(argv.data()));
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (true) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (done < 0 && errno != EINTR) return -1;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

redis_cluster::redis_cluster(options opts) : options_(opts) {
  char pattern[] = "/tmp/corocache-cluster-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("redis_cluster: mkdtemp failed");
  dir_ = pattern;
  // A node's cluster bus listens on its port + 10000: redis-server exits at start when that port
  // is above 65535 or taken, and redis_server then retries on another port.
  const std::vector<std::string> config{
      "cluster-enabled yes",
      "cluster-config-file nodes.conf",
      "cluster-node-timeout " + std::to_string(options_.node_timeout.count()),
      "cluster-require-full-coverage no",
  };
  try {
    for (std::size_t i = 0; i < node_count; ++i) {
      nodes_.push_back(std::make_unique<redis_server>(
          redis_server::options{.unix_socket = false, .config = config}));
    }
    create();
  } catch (...) {
    nodes_.clear();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
    throw;
  }
}

redis_cluster::~redis_cluster() {
  nodes_.clear();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void redis_cluster::create() {
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::string> args{cli_binary, "--cluster", "create"};
  for (const auto& node : nodes_) args.push_back("127.0.0.1:" + std::to_string(node->port()));
  args.insert(args.end(), {"--cluster-replicas", "1", "--cluster-yes"});
  const std::string log = dir_ + "/create.log";
  if (const int status = run_bounded(args, log, options_.form_timeout); status != 0) {
    throw std::runtime_error("redis_cluster: redis-cli --cluster create failed (status " +
                             std::to_string(status) + "):\n" + read_file(log));
  }
  const auto left = options_.form_timeout - (std::chrono::steady_clock::now() - started);
  if (!wait_until_stable(std::chrono::duration_cast<std::chrono::milliseconds>(left))) {
    throw std::runtime_error("redis_cluster: the cluster did not become stable in time");
  }
}

std::size_t redis_cluster::index_of(std::uint16_t port) const {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i]->port() == port) return i;
  }
  return nodes_.size();
}

detail::redis_reply redis_cluster::command(std::size_t i,
                                           const std::vector<std::string>& args) const {
  const timeval timeout{1, 0};
  redisContext* context = redisConnectWithTimeout("127.0.0.1", port(i), timeout);
  if (context == nullptr || context->err != 0) {
    std::string why = context == nullptr ? "out of memory" : context->errstr;
    if (context != nullptr) redisFree(context);
    return error_reply("connection: " + why);
  }
  redisSetTimeout(context, timeout);
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  for (const auto& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data()));
  detail::redis_reply result = reply == nullptr
                                   ? error_reply(std::string("connection: ") + context->errstr)
                                   : to_reply(*reply);
  if (reply != nullptr) freeReplyObject(reply);
  redisFree(context);
  return result;
}

detail::cluster_slot_map redis_cluster::slot_map(std::size_t i) const {
  const auto reply = command(i, {"CLUSTER", "SLOTS"});
  return detail::cluster_slot_map::from_cluster_slots(reply, "127.0.0.1",
                                                      "127.0.0.1:" + std::to_string(port(i)));
}

bool redis_cluster::stable(std::size_t i, std::size_t replicas_per_master) const {
  const auto info = command(i, {"CLUSTER", "INFO"});
  if (info.type != detail::redis_reply::kind::string ||
      info.str.find("cluster_state:ok") == std::string::npos) {
    return false;
  }
  try {
    const auto map = slot_map(i);
    if (!map.covers_all()) return false;
    for (const auto& shard : map.shards()) {
      if (shard.replicas.size() != replicas_per_master) return false;
    }
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

bool redis_cluster::wait_until_stable(std::chrono::milliseconds timeout,
                                      std::size_t replicas_per_master) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    bool all = true;
    for (std::size_t i = 0; i < nodes_.size() && all; ++i) {
      all = !nodes_[i]->running() || stable(i, replicas_per_master);
    }
    if (all) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

redis_cluster& shared_redis_cluster() {
  static redis_cluster cluster;
  return cluster;
}

}  // namespace corocache::test
