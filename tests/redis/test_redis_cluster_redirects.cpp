// redis_cluster_connection against scripted fake nodes: every redirect and retry-later answer of
// a cluster, malformed and cut-short replies, and seeds that do not answer, deterministically.
#include <atomic>
#include <string>

#include <asio/steady_timer.hpp>

#include "corocache/detail/cluster_slot.hpp"
#include "corocache/detail/redis_cluster_connection.hpp"
#include "support/catch.hpp"
#include "support/error_of.hpp"
#include "support/fake_cluster_node.hpp"
#include "support/run_coroutine.hpp"

using namespace corocache;
using namespace corocache::detail;
using namespace std::chrono_literals;
using corocache::test::error_of;
using corocache::test::fake_cluster_node;
using corocache::test::run_coroutine;
using command = fake_cluster_node::command;

namespace {

const std::string key = "user:1";
const std::uint16_t slot = cluster_key_slot(key);
const std::string pong = "+PONG\r\n";

std::shared_ptr<redis_cluster_connection> make_cluster(asio::any_io_executor executor,
                                                       std::vector<std::uint16_t> seed_ports,
                                                       std::chrono::milliseconds timeout = 1000ms) {
  redis_cluster_options options;
  for (const auto port : seed_ports) {
    redis_endpoint seed;
    seed.host = "127.0.0.1";
    seed.port = port;
    options.seeds.push_back(seed);
  }
  options.node.connect_timeout = 1000ms;
  options.node.command_timeout = timeout;
  options.node.health_check_interval = 0ms;
  options.max_redirects = 3;
  return redis_cluster_connection::create(std::move(executor), std::move(options));
}

redis_command get() {
  return redis_command{"GET", key};
}

std::string moved_to(std::uint16_t port) {
  return "-MOVED " + std::to_string(slot) + " 127.0.0.1:" + std::to_string(port) + "\r\n";
}

// Answers PING and CLUSTER SLOTS (every slot to `*owner`), and GET with `on_get`.
fake_cluster_node::script node_script(const std::uint16_t* owner,
                                      std::function<std::string(const command&)> on_get) {
  return [owner, on_get = std::move(on_get)](const command& c) -> std::string {
    if (c[0] == "PING") return pong;
    if (c[0] == "CLUSTER") return fake_cluster_node::all_slots_to(*owner);
    if (c[0] == "ASKING") return "+OK\r\n";
    return on_get(c);
  };
}

// Waits (bounded) until `done()` holds; the background refresh runs meanwhile.
template <class Done>
asio::awaitable<bool> eventually(Done done) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (int i = 0; i < 500 && !done(); ++i) {
    timer.expires_after(10ms);
    co_await timer.async_wait(asio::use_awaitable);
  }
  co_return done();
}

}  // namespace

TEST_CASE("MOVED is followed to the named node, which serves the slot from then on",
          "[cluster_redirects]") {
  run_coroutine([](asio::any_io_executor ex) -> asio::awaitable<void> {
    std::uint16_t owner = 0;
    fake_cluster_node b(
        ex, node_script(&owner, [](const command&) { return fake_cluster_node::bulk("from-b"); }));
    fake_cluster_node a(ex, node_script(&owner, [&](const command&) {
                          owner = b.port();  // the slot has moved: CLUSTER SLOTS says so too
                          return moved_to(b.port());
                        }));
    owner = a.port();
    auto cluster = make_cluster(ex, {a.port()});
    co_await cluster->connect();
    CHECK(cluster->slot_map().master_for(slot)->port == a.port());
    auto first = co_await cluster->execute(key, get());
    CHECK(first.str == "from-b");
    CHECK(cluster->counters().moved == 1);
    CHECK(cluster->slot_map().master_for(slot)->port == b.port());
    auto second = co_await cluster->execute(key, get());
    CHECK(second.str == "from-b");
    CHECK(a.count("GET") == 1);
    CHECK(b.count("GET") == 2);
    // The MOVED asked for a full refresh, which ran once in the background.
    CHECK(co_await eventually([&] { return cluster->counters().refreshes == 2; }));
    CHECK(cluster->slot_map().master_for(0)->port == b.port());
    co_await cluster->close();
  });
}

TEST_CASE("ASK sends ASKING and the command to the named node once, leaving the map alone",
          "[cluster_redirects]") {
  run_coroutine([](asio::any_io_executor ex) -> asio::awaitable<void> {
    std::uint16_t owner = 0;
    fake_cluster_node b(ex, node_script(&owner, [](const command&) {
                          return fake_cluster_node::bulk("migrated");
                        }));
    fake_cluster_node a(ex, node_script(&owner, [&](const command&) {
                          return "-ASK " + std::to_string(slot) +
                                 " 127.0.0.1:" + std::to_string(b.port()) + "\r\n";
                        }));
    owner = a.port();
    auto cluster = make_cluster(ex, {a.port()});
    co_await cluster->connect();
    for (int i = 0; i < 2; ++i) {
      auto reply = co_await cluster->execute(key, get());
      CHECK(reply.str == "migrated");
    }
    CHECK(cluster->counters().ask == 2);
    CHECK(cluster->counters().moved == 0);
    CHECK(cluster->slot_map().master_for(slot)->port == a.port());
    CHECK(a.count("GET") == 2);  // each call asked the map's master first
    // ASKING right before each GET on B, on the same connection.
    const auto& got = b.received();
    std::vector<std::string> names;
    for (const auto& c : got) {
      if (c[0] != "PING") names.push_back(c[0]);
    }
    CHECK(names == std::vector<std::string>{"ASKING", "GET", "ASKING", "GET"});
    co_await cluster->close();
  });
}

TEST_CASE("TRYAGAIN, CLUSTERDOWN and LOADING are retried until the node answers",
          "[cluster_redirects]") {
  const auto transient =
      GENERATE(as<std::string>{}, "-TRYAGAIN Multiple keys request during rehashing of slot\r\n",
               "-CLUSTERDOWN The cluster is down\r\n",
               "-LOADING Redis is loading the dataset in memory\r\n");
  run_coroutine([transient](asio::any_io_executor ex) -> asio::awaitable<void> {
    std::uint16_t owner = 0;
    int gets = 0;
    fake_cluster_node a(ex, node_script(&owner, [&](const command&) {
                          return ++gets <= 2 ? transient : fake_cluster_node::bulk("ok");
                        }));
    owner = a.port();
    auto cluster = make_cluster(ex, {a.port()}, 2000ms);
    co_await cluster->connect();
    auto reply = co_await cluster->execute(key, get());
    CHECK(reply.str == "ok");
    CHECK(gets == 3);
    CHECK(cluster->counters().retries == 2);
    co_await cluster->close();
  });
}

TEST_CASE("a cluster that stays down gives back its error once the command timeout has passed",
          "[cluster_redirects]") {
  run_coroutine([](asio::any_io_executor ex) -> asio::awaitable<void> {
    std::uint16_t owner = 0;
    int gets = 0;
    fake_cluster_node a(ex, node_script(&owner, [&](const command&) {
                          ++gets;
                          return std::string("-CLUSTERDOWN The cluster is down\r\n");
                        }));
    owner = a.port();
    auto cluster = make_cluster(ex, {a.port()}, 1000ms);
    co_await cluster->connect();
    auto reply = co_await cluster->execute(key, get());
    CHECK(reply.type == redis_reply::kind::error);
    CHECK(reply.str.rfind("CLUSTERDOWN", 0) == 0);
    CHECK(gets >= 2);   // retried
    CHECK(gets <= 12);  // a pause that doubles from 10ms: at most 7 tries in one second
    co_await cluster->close();
  });
}

TEST_CASE("redirects that go round in circles stop at the cap", "[cluster_redirects]") {
  run_coroutine([](asio::any_io_executor ex) -> asio::awaitable<void> {
    std::uint16_t owner = 0;
    std::uint16_t a_port = 0;
    fake_cluster_node b(ex, node_script(&owner, [&](const command&) { return moved_to(a_port); }));
    fake_cluster_node a(ex,
                        node_script(&owner, [&](const command&) { return moved_to(b.port()); }));
    a_port = owner = a.port();
    auto cluster = make_cluster(ex, {a.port()});
    co_await cluster->connect();
    try {
      (void)co_await cluster->execute(key, get());
      FAIL("no error");
    } catch (const cache_error& e) {
      CHECK(e.error() == errc::server_error);
      CHECK(std::string(e.what()).find("slot " + std::to_string(slot)) != std::string::npos);
    }
    CHECK(a.count("GET") + b.count("GET") == 4);  // the first try and three redirects
    co_await cluster->close();
  });
}

TEST_CASE("a malformed MOVED or ASK is a protocol error", "[cluster_redirects]") {
  const auto bad = GENERATE(as<std::string>{}, "-MOVED 12\r\n", "-MOVED\r\n",
                            "-ASK abc 127.0.0.1:1\r\n", "-MOVED 99999 127.0.0.1:1\r\n");
  run_coroutine([bad](asio::any_io_executor ex) -> asio::awaitable<void> {
    std::uint16_t owner = 0;
    fake_cluster_node a(ex, node_script(&owner, [&](const command&) { return bad; }));
    owner = a.port();
    auto cluster = make_cluster(ex, {a.port()});
    co_await cluster->connect();
    CHECK(co_await error_of(cluster->execute(key, get())) == errc::protocol_error);
    co_await cluster->close();
  });
}

TEST_CASE("a reply cut short by a closed connection is a connection error and asks for a refresh",
          "[cluster_redirects]") {
  run_coroutine([](asio::any_io_executor ex) -> asio::awaitable<void> {
    std::uint16_t owner = 0;
    fake_cluster_node a(ex, node_script(&owner, [&](const command&) {
                          return fake_cluster_node::truncated("$10\r\nabc");
                        }));
    owner = a.port();
    auto cluster = make_cluster(ex, {a.port()});
    co_await cluster->connect();
    CHECK(co_await error_of(cluster->execute(key, get())) == errc::connection_error);
    CHECK(co_await eventually([&] { return cluster->counters().refreshes == 2; }));
    co_await cluster->close();
  });
}

TEST_CASE("a redirect with an empty host means the answering node's host", "[cluster_redirects]") {
  run_coroutine([](asio::any_io_executor ex) -> asio::awaitable<void> {
    std::uint16_t owner = 0;
    fake_cluster_node b(
        ex, node_script(&owner, [](const command&) { return fake_cluster_node::bulk("from-b"); }));
    fake_cluster_node a(ex, node_script(&owner, [&](const command&) {
                          return "-MOVED " + std::to_string(slot) + " :" +
                                 std::to_string(b.port()) + "\r\n";
                        }));
    owner = a.port();
    auto cluster = make_cluster(ex, {a.port()});
    co_await cluster->connect();
    auto reply = co_await cluster->execute(key, get());
    CHECK(reply.str == "from-b");
    CHECK(cluster->slot_map().master_for(slot)->host == "127.0.0.1");
    co_await cluster->close();
  });
}

TEST_CASE("an ordinary error reply is returned as it is, without retries", "[cluster_redirects]") {
  run_coroutine([](asio::any_io_executor ex) -> asio::awaitable<void> {
    std::uint16_t owner = 0;
    fake_cluster_node a(ex, node_script(&owner, [&](const command&) {
                          return std::string(
                              "-WRONGTYPE Operation against a key holding the "
                              "wrong kind of value\r\n");
                        }));
    owner = a.port();
    auto cluster = make_cluster(ex, {a.port()});
    co_await cluster->connect();
    auto reply = co_await cluster->execute(key, get());
    CHECK(reply.type == redis_reply::kind::error);
    CHECK(reply.str.rfind("WRONGTYPE", 0) == 0);
    CHECK(a.count("GET") == 1);
    co_await cluster->close();
  });
}

TEST_CASE("discovery skips a seed that does not answer, and fails naming the seeds when none does",
          "[cluster_redirects]") {
  run_coroutine([](asio::any_io_executor ex) -> asio::awaitable<void> {
    // A port nothing listens on: a closed acceptor's.
    std::uint16_t dead_port = 0;
    {
      asio::ip::tcp::acceptor closed(ex, {asio::ip::make_address("127.0.0.1"), 0});
      dead_port = closed.local_endpoint().port();
    }
    std::uint16_t owner = 0;
    fake_cluster_node a(
        ex, node_script(&owner, [](const command&) { return fake_cluster_node::bulk("v"); }));
    owner = a.port();
    auto cluster = make_cluster(ex, {dead_port, a.port()});
    co_await cluster->connect();
    CHECK(cluster->slot_map().covers_all());
    co_await cluster->close();

    auto lost = make_cluster(ex, {dead_port});
    try {
      co_await lost->connect();
      FAIL("no error");
    } catch (const cache_error& e) {
      CHECK(e.error() == errc::connection_error);
      CHECK(std::string(e.what()).find("127.0.0.1:" + std::to_string(dead_port)) !=
            std::string::npos);
    }
    co_await lost->close();
  });
}
