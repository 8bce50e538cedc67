#pragma once
// The server's TLS configuration as OpenSSL contexts (SSL_CTX), built from tls_options, and
// swapped whole when the certificates are reloaded.
//
// Why one SSL_CTX per certificate rather than one context with several keys: SNI (RFC 6066 §3)
// picks a certificate per connection, and OpenSSL's way to switch is SSL_set_SSL_CTX from the
// servername callback. Every context gets the same settings (versions, ciphers, ALPN, ticket
// keys), so nothing depends on which one a connection ends up on.
//
// Reload (any thread): a new generation of contexts is built from the files first; only if that
// succeeds does it replace the current one, under a mutex taken once per accepted TLS
// connection (a handshake costs far more than an uncontended lock). A connection holds a
// reference to the context it was created with (SSL_new counts it), so connections that are
// open keep their certificate and new ones get the new one. The session ticket keys are made
// once per server_context and installed on every generation: a ticket issued before a reload
// still resumes after it.
//
// Startup errors say which file and what is wrong: a file that cannot be read, a private key
// that does not match its certificate, a certificate that has expired or is not yet valid.
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <tether/net/tls_options.hpp>

namespace tether::net::tls {

// The configuration cannot be used; what() names the file and the reason.
class configuration_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct ctx_deleter {
    void operator()(SSL_CTX* c) const noexcept { SSL_CTX_free(c); }
};
// Owns one reference to an SSL_CTX.
using ctx_ptr = std::unique_ptr<SSL_CTX, ctx_deleter>;

// OpenSSL's queued errors as one line (and the queue emptied): the first reason is the cause.
inline std::string take_openssl_errors() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char text[256];
        ERR_error_string_n(e, text, sizeof text);
        if (!out.empty()) out += "; ";
        out += text;
    }
    return out.empty() ? std::string("unknown OpenSSL error") : out;
}

namespace detail {

// A PEM file we are about to give OpenSSL: a missing or unreadable file is the commonest
// mistake, and OpenSSL's own message for it ("system library") hides the path.
inline void check_readable(const std::string& path, std::string_view what) {
    if (path.empty()) throw configuration_error("tether: TLS " + std::string(what) + " file not given");
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw configuration_error("tether: cannot read TLS " + std::string(what) + " file '" + path + "': " + std::strerror(errno));
    std::fclose(f);
}

inline std::string asn1_time_text(const ASN1_TIME* t) {
    BIO* mem = BIO_new(BIO_s_mem());
    if (!mem) return "?";
    ASN1_TIME_print(mem, t);
    char* data = nullptr;
    long n = BIO_get_mem_data(mem, &data);
    std::string text(data, static_cast<std::size_t>(n > 0 ? n : 0));
    BIO_free(mem);
    return text;
}

// The DNS names a certificate is for: its subjectAltName dNSNames, else its subject CN (the
// fallback RFC 6125 §6.4.4 allows).
inline std::vector<std::string> certificate_names(X509* cert) {
    std::vector<std::string> names;
    auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    if (sans) {
        for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
            const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
            if (n->type != GEN_DNS) continue;
            const ASN1_STRING* s = n->d.dNSName;
            names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                               static_cast<std::size_t>(ASN1_STRING_length(s)));
        }
        GENERAL_NAMES_free(sans);
    }
    if (names.empty()) {
        X509_NAME* subject = X509_get_subject_name(cert);
        int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
        if (at >= 0) {
            const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
            names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                               static_cast<std::size_t>(ASN1_STRING_length(s)));
        }
    }
    return names;
}

inline bool iequal(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

// RFC 6125 §6.4.3: a wildcard stands for exactly one whole left-most label.
inline bool name_matches(std::string_view pattern, std::string_view host) noexcept {
    if (pattern.starts_with("*.")) {
        auto dot = host.find('.');
        return dot != std::string_view::npos && dot != 0 && iequal(pattern.substr(1), host.substr(dot));
    }
    return iequal(pattern, host);
}

// The contexts chosen by SNI, owned by the default context of the same generation (its
// ex_data), so they live exactly as long as any connection that may still switch to them.
struct sni_table {
    struct entry {
        ctx_ptr ctx;
        std::vector<std::string> names;
    };
    std::vector<entry> entries;
};

inline int sni_index() {
    static const int index = SSL_CTX_get_ex_new_index(
        0, nullptr, nullptr, nullptr, [](void*, void* table, CRYPTO_EX_DATA*, int, long, void*) {
            delete static_cast<sni_table*>(table);
        });
    return index;
}

inline int on_server_name(SSL* ssl, int*, void*) {
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name) return SSL_TLSEXT_ERR_NOACK;   // no SNI: the default certificate
    auto* table = static_cast<sni_table*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), sni_index()));
    if (table)
        for (auto& e : table->entries)
            for (const auto& n : e.names)
                if (name_matches(n, name)) {
                    SSL_set_SSL_CTX(ssl, e.ctx.get());
                    return SSL_TLSEXT_ERR_OK;
                }
    return SSL_TLSEXT_ERR_OK;   // an unknown name gets the default certificate, as nginx does
}

// ALPN (RFC 7301): we speak http/1.1 and say so, so that HTTP/2 can be added later without
// clients guessing. A client that offers only other protocols gets no ALPN answer (§3.2 would
// allow a fatal alert; plain HTTP/1.1 is the more useful outcome).
inline int on_alpn(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* offered,
                   unsigned offered_length, void*) {
    static const unsigned char ours[] = "\x08http/1.1";
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, out_length, ours, sizeof ours - 1, offered, offered_length) ==
        OPENSSL_NPN_NEGOTIATED) {
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

using ticket_keys = std::array<unsigned char, 80>;   // name 16, HMAC 32, AES 32 (OpenSSL's layout)

// One context with every shared setting and one certificate.
inline ctx_ptr make_context(const tls_options& o, const tls_certificate& cert, const ticket_keys& keys,
                            std::vector<std::string>& names) {
    ctx_ptr ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx) throw configuration_error("tether: cannot create a TLS context: " + take_openssl_errors());
    SSL_CTX* c = ctx.get();
    SSL_CTX_set_min_proto_version(c, o.allow_tls1_2 ? TLS1_2_VERSION : TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
    if (SSL_CTX_set_cipher_list(c, o.ciphers.c_str()) != 1)
        throw configuration_error("tether: TLS cipher list '" + o.ciphers + "' selects nothing: " + take_openssl_errors());
    // No renegotiation (a DoS lever and a history of attacks; RFC 8446 dropped it), no
    // compression (CRIME), and a peer that drops TCP without close_notify is just EOF: HTTP
    // framing, not TLS, tells a complete message from a truncated one.
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF |
                               (o.session_tickets ? 0 : SSL_OP_NO_TICKET));
    // Record buffers are freed whenever they empty (an idle connection holds none); writes
    // return after each record, and a retried write may come from another address (our output
    // queues move): net/tls/session.hpp relies on all three.
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // Read ahead: a read asks the socket for a whole buffer, not 5 header bytes and then the
    // record, so one system call brings every record that has arrived.
    SSL_CTX_set_read_ahead(c, 1);
    // Resumption is by stateless tickets only: no per-session memory in the server.
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    static const unsigned char id_context[] = "tether";
    SSL_CTX_set_session_id_context(c, id_context, sizeof id_context - 1);
    if (o.session_tickets) {
        auto copy = keys;   // the macro takes a non-const pointer
        SSL_CTX_set_tlsext_ticket_keys(c, copy.data(), static_cast<long>(copy.size()));
        SSL_CTX_set_num_tickets(c, 1);   // one per handshake: a browser resumes with one
    } else {
        SSL_CTX_set_num_tickets(c, 0);
    }
    SSL_CTX_set_alpn_select_cb(c, on_alpn, nullptr);

    check_readable(cert.certificate_file, "certificate");
    check_readable(cert.private_key_file, "private key");
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(c, cert.certificate_file.c_str()) != 1)
        throw configuration_error("tether: cannot load TLS certificate chain '" + cert.certificate_file +
                                  "' (PEM expected): " + take_openssl_errors());
    if (SSL_CTX_use_PrivateKey_file(c, cert.private_key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
        unsigned long e = ERR_peek_last_error();
        std::string why = take_openssl_errors();
        if (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
            throw configuration_error("tether: TLS private key '" + cert.private_key_file +
                                      "' does not match certificate '" + cert.certificate_file + "'");
        throw configuration_error("tether: cannot load TLS private key '" + cert.private_key_file + "' (PEM expected): " + why);
    }
    if (SSL_CTX_check_private_key(c) != 1) {
        ERR_clear_error();
        throw configuration_error("tether: TLS private key '" + cert.private_key_file + "' does not match certificate '" +
                                  cert.certificate_file + "'");
    }
    X509* leaf = SSL_CTX_get0_certificate(c);
    if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0)
        throw configuration_error("tether: TLS certificate '" + cert.certificate_file + "' expired on " +
                                  asn1_time_text(X509_get0_notAfter(leaf)));
    if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0)
        throw configuration_error("tether: TLS certificate '" + cert.certificate_file + "' is not valid before " +
                                  asn1_time_text(X509_get0_notBefore(leaf)));
    names = certificate_names(leaf);
    return ctx;
}

} // namespace detail

// The contexts a server's TLS listener hands out. Thread-safe.
class server_context {
public:
    // Loads every certificate; throws configuration_error naming the file on any problem.
    explicit server_context(tls_options options) : options_(std::move(options)) {
        if (options_.certificates.empty()) throw configuration_error("tether: TLS needs at least one certificate");
        if (RAND_bytes(ticket_keys_.data(), static_cast<int>(ticket_keys_.size())) != 1)
            throw configuration_error("tether: no randomness for TLS ticket keys: " + take_openssl_errors());
        current_ = build();
    }
    server_context(const server_context&) = delete;
    server_context& operator=(const server_context&) = delete;
    ~server_context() { OPENSSL_cleanse(ticket_keys_.data(), ticket_keys_.size()); }

    // A new reference to the current default context, for one new connection.
    ctx_ptr acquire() const {
        std::lock_guard lock(mutex_);
        SSL_CTX_up_ref(current_.get());
        return ctx_ptr(current_.get());
    }

    // Reads the files again. On failure throws configuration_error and keeps serving the
    // certificates it had.
    void reload() {
        ctx_ptr next = build();
        std::lock_guard lock(mutex_);
        current_.swap(next);
    }

    const tls_options& options() const noexcept { return options_; }

private:
    ctx_ptr build() const {
        std::vector<std::string> names;
        ctx_ptr first = detail::make_context(options_, options_.certificates.front(), ticket_keys_, names);
        if (options_.certificates.size() > 1) {
            auto table = std::make_unique<detail::sni_table>();
            for (std::size_t i = 1; i < options_.certificates.size(); ++i) {
                detail::sni_table::entry e;
                e.ctx = detail::make_context(options_, options_.certificates[i], ticket_keys_, e.names);
                table->entries.push_back(std::move(e));
            }
            if (SSL_CTX_set_ex_data(first.get(), detail::sni_index(), table.get()) != 1)
                throw configuration_error("tether: cannot attach the SNI table: " + take_openssl_errors());
            table.release();   // owned by `first` now (freed with it)
            SSL_CTX_set_tlsext_servername_callback(first.get(), detail::on_server_name);
        }
        return first;
    }

    tls_options options_;
    detail::ticket_keys ticket_keys_{};
    mutable std::mutex mutex_;
    ctx_ptr current_;
};

} // namespace tether::net::tls
