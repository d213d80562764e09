// Reply handling, error mapping, pattern deletion and the counter script of RedisCacheBackend.
#include "corocache/detail/redis_commands.hpp"

#include <charconv>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "corocache/detail/cluster_slot.hpp"
#include "corocache/detail/decimal.hpp"
#include "corocache/detail/redis_scripts.hpp"
#include "corocache/error.hpp"

namespace corocache::detail {
namespace {

constexpr std::string_view scan_page_size = "1000";

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

std::string describe(std::string_view operation, std::string_view key) {
  return fmt::format("{} {}", operation, printable_key(key));
}

// One SCAN page: the next cursor and the keys found.
struct scan_page {
  std::string cursor;
  std::vector<std::string> keys;
};

scan_page read_scan_page(const redis_reply& reply, std::string_view operation,
                         std::string_view pattern) {
  const auto& page = expect_reply(reply, redis_reply::kind::array, operation, pattern);
  if (page.elements.size() != 2 || page.elements[0].type != redis_reply::kind::string ||
      page.elements[1].type != redis_reply::kind::array) {
    throw_error(errc::protocol_error, describe(operation, pattern) + ": malformed SCAN reply");
  }
  scan_page out{page.elements[0].str, {}};
  out.keys.reserve(page.elements[1].elements.size());
  for (const auto& key : page.elements[1].elements) {
    out.keys.push_back(expect_reply(key, redis_reply::kind::string, operation, pattern).str);
  }
  return out;
}

redis_command scan_command(const std::string& cursor, const std::string& pattern) {
  return {"SCAN", cursor, "MATCH", pattern, "COUNT", std::string(scan_page_size)};
}

redis_command counter_command(std::string_view verb, std::string_view script,
                              const counter_request& request) {
  return {std::string(verb),
          std::string(script),
          "1",
          request.stored_key,
          to_decimal(request.delta),
          to_decimal(request.initial),
          request.ttl ? to_decimal(request.ttl->count()) : std::string(),
          request.lowest,
          request.highest};
}

}  // namespace

void throw_reply_error(const redis_reply& reply, std::string_view operation, std::string_view key) {
  const std::string& message = reply.str;
  const auto what = describe(operation, key);
  if (reply.type != redis_reply::kind::error)
    throw_error(errc::protocol_error, what + ": unexpected reply type");
  if (contains(message, "increment or decrement would overflow"))
    throw_error(errc::overflow, what + ": the result would overflow, the value is unchanged");
  if (contains(message, "value is not an integer"))
    throw_error(errc::not_a_counter, what + ": the stored value is not an integer");
  if (message.starts_with("WRONGTYPE"))
    throw_error(errc::wrong_type, what + ": the key holds another Redis type");
  throw_error(errc::server_error, fmt::format("{}: {}", what, message));
}

const redis_reply& expect_reply(const redis_reply& reply, redis_reply::kind expected,
                                std::string_view operation, std::string_view key) {
  if (reply.type != expected) {
    if (reply.type == redis_reply::kind::error) throw_reply_error(reply, operation, key);
    throw_error(errc::protocol_error, describe(operation, key) + ": unexpected reply type");
  }
  return reply;
}

long long expect_integer(const redis_reply& reply, std::string_view operation,
                         std::string_view key) {
  return expect_reply(reply, redis_reply::kind::integer, operation, key).integer;
}

namespace {

// One node: each round trip unlinks a page and asks for the next.
asio::awaitable<std::size_t> unlink_on_node(std::shared_ptr<redis_connection> connection,
                                            std::string pattern, std::string operation) {
  std::size_t removed = 0;
  auto page =
      read_scan_page(co_await connection->execute(scan_command("0", pattern)), operation, pattern);
  // Each round trip unlinks one page and asks for the next, so a scan costs one trip per page.
  for (;;) {
    const bool last = page.cursor == "0";
    std::vector<redis_command> batch;
    if (!page.keys.empty()) {
      redis_command unlink{"UNLINK"};
      for (auto& key : page.keys) unlink.push_back(std::move(key));
      batch.push_back(std::move(unlink));
    }
    if (!last) batch.push_back(scan_command(page.cursor, pattern));
    if (batch.empty()) break;
    auto replies = co_await connection->execute_batch(std::move(batch));
    if (!page.keys.empty()) {
      removed += static_cast<std::size_t>(expect_integer(replies.front(), operation, pattern));
    }
    if (last) break;
    page = read_scan_page(replies.back(), operation, pattern);
  }
  co_return removed;
}

// A cluster's master: its keys of one page may span slots, and an UNLINK must not (CROSSSLOT), so
// one UNLINK per slot, routed by the cluster (a slot that moved meanwhile follows its MOVED).
asio::awaitable<std::size_t> unlink_on_master(std::shared_ptr<redis_link> link,
                                              std::shared_ptr<redis_connection> master,
                                              std::string pattern, std::string operation) {
  std::size_t removed = 0;
  std::string cursor = "0";
  do {
    auto page =
        read_scan_page(co_await master->execute(scan_command(cursor, pattern)), operation, pattern);
    cursor = std::move(page.cursor);
    if (page.keys.empty()) continue;
    std::vector<redis_command> unlinks;
    for (const auto& group : group_by_slot(page.keys)) {
      redis_command unlink{"UNLINK"};
      for (const auto position : group.positions) unlink.push_back(page.keys[position]);
      unlinks.push_back(std::move(unlink));
    }
    const auto replies = co_await link->execute_spread(std::move(unlinks));
    for (const auto& reply : replies)
      removed += static_cast<std::size_t>(expect_integer(reply, operation, pattern));
  } while (cursor != "0");
  co_return removed;
}

}  // namespace

asio::awaitable<std::size_t> unlink_matching(std::shared_ptr<redis_link> link, std::string pattern,
                                             std::string operation) {
  const auto nodes = co_await link->data_nodes();
  if (!link->is_cluster()) co_return co_await unlink_on_node(nodes.front(), pattern, operation);
  std::size_t removed = 0;
  for (const auto& master : nodes)
    removed += co_await unlink_on_master(link, master, pattern, operation);
  co_return removed;
}

asio::awaitable<void> check_server_version(std::shared_ptr<redis_link> link) {
  // On a cluster INFO goes to one master (routed by its argument, as any command).
  redis_command info{"INFO", "server"};
  const auto reply = co_await link->execute(std::move(info));
  if (reply.type != redis_reply::kind::string) co_return;  // INFO renamed or refused: no check
  if (!link->is_cluster() && reply.str.find("redis_mode:cluster") != std::string::npos) {
    throw_error(errc::invalid_argument,
                fmt::format("{}: the server is a Redis Cluster node; use redis-cluster://{}",
                            link->description(), link->address()));
  }
  static constexpr std::string_view field = "redis_version:";
  const auto at = reply.str.find(field);
  if (at == std::string::npos) co_return;
  const auto start = at + field.size();
  const auto version = reply.str.substr(start, reply.str.find_first_of("\r\n", start) - start);
  int major = 0;
  std::from_chars(version.data(), version.data() + version.size(), major);
  if (major < 6) {
    throw_error(errc::unsupported, "redis server version " + version +
                                       ": corocache needs Redis 6.0 or later (SET ... KEEPTTL)");
  }
}

asio::awaitable<std::string> load_counter_script(std::shared_ptr<redis_link> link) {
  // Every master, so that no counter on a cluster pays a NOSCRIPT first. The SHA1 is the same.
  std::string sha;
  for (const auto& node : co_await link->data_nodes()) {
    redis_command load{"SCRIPT", "LOAD", std::string(counter_script)};
    const auto reply = co_await node->execute(std::move(load));
    if (reply.type == redis_reply::kind::string) sha = reply.str;
  }
  co_return sha;
}

asio::awaitable<std::int64_t> run_counter_script(std::shared_ptr<redis_link> connection,
                                                 std::string script_sha, counter_request request) {
  const char* operation = request.delta < 0 ? "decr" : "incr";
  redis_reply reply;
  if (!script_sha.empty()) {
    reply = co_await connection->execute(counter_command("EVALSHA", script_sha, request));
  }
  if (script_sha.empty() ||
      (reply.type == redis_reply::kind::error && reply.str.starts_with("NOSCRIPT"))) {
    reply = co_await connection->execute(counter_command("EVAL", counter_script, request));
  }
  const auto& text = expect_reply(reply, redis_reply::kind::string, operation, request.key).str;
  const auto value = from_decimal<std::int64_t>(text);
  if (!value) {
    throw_error(errc::protocol_error,
                describe(operation, request.key) + ": the counter script returned a non-integer");
  }
  co_return *value;
}

}  // namespace corocache::detail
