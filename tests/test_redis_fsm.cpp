// redis_connection_fsm driven by hand, without a socket: each test feeds events and checks what
// the machine writes, asks for and completes.
#include "corocache/detail/redis_connection_fsm.hpp"
#include "corocache/detail/redis_reply_reader.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/catch.hpp"

using namespace corocache;
using namespace corocache::detail;
using state = redis_connection_fsm::state;
using kind = redis_fsm_action::kind;

namespace {

struct outcome {
  int completions = 0;
  std::optional<errc> error;
  std::vector<std::string> replies;
};

class test_op final : public pending_op {
 public:
  test_op(outcome& out, std::vector<redis_command> commands)
      : out_(out), commands_(std::move(commands)) {}
  std::span<redis_command> commands() override { return commands_; }
  void drop_commands() override { commands_.clear(); }
  void on_reply(redis_reply&& reply) override {
    out_.replies.push_back(reply.type == redis_reply::kind::integer ? std::to_string(reply.integer)
                                                                    : std::move(reply.str));
  }
  void complete(std::unique_ptr<pending_op>, std::exception_ptr error) noexcept override {
    ++out_.completions;
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const cache_error& e) {
      out_.error = e.error();
    }
  }

 private:
  outcome& out_;
  std::vector<redis_command> commands_;
};

std::unique_ptr<pending_op> command(outcome& out, std::string verb, std::string argument) {
  std::vector<redis_command> commands;
  commands.push_back(redis_command{verb, argument});
  return std::make_unique<test_op>(out, std::move(commands));
}

std::unique_ptr<pending_op> waiter(outcome& out) {
  return std::make_unique<test_op>(out, std::vector<redis_command>{});
}

// A machine plus the driver's side of it.
struct harness {
  explicit harness(redis_fsm_config config = default_config()) : fsm(std::move(config)) {}

  static redis_fsm_config default_config() {
    redis_fsm_config config;
    config.where = "redis test:1";
    config.handshake.push_back(redis_command{"AUTH", "app", "secret"});
    config.handshake.push_back(redis_command{"SELECT", "2"});
    config.command_timeout = std::chrono::milliseconds(800);  // ticks of 100 ms: 9 ticks
    config.connect_timeout = std::chrono::milliseconds(800);
    config.health_check_interval = std::chrono::milliseconds(0);
    return config;
  }

  std::vector<redis_fsm_action> actions() {
    std::vector<redis_fsm_action> out;
    while (auto a = fsm.next_action()) out.push_back(*a);
    return out;
  }

  /// The bytes written, if the machine wants a write now ("" otherwise).
  std::string written() {
    if (!fsm.write_due()) return "";
    std::string bytes;
    fsm.take_output(bytes);
    fsm.on_written(fsm.attempt());
    return bytes;
  }

  void reply(const std::string& resp) {
    redis_reply_reader reader;
    REQUIRE(reader.feed(resp.data(), resp.size()));
    redis_reply r;
    while (reader.next(r) == redis_reply_reader::result::reply) {
      fsm.on_reply(fsm.attempt(), std::move(r));
    }
    fsm.on_read_done(fsm.attempt());
  }

  /// connect(), the transport opens and the handshake succeeds.
  void connect_ready(outcome& connected) {
    fsm.connect(waiter(connected));
    const auto open = actions();
    REQUIRE(open.size() == 1);
    REQUIRE(open[0].what == kind::open);
    fsm.on_opened(open[0].attempt);
    REQUIRE(written() ==
            "*3\r\n$4\r\nAUTH\r\n$3\r\napp\r\n$6\r\nsecret\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n");
    reply("+OK\r\n+OK\r\n");
    REQUIRE(fsm.current_state() == state::ready);
  }

  void ticks(int n) {
    for (int i = 0; i < n; ++i) fsm.on_tick();
  }

  redis_connection_fsm fsm;
};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("commands submitted during the handshake are written only after it succeeded",
          "[redis_fsm]") {
  harness h;
  outcome connected, get;
  h.fsm.connect(waiter(connected));
  h.fsm.on_opened(h.actions().at(0).attempt);
  h.fsm.submit(command(get, "GET", "k"), 1);
  const auto handshake = h.written();
  CHECK(contains(handshake, "AUTH"));
  CHECK_FALSE(contains(handshake, "GET"));
  h.reply("+OK\r\n");  // AUTH only: SELECT still pending
  CHECK(h.written().empty());
  h.reply("+OK\r\n");
  CHECK(connected.completions == 1);
  CHECK_FALSE(connected.error);
  CHECK(contains(h.written(), "GET"));
  h.reply("$1\r\nv\r\n");
  CHECK(get.completions == 1);
  CHECK(get.replies == std::vector<std::string>{"v"});
}

TEST_CASE("a transport whose handshake already ran is ready at once and sends it no second time",
          "[redis_fsm]") {
  harness h;
  outcome connected, get;
  h.fsm.connect(waiter(connected));
  h.fsm.submit(command(get, "GET", "k"), 1);
  h.fsm.on_opened_ready(h.actions().at(0).attempt);
  CHECK(h.fsm.current_state() == state::ready);
  CHECK(connected.completions == 1);
  CHECK_FALSE(connected.error);
  const auto written = h.written();
  CHECK_FALSE(contains(written, "AUTH"));
  CHECK_FALSE(contains(written, "SELECT"));
  CHECK(contains(written, "GET"));
  h.reply("$1\r\nv\r\n");
  CHECK(get.replies == std::vector<std::string>{"v"});
}

TEST_CASE("a rejected handshake fails the waiting commands without ever sending them",
          "[redis_fsm]") {
  harness h;
  outcome connected, get;
  h.fsm.connect(waiter(connected));
  h.fsm.on_opened(h.actions().at(0).attempt);
  h.fsm.submit(command(get, "SET", "k"), 1);
  CHECK_FALSE(contains(h.written(), "SET"));
  h.reply("-WRONGPASS invalid username-password pair\r\n");
  CHECK(get.completions == 1);
  CHECK(get.error == errc::connection_error);
  CHECK(connected.error == errc::connection_error);
  CHECK(h.fsm.current_state() == state::idle);  // a first connect is not retried on its own
  CHECK(h.written().empty());
  const auto actions = h.actions();
  REQUIRE_FALSE(actions.empty());
  CHECK(actions[0].what == kind::close);
  CHECK(h.fsm.stats().handshake_failures == 1);
}

TEST_CASE("a rejected handshake on reconnect fails the waiting commands unsent and backs off",
          "[redis_fsm]") {
  harness h;
  outcome connected, during;
  h.connect_ready(connected);
  h.fsm.on_lost(h.fsm.attempt(), "reset");
  auto actions = h.actions();
  REQUIRE(actions.size() == 2);  // close, then the immediate first retry
  CHECK(actions[1].what == kind::open);
  h.fsm.on_opened(actions[1].attempt);
  h.fsm.submit(command(during, "SET", "k"), 7);
  CHECK_FALSE(contains(h.written(), "SET"));
  h.reply("+OK\r\n-ERR DB index is out of range\r\n");  // SELECT refused: wrong database
  CHECK(during.error == errc::connection_error);
  CHECK(h.fsm.current_state() == state::backoff);
  actions = h.actions();
  CHECK(actions.back().what == kind::wait_backoff);
  CHECK(actions.back().delay.count() > 0);
}

TEST_CASE("operations fail fast while the connection waits to reconnect", "[redis_fsm]") {
  harness h;
  outcome connected, refused;
  h.connect_ready(connected);
  h.fsm.on_lost(h.fsm.attempt(), "reset");
  const auto retry = h.actions().at(1).attempt;
  h.fsm.on_open_failed(retry, "connection refused");
  CHECK(h.fsm.current_state() == state::backoff);
  h.fsm.submit(command(refused, "GET", "k"), 3);
  CHECK(refused.error == errc::connection_error);
}

TEST_CASE("a cancelled command completes at once, its reply is discarded, the connection stays",
          "[redis_fsm]") {
  harness h;
  outcome connected, first, second;
  h.connect_ready(connected);
  h.fsm.submit(command(first, "GET", "a"), 1);
  h.fsm.submit(command(second, "GET", "b"), 2);
  CHECK(contains(h.written(), "GET"));
  h.fsm.cancel(1);
  CHECK(first.completions == 1);
  CHECK(first.error == errc::cancelled);
  // Its deadline is gone: ticks past it do not reset the connection for the second one...
  h.reply("$1\r\na\r\n");  // ...and the first reply is swallowed, not given to the second.
  CHECK(second.completions == 0);
  h.reply("$1\r\nb\r\n");
  CHECK(second.replies == std::vector<std::string>{"b"});
  CHECK(h.fsm.current_state() == state::ready);
  CHECK(h.fsm.stats().cancellations == 1);
  h.fsm.cancel(1);  // again, and for a completed one: nothing happens
  h.fsm.cancel(2);
  CHECK(first.completions == 1);
  CHECK(second.completions == 1);
}

TEST_CASE("a cancelled command that never gets its reply does not reset the connection",
          "[redis_fsm]") {
  harness h;
  outcome connected, cancelled;
  h.connect_ready(connected);
  h.fsm.submit(command(cancelled, "GET", "a"), 1);
  (void)h.written();
  h.fsm.cancel(1);
  h.ticks(50);
  CHECK(h.fsm.current_state() == state::ready);
  CHECK(h.actions().empty());
}

TEST_CASE("a command without a reply times out at its deadline and resets the connection",
          "[redis_fsm]") {
  harness h;
  outcome connected, old_one, young_one;
  h.connect_ready(connected);
  h.fsm.submit(command(old_one, "GET", "a"), 1);
  (void)h.written();
  h.ticks(5);
  h.fsm.submit(command(young_one, "GET", "b"), 2);
  (void)h.written();
  const auto deadline = h.fsm.command_ticks();  // ticks after submission
  h.ticks(static_cast<int>(deadline) - 6);
  CHECK(old_one.completions == 0);  // never early
  h.ticks(1);
  CHECK(old_one.error == errc::timeout);
  CHECK(young_one.error == errc::connection_error);  // reset with it, not timed out itself
  const auto actions = h.actions();
  REQUIRE(actions.size() == 2);
  CHECK(actions[0].what == kind::close);
  CHECK(actions[1].what == kind::open);
}

TEST_CASE("an idle connection sends a PING every health_check_interval and resets when unanswered",
          "[redis_fsm]") {
  auto config = harness::default_config();
  config.health_check_interval = std::chrono::milliseconds(400);
  harness h(config);
  outcome connected;
  h.connect_ready(connected);
  std::string bytes;
  int ticks = 0;
  for (; ticks < 20 && bytes.empty(); ++ticks) {
    h.fsm.on_tick();
    bytes = h.written();
  }
  CHECK(bytes == "*1\r\n$4\r\nPING\r\n");
  CHECK(ticks * h.fsm.tick_period() >= config.health_check_interval);
  h.reply("+PONG\r\n");
  CHECK(h.fsm.stats().health_checks == 1);
  // The next PING goes unanswered: the connection is reset within its deadline.
  for (ticks = 0; ticks < 100 && h.fsm.current_state() == state::ready; ++ticks) {
    h.fsm.on_tick();
    (void)h.written();
  }
  CHECK(h.fsm.current_state() != state::ready);
  CHECK(ticks * h.fsm.tick_period() <=
        config.health_check_interval + config.command_timeout + 3 * h.fsm.tick_period());
}

TEST_CASE("start_offline: connect() completes without a server and the machine keeps trying",
          "[redis_fsm]") {
  auto config = harness::default_config();
  config.start_offline = true;
  harness h(config);
  outcome connected, early;
  h.fsm.connect(waiter(connected));
  CHECK(connected.completions == 1);
  CHECK_FALSE(connected.error);
  // The first retry is immediate; the second failure waits.
  h.fsm.on_open_failed(h.actions().back().attempt, "connection refused");
  CHECK(h.fsm.current_state() == state::connecting);
  h.fsm.on_open_failed(h.actions().back().attempt, "connection refused");
  CHECK(h.fsm.current_state() == state::backoff);
  h.fsm.submit(command(early, "GET", "k"), 1);
  CHECK(early.error == errc::connection_error);  // fails fast, not not_initialized
  const auto actions = h.actions();
  REQUIRE_FALSE(actions.empty());
  CHECK(actions.back().what == kind::wait_backoff);
}

TEST_CASE("close() fails everything with shut_down and writes nothing afterwards", "[redis_fsm]") {
  harness h;
  outcome connected, written, later;
  h.connect_ready(connected);
  h.fsm.submit(command(written, "GET", "a"), 1);
  h.fsm.close();
  CHECK(written.error == errc::shut_down);
  CHECK(h.written().empty());
  h.fsm.submit(command(later, "GET", "b"), 2);
  CHECK(later.error == errc::shut_down);
  h.reply("$1\r\na\r\n");
  CHECK(written.completions == 1);
}

TEST_CASE("callers resumed by one read leave in two writes: half early, the rest at the end",
          "[redis_fsm]") {
  harness h;
  outcome connected;
  h.connect_ready(connected);
  std::vector<outcome> first(16), second(16);
  for (std::size_t i = 0; i < 16; ++i) h.fsm.submit(command(first[i], "GET", "k"), i + 1);
  (void)h.written();
  std::string replies;
  for (int i = 0; i < 16; ++i) replies += "$1\r\nv\r\n";
  h.reply(replies);  // 16 callers completed by one read
  std::vector<std::size_t> writes_at;
  for (std::size_t i = 0; i < 16; ++i) {
    h.fsm.submit(command(second[i], "GET", "k"), 100 + i);
    if (h.fsm.write_due()) {
      writes_at.push_back(i + 1);
      std::string bytes;
      h.fsm.take_output(bytes);
      h.fsm.on_written(h.fsm.attempt());
    }
  }
  CHECK(writes_at == std::vector<std::size_t>{8, 16});
}

TEST_CASE("a reply to no command drops the connection", "[redis_fsm]") {
  harness h;
  outcome connected;
  h.connect_ready(connected);
  h.reply("+OK\r\n");
  const auto actions = h.actions();
  REQUIRE_FALSE(actions.empty());
  CHECK(actions[0].what == kind::close);
}

TEST_CASE("connect times out after connect_timeout when the handshake gets no answer",
          "[redis_fsm]") {
  harness h;
  outcome connected;
  h.fsm.connect(waiter(connected));
  h.fsm.on_opened(h.actions().at(0).attempt);
  (void)h.written();
  h.ticks(static_cast<int>(h.fsm.connect_ticks()) - 1);
  CHECK(connected.completions == 0);
  h.fsm.on_tick();
  CHECK(connected.error == errc::timeout);
}
