// redis_sentinel_discovery: finding the master of a redis-sentinel:// URL, as a state machine that
// does no I/O. The connection driver runs one round per connect attempt: it connects where the
// machine says, writes the commands it gives and feeds back each reply or failure, until the
// machine answers with a verified master or gives up. tests/test_redis_sentinel_discovery.cpp
// drives it without a server.
//
// One round:
//   ask sentinel i: [AUTH sentinel credentials] SENTINEL get-master-addr-by-name NAME
//     -> nil, error, failure, no answer in time: the next sentinel (i+1, wrapping)
//     -> host port: connect there: [the connection's handshake: AUTH, SELECT] ROLE
//          -> "master": done, and sentinel i is asked first next round; the connection is
//             authenticated and ready, so the handshake is not sent again
//          -> a replica (the sentinel's answer is stale), a rejected handshake command, failure:
//             the next sentinel
//   every sentinel tried once without a master: the round fails with one message naming each
//   sentinel and what went wrong with it ("no master named ..." when they all said nil).
// Messages name endpoints, the master's name and what the servers answered; never a password.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "corocache/detail/redis_command.hpp"
#include "corocache/detail/redis_reply.hpp"
#include "corocache/redis_options.hpp"

namespace corocache::detail {

/// What the driver does next.
struct sentinel_step {
  enum class kind {
    connect,  ///< drop any connection, connect to host:port, then report on_connected / on_failed
    send,     ///< write `commands` on the connection and report each reply with on_reply
    wait,     ///< read on: more replies are expected
    done,     ///< host:port is the master, verified with ROLE after the handshake: ready for use
    failed,   ///< the round failed: `error` says why, naming every sentinel
  };
  kind what = kind::failed;
  std::string host;
  std::uint16_t port = 0;
  std::vector<redis_command> commands;
  std::string error;
};

class redis_sentinel_discovery {
 public:
  /// `settings`: the sentinels and their credentials; `master_handshake`: the connection's
  /// handshake (AUTH, SELECT; may be empty), sent to the master before ROLE.
  redis_sentinel_discovery(redis_sentinel_settings settings,
                           std::vector<redis_command> master_handshake);

  /// Starts a round at the sentinel that answered last (the first one at first).
  [[nodiscard]] sentinel_step begin();
  /// The connection asked for by the last connect step is up.
  [[nodiscard]] sentinel_step on_connected();
  /// One reply to the commands of the last send step, in order.
  [[nodiscard]] sentinel_step on_reply(const redis_reply& reply);
  /// The current endpoint failed: connection refused or lost, no answer in time (`why` says).
  [[nodiscard]] sentinel_step on_failed(const std::string& why);

  /// "sentinel master NAME via host:port,host:port": how messages name the deployment.
  [[nodiscard]] std::string description() const;
  /// The sentinel that is (or will be) asked first, an index into the settings' list.
  [[nodiscard]] std::size_t preferred() const { return preferred_; }
  /// The next round asks sentinel `i` first (e.g. the one that announced a failover).
  void prefer(std::size_t i) { preferred_ = i < settings_.sentinels.size() ? i : 0; }
  /// The sentinel asked in the current round.
  [[nodiscard]] std::size_t current() const { return current_; }

 private:
  enum class phase { idle, sentinel, master };

  [[nodiscard]] sentinel_step next_sentinel(std::string why);
  [[nodiscard]] sentinel_step ask_current();
  [[nodiscard]] sentinel_step on_sentinel_answer(const redis_reply& reply);
  [[nodiscard]] sentinel_step on_role(const redis_reply& reply);
  [[nodiscard]] std::string sentinel_name(std::size_t i) const;
  [[nodiscard]] std::string master_name() const;

  redis_sentinel_settings settings_;
  std::vector<redis_command> sentinel_auth_;
  std::vector<redis_command> master_handshake_;
  phase phase_ = phase::idle;
  std::size_t preferred_ = 0;
  std::size_t current_ = 0;
  std::size_t round_start_ = 0;
  std::size_t tried_ = 0;           // sentinels tried this round
  std::size_t replies_left_ = 0;    // replies still expected for the last send step
  std::size_t preamble_left_ = 0;   // replies still due to AUTH (sentinel) or the handshake
  std::size_t unknown_master_ = 0;  // sentinels that answered nil this round
  std::string master_host_;
  std::uint16_t master_port_ = 0;
  std::string failures_;  // "sentinel h:p: why; ..." of this round
};

}  // namespace corocache::detail
