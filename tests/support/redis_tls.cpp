#include "support/redis_tls.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace corocache::test {

tls_certificates::tls_certificates() {
  char pattern[] = "/tmp/corocache-tls-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("tls_certificates: mkdtemp failed");
  dir_ = pattern;
  std::ofstream(file("server.ext")) << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
  std::ofstream(file("wrong-host.ext")) << "subjectAltName=DNS:wrong-host.invalid\n";
  std::ofstream(file("client.ext")) << "extendedKeyUsage=clientAuth\n";
  const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ";
  for (const char* ca : {"ca", "other-ca"}) {
    openssl("req -x509 " + key + "-days 2 -subj /CN=corocache-test-" + std::string(ca) +
            " -keyout " + file(std::string(ca) + ".key") + " -out " +
            file(std::string(ca) + ".crt"));
  }
  for (const char* leaf : {"server", "client"}) {
    openssl("req " + key + "-subj /CN=" + std::string(leaf) + " -keyout " +
            file(std::string(leaf) + ".key") + " -out " + file(std::string(leaf) + ".csr"));
  }
  // -days -1: notAfter before now, so the certificate is expired from the start.
  const struct {
    const char* name;
    const char* csr;
    const char* ext;
    const char* days;
  } signed_by_ca[] = {{"server", "server", "server", "2"},
                      {"expired", "server", "server", "-1"},
                      {"wrong-host", "server", "wrong-host", "2"},
                      {"client", "client", "client", "2"}};
  for (const auto& cert : signed_by_ca) {
    openssl("x509 -req -in " + file(std::string(cert.csr) + ".csr") + " -CA " + ca() + " -CAkey " +
            file("ca.key") + " -CAcreateserial -days " + cert.days + " -extfile " +
            file(std::string(cert.ext) + ".ext") + " -out " +
            file(std::string(cert.name) + ".crt"));
  }
  // A server certificate that is fine in every way except its CA, which clients do not trust.
  openssl("x509 -req -in " + file("server.csr") + " -CA " + other_ca() + " -CAkey " +
          file("other-ca.key") + " -CAcreateserial -days 2 -extfile " + file("server.ext") +
          " -out " + file("other-ca-server.crt"));
  std::ofstream bundle(file("both-cas.crt"));
  bundle << std::ifstream(ca()).rdbuf() << std::ifstream(other_ca()).rdbuf();
}

tls_certificates::~tls_certificates() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void tls_certificates::openssl(const std::string& arguments) const {
  const std::string command = "openssl " + arguments + " >" + file("openssl.log") + " 2>&1";
  if (std::system(command.c_str()) != 0)
    throw std::runtime_error("tls_certificates: failed: " + command);
}

redis_server::options tls_certificates::server_options(server_cert cert, client_auth auth) const {
  const char* names[] = {"server", "expired", "wrong-host"};
  const char* auth_names[] = {"no", "optional", "yes"};
  redis_server::options options;
  options.tls = true;
  options.config = {
      "tls-cert-file " + file(std::string(names[static_cast<int>(cert)]) + ".crt"),
      "tls-key-file " + file("server.key"),
      "tls-ca-cert-file " + ca(),
      std::string("tls-auth-clients ") + auth_names[static_cast<int>(auth)],
  };
  return options;
}

std::vector<std::string> tls_certificates::node_config(bool untrusted) const {
  return {
      "tls-cert-file " + file(untrusted ? "other-ca-server.crt" : "server.crt"),
      "tls-key-file " + file("server.key"),
      // Both CAs: the nodes accept each other (and clients signed by either CA).
      "tls-ca-cert-file " + file("both-cas.crt"),
      "tls-auth-clients yes",
      "tls-replication yes",
  };
}

std::string tls_certificates::url(const redis_server& server) const {
  return "rediss://127.0.0.1:" + std::to_string(server.port()) + "/0?ca=" + ca();
}

}  // namespace corocache::test
