#pragma once
// Test support for TLS: a throwaway PKI made with the openssl command-line tool at test time (no
// key is ever committed), a blocking TLS client that reads responses like raw_client does, and
// the first bytes of a real ClientHello for tests that truncate or stall one.
//
// Why the CLI for certificates: it is what the README tells users to run, so the tests prove
// those commands produce certificates tether accepts. Why a client on OpenSSL directly rather
// than asio::ssl: the tests look at what the handshake negotiated (version, ALPN, the peer's
// certificate, whether a session was resumed) and limit what the client offers.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_server.hpp"

namespace tether::itest {

// A CA in a temporary directory and the certificates it issues, all ECDSA P-256 (fast to make).
class test_pki {
public:
    struct issued {
        std::string certificate_file, private_key_file;
    };

    test_pki() {
        std::string pattern = (std::filesystem::temp_directory_path() / "tether-pki-XXXXXX").string();
        if (!::mkdtemp(pattern.data())) throw std::runtime_error("test_pki: mkdtemp failed");
        dir_ = pattern;
        run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + path("ca.key") +
            " -out " + path("ca.pem") + " -days 2 -subj '/CN=tether test CA'");
    }
    test_pki(const test_pki&) = delete;
    test_pki& operator=(const test_pki&) = delete;
    ~test_pki() {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }

    std::string ca_file() const { return path("ca.pem"); }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }

    // A certificate for `dns_names` (the first is also its CN) signed by the CA, valid for
    // `days` (negative: already expired). `file` names the pair: file.pem and file.key.
    issued issue(const std::string& file, const std::vector<std::string>& dns_names, int days = 2,
                 const std::string& organization = "tether tests") {
        std::string san = "subjectAltName=IP:127.0.0.1";
        for (const auto& n : dns_names) san += ",DNS:" + n;
        {
            std::ofstream ext(path(file + ".ext"));
            ext << san << "\n";
        }
        run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + path(file + ".key") + " -out " +
            path(file + ".csr") + " -subj '/O=" + organization + "/CN=" + dns_names.front() + "'");
        run("openssl x509 -req -in " + path(file + ".csr") + " -CA " + path("ca.pem") + " -CAkey " + path("ca.key") +
            " -CAcreateserial -out " + path(file + ".pem") + " -days " + std::to_string(days) + " -extfile " +
            path(file + ".ext"));
        return {path(file + ".pem"), path(file + ".key")};
    }

private:
    static void run(const std::string& command) {
        std::string quiet = command + " >/dev/null 2>&1";
        if (std::system(quiet.c_str()) != 0) throw std::runtime_error("test_pki: failed: " + command);
    }
    std::filesystem::path dir_;
};

// Server options for tests, serving `cert` over TLS.
inline server_options tls_defaults(const test_pki::issued& cert) {
    server_options o = basic_test_server<>::defaults();
    o.tls.certificates = {{cert.certificate_file, cert.private_key_file}};
    return o;
}

struct tls_client_options {
    std::string ca_file;
    std::string server_name = "localhost";   // SNI and the name checked
    int min_version = TLS1_2_VERSION, max_version = TLS1_3_VERSION;
    SSL_SESSION* resume = nullptr;            // a session to resume (not owned)
};

// One blocking TLS connection to 127.0.0.1:port; the handshake (with verification against
// ca_file) happens in the constructor, which throws on failure.
class tls_client {
public:
    tls_client(std::uint16_t port, const tls_client_options& o) : tcp_(port) {
        ctx_.reset(SSL_CTX_new(TLS_client_method()));
        SSL_CTX_set_min_proto_version(ctx_.get(), o.min_version);
        SSL_CTX_set_max_proto_version(ctx_.get(), o.max_version);
        SSL_CTX_set_session_cache_mode(ctx_.get(), SSL_SESS_CACHE_CLIENT);
        if (SSL_CTX_load_verify_locations(ctx_.get(), o.ca_file.c_str(), nullptr) != 1)
            throw std::runtime_error("tls_client: cannot load " + o.ca_file);
        SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
        static const unsigned char alpn[] = "\x02h2\x08http/1.1";
        SSL_CTX_set_alpn_protos(ctx_.get(), alpn, sizeof alpn - 1);
        ssl_.reset(SSL_new(ctx_.get()));
        SSL_set_fd(ssl_.get(), tcp_.fd());
        SSL_set_tlsext_host_name(ssl_.get(), o.server_name.c_str());
        SSL_set1_host(ssl_.get(), o.server_name.c_str());
        if (o.resume) SSL_set_session(ssl_.get(), o.resume);
        if (SSL_connect(ssl_.get()) != 1) {
            std::string why = "tls_client: handshake failed: " + errors();
            throw std::runtime_error(why);
        }
    }

    // The server's certificate subject, e.g. "O = tether tests, CN = localhost".
    std::string peer_subject() const {
        X509* cert = SSL_get0_peer_certificate(ssl_.get());
        if (!cert) return {};
        char text[512];
        X509_NAME_oneline(X509_get_subject_name(cert), text, sizeof text);
        return text;
    }
    std::string version() const { return SSL_get_version(ssl_.get()); }
    std::string alpn() const {
        const unsigned char* p = nullptr;
        unsigned n = 0;
        SSL_get0_alpn_selected(ssl_.get(), &p, &n);
        return std::string(reinterpret_cast<const char*>(p), n);
    }
    bool resumed() const { return SSL_session_reused(ssl_.get()) == 1; }
    // The session to resume from later (TLS 1.3 sends it after the handshake: read first).
    SSL_SESSION* session() const { return SSL_get0_session(ssl_.get()); }

    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            std::size_t n = 0;
            if (SSL_write_ex(ssl_.get(), bytes.data(), bytes.size(), &n) != 1) return false;
            bytes.remove_prefix(n);
        }
        return true;
    }

    std::optional<response> read_response(std::chrono::milliseconds timeout = 5s, bool head_request = false) {
        const auto deadline = steady::now() + timeout;
        for (;;) {
            response r;
            std::size_t used = 0;
            switch (parse_response(buffer_, eof_, head_request, r, used)) {
            case parse_result::complete: buffer_.erase(0, used); return r;
            case parse_result::malformed: last_error_ = "malformed response"; return std::nullopt;
            case parse_result::need_more: break;
            }
            if (eof_) {
                last_error_ = "connection closed before a complete response";
                return std::nullopt;
            }
            if (!fill_until(deadline)) {
                last_error_ = "no complete response in time (" + std::to_string(buffer_.size()) + " bytes)";
                return std::nullopt;
            }
        }
    }

    // Reads until the server closes (close_notify or EOF) within `timeout`.
    bool closed_within(std::chrono::milliseconds timeout) {
        const auto deadline = steady::now() + timeout;
        while (!eof_)
            if (!fill_until(deadline)) return false;
        return true;
    }

    const std::string& last_error() const noexcept { return last_error_; }
    SSL* native_handle() const noexcept { return ssl_.get(); }

private:
    bool fill_until(steady::time_point deadline) {
        if (SSL_pending(ssl_.get()) == 0) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
            pollfd p{tcp_.fd(), POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(std::max<long>(0, left.count()))) <= 0) return false;
        }
        char chunk[16 * 1024];
        std::size_t n = 0;
        if (SSL_read_ex(ssl_.get(), chunk, sizeof chunk, &n) == 1) {
            buffer_.append(chunk, n);
            return true;
        }
        int e = SSL_get_error(ssl_.get(), 0);
        ERR_clear_error();
        if (e == SSL_ERROR_WANT_READ) return true;   // a record without application data (a ticket)
        eof_ = true;
        return true;
    }

    static std::string errors() {
        std::string out;
        while (unsigned long e = ERR_get_error()) {
            char text[256];
            ERR_error_string_n(e, text, sizeof text);
            out += text;
            out += "; ";
        }
        return out;
    }

    // A plain blocking TCP connection, with SO_RCVTIMEO/SO_SNDTIMEO as a last guard.
    struct tcp_socket {
        explicit tcp_socket(std::uint16_t port) {
            fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
            timeval guard{10, 0};
            ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof guard);
            ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &guard, sizeof guard);
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_port = htons(port);
            addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
                ::close(fd_);
                throw std::system_error(errno, std::generic_category(), "tls_client: connect");
            }
        }
        ~tcp_socket() { ::close(fd_); }
        int fd() const noexcept { return fd_; }
        int fd_;
    };

    struct ctx_free {
        void operator()(SSL_CTX* c) const noexcept { SSL_CTX_free(c); }
    };
    struct ssl_free {
        void operator()(SSL* s) const noexcept { SSL_free(s); }
    };
    tcp_socket tcp_;
    std::unique_ptr<SSL_CTX, ctx_free> ctx_;
    std::unique_ptr<SSL, ssl_free> ssl_;
    std::string buffer_;
    bool eof_ = false;
    std::string last_error_;
};

// The bytes of a real ClientHello (TLS 1.3, SNI localhost), made by an OpenSSL client writing
// into a memory BIO, for tests that send part of one.
inline std::string client_hello() {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL* ssl = SSL_new(ctx);
    BIO* in = BIO_new(BIO_s_mem());
    BIO* out = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, in, out);
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_connect(ssl);   // writes the ClientHello, then wants to read
    char* data = nullptr;
    long n = BIO_get_mem_data(out, &data);
    std::string hello(data, static_cast<std::size_t>(n));
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return hello;
}

} // namespace tether::itest
