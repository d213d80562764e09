// redis_tls: short-lived certificates for TLS tests, made with the `openssl` command in a
// temporary directory (removed by the destructor), and the redis-server options that use them.
//
// One CA signs a server certificate valid for localhost and 127.0.0.1, an expired one, one for
// another host name and a client certificate; a second, unrelated CA is there to be the wrong
// one, and signs a server certificate of its own (other-ca-server.crt). Keys are P-256, which
// openssl makes in milliseconds.
#pragma once

#include <string>
#include <vector>

#include "support/redis_server.hpp"

namespace corocache::test {

class tls_certificates {
 public:
  /// Makes every file; throws std::runtime_error when openssl fails.
  tls_certificates();
  ~tls_certificates();
  tls_certificates(const tls_certificates&) = delete;
  tls_certificates& operator=(const tls_certificates&) = delete;

  /// The path of `name` in the directory, e.g. file("ca.crt").
  [[nodiscard]] std::string file(const std::string& name) const { return dir_ + "/" + name; }
  [[nodiscard]] std::string ca() const { return file("ca.crt"); }
  [[nodiscard]] std::string other_ca() const { return file("other-ca.crt"); }
  [[nodiscard]] std::string client_cert() const { return file("client.crt"); }
  [[nodiscard]] std::string client_key() const { return file("client.key"); }

  enum class server_cert { valid, expired, wrong_host };
  enum class client_auth { no, optional, yes };

  /// Options for a TLS-only redis_server presenting `cert` and checking client certificates
  /// against the CA as `auth` says.
  [[nodiscard]] redis_server::options server_options(
      server_cert cert = server_cert::valid, client_auth auth = client_auth::optional) const;

  /// The TLS lines of a node of a replicated or Sentinel deployment: it presents the server
  /// certificate (the one the other CA signed when `untrusted`), requires client certificates
  /// signed by either CA, and replicates (or, as a Sentinel, reaches the others) over TLS.
  [[nodiscard]] std::vector<std::string> node_config(bool untrusted = false) const;

  /// "rediss://127.0.0.1:<port>/0?ca=<ca.crt>", to which a test appends "&...".
  [[nodiscard]] std::string url(const redis_server& server) const;

 private:
  void openssl(const std::string& arguments) const;

  std::string dir_;
};

}  // namespace corocache::test
