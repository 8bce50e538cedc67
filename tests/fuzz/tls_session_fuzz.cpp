// libFuzzer target for the server side of a TLS connection (include/tether/net/tls/session.hpp):
// the first-byte decision (a TLS record, a plaintext request sent to the TLS port, or neither),
// our BIO feeding OpenSSL from the transport below, the handshake state machine, and the
// read_some contract above it. The bytes are what an unauthenticated peer sends before any
// check of ours, so this is tether's outermost parser when TLS is on.
//
// The input is a peer's byte stream: the first byte picks how the transport below hands it
// out (1 to 255 bytes per read, or everything at once), the rest are the bytes. The transport
// reports would_block when its bytes are used up, then eof, as a socket would; writes (the
// server's handshake messages, alerts) are swallowed.
// Invariants, beyond not crashing, leaking or reading out of bounds:
// - read_some never returns more than asked, and never bytes together with an error;
// - a stream whose first byte is neither 0x16 nor an upper-case letter fails at once (not_tls);
// - one starting with an upper-case letter is passed through unchanged (cleartext());
// - a session that failed stays failed;
// - a write before the handshake completes is refused (handshake_incomplete), never sent in clear.
// The certificate is made here, in memory and then in a temporary directory, at start-up.
#include <tether/net/tls/context.hpp>
#include <tether/net/tls/session.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

// The transport below the session: a socket that hands out the fuzzer's bytes.
struct fuzz_transport {
    struct socket {
        const std::uint8_t* data = nullptr;
        std::size_t size = 0, position = 0, chunk = 0;
        bool eof_reported = false;
    };
    static std::size_t read_some(socket& s, char* out, std::size_t n, std::error_code& ec) {
        if (s.position == s.size) {
            if (!s.eof_reported) {
                s.eof_reported = true;
                ec = asio::error::would_block;   // first: drained for now
            } else {
                ec = asio::error::eof;
            }
            return 0;
        }
        std::size_t take = std::min({n, s.size - s.position, s.chunk});
        std::memcpy(out, s.data + s.position, take);
        s.position += take;
        ec.clear();
        return take;
    }
    template <class ConstBufferSequence>
    static std::size_t write_some(socket&, const ConstBufferSequence& buffers, std::error_code& ec) {
        ec.clear();
        return asio::buffer_size(buffers);
    }
};

// A throwaway P-256 key and self-signed certificate for "localhost", written as PEM files.
std::unique_ptr<tether::net::tls::server_context> make_server_context() {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    check(key && cert);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600L * 24 * 365);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    check(X509_sign(cert, key, EVP_sha256()) > 0);

    char dir_template[] = "/tmp/tether-fuzz-tls-XXXXXX";
    check(mkdtemp(dir_template) != nullptr);
    std::string dir = dir_template, cert_file = dir + "/cert.pem", key_file = dir + "/key.pem";
    FILE* f = std::fopen(cert_file.c_str(), "w");
    check(f && PEM_write_X509(f, cert) == 1);
    std::fclose(f);
    f = std::fopen(key_file.c_str(), "w");
    check(f && PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1);
    std::fclose(f);
    X509_free(cert);
    EVP_PKEY_free(key);

    tether::tls_options options;
    options.certificates = {{cert_file, key_file}};
    auto context = std::make_unique<tether::net::tls::server_context>(options);
    std::remove(cert_file.c_str());
    std::remove(key_file.c_str());
    std::remove(dir.c_str());
    return context;
}

tether::net::tls::server_context& server_context() {
    static auto context = make_server_context();
    return *context;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    fuzz_transport::socket peer;
    peer.chunk = data[0] == 0 ? size : data[0];
    peer.data = data + 1;
    peer.size = size - 1;
    if (peer.size == 0) return 0;
    const std::uint8_t first = peer.data[0];

    using session_type = tether::net::tls::session<fuzz_transport>;
    session_type session(server_context().acquire(), peer);

    char buffer[4096];
    for (int turn = 0; turn < 64 + static_cast<int>(peer.size); ++turn) {
        std::error_code ec;
        std::size_t asked = 1 + turn % sizeof buffer;
        std::size_t n = session.read_some(buffer, asked, ec);
        check(n <= asked);
        check(!(n > 0 && ec));
        if (turn == 0 && first != 0x16 && !(first >= 'A' && first <= 'Z'))
            check(ec == tether::net::tls::make_error_code(tether::net::tls::errc::not_tls));
        if (first >= 'A' && first <= 'Z') {
            check(session.cleartext());
            check(n == 0 || std::memcmp(buffer, peer.data + peer.position - n, n) == 0);
        }
        if (!session.cleartext() && session.handshaking()) {
            std::error_code write_error;
            static constexpr char reply[] = "HTTP/1.1 200 OK\r\n\r\n";
            check(session.write_some(asio::buffer(reply, sizeof reply - 1), write_error) == 0);
            check(write_error == tether::net::tls::make_error_code(tether::net::tls::errc::handshake_incomplete));
        }
        if (ec && ec != asio::error::would_block) {   // the end: it stays the end
            std::error_code again;
            check(session.read_some(buffer, sizeof buffer, again) == 0 && again && again != asio::error::would_block);
            break;
        }
    }
    session.shutdown();
    return 0;
}
