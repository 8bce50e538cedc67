#pragma once
// What a listener needs to speak TLS, as plain data: no OpenSSL header is needed to fill it in,
// so server_options can carry it whether or not TLS is compiled in (a server given certificates
// without TLS support says so when it is constructed, instead of failing to compile).
//
// TLS support is optional: CMake defines TETHER_WITH_TLS=1 on the tether target when it finds
// OpenSSL 3 (and the option TETHER_WITH_TLS is on); without CMake, define it yourself and link
// libssl and libcrypto. TETHER_HAS_TLS is what the headers test.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#if defined(TETHER_WITH_TLS) && TETHER_WITH_TLS
#define TETHER_HAS_TLS 1
#else
#define TETHER_HAS_TLS 0
#endif

namespace tether {

// One certificate: a PEM file holding the leaf first and then its intermediates (the chain a
// client needs), and the PEM file of its private key.
struct tls_certificate {
    std::string certificate_file;
    std::string private_key_file;
};

struct tls_options {
    // Empty: the listener is plaintext. The first certificate is the default; the others are
    // chosen by the name a client asks for (SNI, RFC 6066 §3), matched against each
    // certificate's DNS subjectAltNames (or its CN when it has none), wildcards included.
    std::vector<tls_certificate> certificates{};
    // TLS 1.2 cipher list (OpenSSL syntax): ECDHE with AEAD only, the "intermediate" profile
    // most servers use. TLS 1.3 suites are OpenSSL's defaults (all AEAD).
    std::string ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                          "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                          "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
    bool allow_tls1_2 = true;   // false: TLS 1.3 only. Older versions are never offered.
    // Sent as Strict-Transport-Security on every response over TLS (RFC 6797 §6.1), e.g.
    // "max-age=31536000; includeSubDomains". Empty: not sent. Never sent over plaintext (§7.2).
    std::string hsts{};
    // A second, plaintext listener on this port (same host) that answers every request with a
    // redirect to the https URL: 301 for GET and HEAD, 308 otherwise (RFC 9110 §15.4.2, §15.4.9).
    std::optional<std::uint16_t> redirect_port{};
    // Session resumption through stateless tickets (RFC 8446 §4.6.1, RFC 5077). The ticket keys
    // are made once per server and survive reload_certificates(), so resumption keeps working.
    bool session_tickets = true;
};

} // namespace tether
