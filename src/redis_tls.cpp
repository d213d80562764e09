// TLS for rediss:// connections (see redis_tls.hpp).
#include "redis_tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <system_error>

#include <asio/ip/address.hpp>
#include <asio/ssl/error.hpp>

namespace corocache::detail {

redis_tls_layer::redis_tls_layer(redis_socket& socket, asio::ssl::context& context,
                                 const redis_tls_settings& settings, const std::string& host)
    : stream(socket, context),
      deadline(socket.get_executor()),
      name(settings.sni.empty() ? host : settings.sni) {
  SSL* ssl = stream.native_handle();
  asio::error_code not_an_address;
  (void)asio::ip::make_address(name, not_an_address);
  const bool is_address = !not_an_address;
  // SNI carries host names only (RFC 6066); an address is checked against the IP SANs.
  if (!is_address) SSL_set_tlsext_host_name(ssl, name.c_str());
  if (!settings.verify) return;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (is_address) {
    X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    SSL_set1_host(ssl, name.c_str());
  }
}

std::shared_ptr<asio::ssl::context> make_tls_context(const redis_tls_settings& settings,
                                                     std::string& error) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1);
  asio::error_code ec;
  context->set_verify_mode(settings.verify ? asio::ssl::verify_peer : asio::ssl::verify_none);
  if (settings.ca.empty()) {
    context->set_default_verify_paths(ec);
    if (ec) error = "TLS: cannot load the system's trusted CAs: " + ec.message();
  } else if (std::error_code is_dir; std::filesystem::is_directory(settings.ca, is_dir)) {
    context->add_verify_path(settings.ca, ec);
    if (ec) error = "TLS: cannot use the CA directory " + settings.ca + ": " + ec.message();
  } else {
    context->load_verify_file(settings.ca, ec);
    if (ec) error = "TLS: cannot load the CA file " + settings.ca + ": " + ec.message();
  }
  if (!ec && !settings.cert.empty()) {
    context->use_certificate_chain_file(settings.cert, ec);
    if (ec)
      error = "TLS: cannot load the client certificate " + settings.cert + ": " + ec.message();
  }
  if (!ec && !settings.key.empty()) {
    context->use_private_key_file(settings.key, asio::ssl::context::pem, ec);
    if (ec) error = "TLS: cannot load the client key " + settings.key + ": " + ec.message();
  }
  return ec ? nullptr : context;
}

namespace {

// The server's certificate did not verify: say why in the terms of the usual causes.
std::string describe_verify_result(long result, const std::string& name) {
  switch (result) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "the server's certificate has expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "the server's certificate is not valid yet";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "host name mismatch: the server's certificate is not valid for " + name +
             " (sni= sets the name to check)";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return "the server's certificate is signed by an unknown CA (ca= names the CAs to trust)";
    default:
      return std::string("the server's certificate failed verification: ") +
             X509_verify_cert_error_string(result);
  }
}

bool is_certificate_alert(int reason) {
  switch (reason) {
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string describe_tls_failure(const asio::error_code& ec, const redis_tls_layer& tls,
                                 const redis_tls_settings& settings) {
  SSL* ssl = const_cast<redis_tls_layer&>(tls).stream.native_handle();
  if (settings.verify) {
    const long result = SSL_get_verify_result(ssl);
    if (result != X509_V_OK) return describe_verify_result(result, tls.name);
  }
  if (ec.category() == asio::error::get_ssl_category()) {
    const int reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
    if (is_certificate_alert(reason)) {
      return std::string("the server refused the client certificate (") +
             (settings.cert.empty() ? "none was given: set cert= and key=" : ec.message()) + ")";
    }
    if (reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_PACKET_LENGTH_TOO_LONG ||
        reason == SSL_R_UNKNOWN_PROTOCOL) {
      return "the server does not speak TLS (a plain redis:// port?): " + ec.message();
    }
    return "TLS error: " + ec.message();
  }
  if (ec == asio::ssl::error::stream_truncated || ec == asio::error::eof)
    return "the server closed the connection during the TLS handshake";
  return "TLS: " + ec.message();
}

std::string describe_tls_timeout(std::chrono::milliseconds limit) {
  return "no answer to the TLS handshake within " + std::to_string(limit.count()) +
         "ms: the server does not speak TLS (a plain redis:// port?) or does not answer";
}

}  // namespace corocache::detail
