#pragma once
// One key a JWT verifier trusts, bound to the one JWS algorithm it may be used with (RFC 7518 §3):
// an HS256 shared secret, an RS256 RSA public key or an ES256 P-256 public key, each optionally
// named by a key id ("kid", RFC 7515 §4.1.4). This is the only part of tether/auth that needs
// OpenSSL (libcrypto 3, through the EVP interfaces only).
//
// Why the algorithm belongs to the key and not to the token: a verifier that lets the token's
// "alg" header choose how to check the signature can be told "none" (no signature at all), or
// "HS256" for an RSA key, and then checks an HMAC keyed with the public key, which anyone can
// compute (RFC 8725 §2.1, §3.1). Here a key is created as jwt_key::rs256(...) and can only ever
// check RS256 signatures; the header's "alg" must merely agree.
//
// Key sizes follow RFC 7518: an HS256 secret of at least 256 bits (§3.2), an RSA modulus of at
// least 2048 bits (§3.3), the P-256 curve for ES256 (§3.4). A key that breaks them is refused when
// it is created, with std::invalid_argument, never when a token arrives.
//
// Thread safety: a jwt_key is immutable once made and verify_signature() is const; copies share
// the OpenSSL objects, which OpenSSL 3 allows several threads to use at once for verification.
// Each check leaves the thread's OpenSSL error queue as it found it (ERR_set_mark and
// ERR_pop_to_mark), so a rejected token cannot leave an error behind for the TLS code that runs
// next on the same thread to misread.
#if !__has_include(<openssl/evp.h>)
#error "tether/auth/jwt_key.hpp needs OpenSSL 3 (libcrypto): install libssl-dev and link OpenSSL::Crypto"
#endif
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#if OPENSSL_VERSION_MAJOR < 3
#error "tether/auth/jwt_key.hpp needs OpenSSL 3 or later (it uses the EVP_MAC and provider APIs)"
#endif

#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace tether::auth {

// The JWS algorithms a key can verify (RFC 7518 §3.1). "none" is deliberately not one of them.
enum class jwt_alg : std::uint8_t { hs256, rs256, es256 };

// The "alg" header value (RFC 7518 §3.1).
constexpr std::string_view to_string(jwt_alg a) noexcept {
    switch (a) {
    case jwt_alg::hs256: return "HS256";
    case jwt_alg::rs256: return "RS256";
    case jwt_alg::es256: return "ES256";
    }
    return "";
}

namespace detail {

struct openssl_free {
    void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
    void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
    void operator()(EVP_MAC* p) const noexcept { EVP_MAC_free(p); }
    void operator()(EVP_MAC_CTX* p) const noexcept { EVP_MAC_CTX_free(p); }
    void operator()(BIO* p) const noexcept { BIO_free(p); }
};
template <class T>
using openssl_ptr = std::unique_ptr<T, openssl_free>;

// Restores the thread's OpenSSL error queue on scope exit (see the header comment).
class error_queue_mark {
public:
    error_queue_mark() noexcept { ERR_set_mark(); }
    ~error_queue_mark() { ERR_pop_to_mark(); }
    error_queue_mark(const error_queue_mark&) = delete;
    error_queue_mark& operator=(const error_queue_mark&) = delete;
};

// OpenSSL's reason for the newest error on this thread, as ": <reason>", or "".
inline std::string openssl_reason() {
    const unsigned long code = ERR_peek_last_error();
    if (code == 0) return {};
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    return std::string(": ") + text;
}

// RFC 7518 §3.4: an ES256 signature is R || S, two 32-byte big-endian integers. OpenSSL verifies
// the DER form of RFC 3279 §2.2.3, ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }, so the
// pair is re-encoded: each integer loses its leading zero bytes and gains one 0x00 when its top bit
// is set (DER integers are minimal two's complement, X.690 §8.3). At most 2 + 2 * (2 + 33) = 72
// bytes, so every length fits in one byte. Zero or out-of-range r and s are left for OpenSSL to
// refuse. Returns the DER length.
inline constexpr std::size_t ecdsa_p256_der_max = 72;
inline std::size_t ecdsa_p1363_to_der(const unsigned char* rs, unsigned char* out) noexcept {
    const auto integer = [](const unsigned char* v, unsigned char* o) {
        std::size_t skip = 0;
        while (skip < 31 && v[skip] == 0) ++skip;
        const std::size_t pad = (v[skip] & 0x80) != 0 ? 1 : 0;
        const std::size_t length = 32 - skip + pad;
        o[0] = 0x02;
        o[1] = static_cast<unsigned char>(length);
        o[2] = 0;   // overwritten by the value when there is no pad byte
        std::memcpy(o + 2 + pad, v + skip, 32 - skip);
        return 2 + length;
    };
    std::size_t n = 2;
    n += integer(rs, out + n);
    n += integer(rs + 32, out + n);
    out[0] = 0x30;
    out[1] = static_cast<unsigned char>(n - 2);
    return n;
}

inline const unsigned char* bytes(std::string_view s) noexcept { return reinterpret_cast<const unsigned char*>(s.data()); }

inline int no_passphrase(char*, int, int, void*) { return 0; }   // never prompt on a terminal

inline std::string read_key_file(const std::filesystem::path& path, const char* who) {
    constexpr std::uintmax_t max_bytes = 1 << 20;   // a PEM public key is a few KiB
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec || size > max_bytes)
        throw std::invalid_argument(std::string("tether: ") + who + ": cannot read " + path.string() +
                                    (ec ? ": " + ec.message() : std::string(": larger than 1 MiB")));
    std::ifstream in(path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in && !in.eof()) throw std::invalid_argument(std::string("tether: ") + who + ": cannot read " + path.string());
    return text;
}

// The first "-----BEGIN PUBLIC KEY-----" (SubjectPublicKeyInfo, RFC 7468 §13) in `pem`. A private
// key is refused rather than reduced to its public half: a server that only verifies tokens
// should not hold what signs them.
inline openssl_ptr<EVP_PKEY> read_public_key(std::string_view pem, const char* who) {
    error_queue_mark mark;
    if (pem.size() > INT_MAX) throw std::invalid_argument(std::string("tether: ") + who + ": PEM text too large");
    openssl_ptr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) throw std::bad_alloc();
    openssl_ptr<EVP_PKEY> key(PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr));
    if (!key)
        throw std::invalid_argument(std::string("tether: ") + who +
                                    ": expected a PEM public key (-----BEGIN PUBLIC KEY-----)" + openssl_reason());
    return key;
}

} // namespace detail

class jwt_key {
public:
    // HS256 (RFC 7518 §3.2): HMAC SHA-256 with a shared secret of at least 32 bytes.
    static jwt_key hs256(std::string_view secret, std::string kid = {}) {
        if (secret.size() < 32)
            throw std::invalid_argument("tether: jwt_key::hs256: the secret must be at least 32 bytes (RFC 7518 §3.2)");
        detail::error_queue_mark mark;
        auto s = std::make_shared<state>(jwt_alg::hs256, std::move(kid));
        s->secret.assign(secret);
        s->mac.reset(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
        if (!s->mac) throw std::runtime_error("tether: jwt_key::hs256: OpenSSL has no HMAC" + detail::openssl_reason());
        return jwt_key(std::move(s));
    }
    // RS256 (RFC 7518 §3.3): RSASSA-PKCS1-v1_5 with SHA-256, an RSA key of at least 2048 bits.
    static jwt_key rs256(std::string_view public_key_pem, std::string kid = {}) {
        auto key = detail::read_public_key(public_key_pem, "jwt_key::rs256");
        if (!EVP_PKEY_is_a(key.get(), "RSA"))
            throw std::invalid_argument("tether: jwt_key::rs256: the PEM holds no RSA key");
        if (EVP_PKEY_get_bits(key.get()) < 2048)
            throw std::invalid_argument("tether: jwt_key::rs256: the RSA key is shorter than 2048 bits (RFC 7518 §3.3)");
        return from_public_key(jwt_alg::rs256, std::move(key), std::move(kid));
    }
    // ES256 (RFC 7518 §3.4): ECDSA on P-256 with SHA-256.
    static jwt_key es256(std::string_view public_key_pem, std::string kid = {}) {
        auto key = detail::read_public_key(public_key_pem, "jwt_key::es256");
        char group[64] = {};
        std::size_t length = 0;
        if (!EVP_PKEY_is_a(key.get(), "EC") ||
            EVP_PKEY_get_group_name(key.get(), group, sizeof group, &length) != 1 ||
            (std::string_view(group, length) != "prime256v1" && std::string_view(group, length) != "P-256"))
            throw std::invalid_argument("tether: jwt_key::es256: the PEM holds no P-256 key (RFC 7518 §3.4)");
        return from_public_key(jwt_alg::es256, std::move(key), std::move(kid));
    }
    static jwt_key rs256_file(const std::filesystem::path& pem_file, std::string kid = {}) {
        return rs256(detail::read_key_file(pem_file, "jwt_key::rs256_file"), std::move(kid));
    }
    static jwt_key es256_file(const std::filesystem::path& pem_file, std::string kid = {}) {
        return es256(detail::read_key_file(pem_file, "jwt_key::es256_file"), std::move(kid));
    }

    jwt_alg alg() const noexcept { return state_->alg; }
    const std::string& kid() const noexcept { return state_->kid; }

    // Whether `signature` (already base64url-decoded) is this key's signature over
    // `signing_input`, the ASCII "<header>.<payload>" of the compact serialization (RFC 7515 §5.2
    // step 8). Any failure, OpenSSL's included, is "no".
    bool verify_signature(std::string_view signing_input, std::string_view signature) const {
        detail::error_queue_mark mark;
        switch (state_->alg) {
        case jwt_alg::hs256: return verify_hmac(signing_input, signature);
        case jwt_alg::rs256:
            // RFC 8017 §8.2.2 step 1: the signature is exactly as long as the modulus.
            if (signature.size() != static_cast<std::size_t>(EVP_PKEY_get_size(state_->key.get()))) return false;
            return verify_digest(signing_input, detail::bytes(signature), signature.size());
        case jwt_alg::es256: {
            if (signature.size() != 64) return false;
            unsigned char der[detail::ecdsa_p256_der_max];
            const std::size_t n = detail::ecdsa_p1363_to_der(detail::bytes(signature), der);
            return verify_digest(signing_input, der, n);
        }
        }
        return false;
    }

    // The HS256 signature (32 raw bytes, before base64url) over `signing_input`, for a server that
    // issues tokens to its own pages (auth/jwt_issue.hpp). Only a shared secret signs: an RS256 or
    // ES256 jwt_key holds a public key, and std::logic_error says so.
    std::string sign(std::string_view signing_input) const {
        if (state_->alg != jwt_alg::hs256) throw std::logic_error("tether: jwt_key::sign: only an HS256 key (a secret) signs");
        detail::error_queue_mark mark;
        unsigned char mac[EVP_MAX_MD_SIZE];
        if (!hmac(signing_input, mac)) throw std::runtime_error("tether: jwt_key::sign: HMAC failed" + detail::openssl_reason());
        std::string out(reinterpret_cast<const char*>(mac), hmac_size);
        OPENSSL_cleanse(mac, sizeof mac);
        return out;
    }

private:
    struct state {
        state(jwt_alg a, std::string k) : alg(a), kid(std::move(k)) {}
        ~state() { OPENSSL_cleanse(secret.data(), secret.size()); }
        state(const state&) = delete;
        state& operator=(const state&) = delete;

        jwt_alg alg;
        std::string kid;
        std::string secret;                       // HS256
        detail::openssl_ptr<EVP_MAC> mac;         // HS256: the HMAC implementation, fetched once
        detail::openssl_ptr<EVP_PKEY> key;        // RS256, ES256
    };

    explicit jwt_key(std::shared_ptr<const state> s) noexcept : state_(std::move(s)) {}

    static jwt_key from_public_key(jwt_alg alg, detail::openssl_ptr<EVP_PKEY> key, std::string kid) {
        auto s = std::make_shared<state>(alg, std::move(kid));
        s->key = std::move(key);
        return jwt_key(std::move(s));
    }

    static constexpr std::size_t hmac_size = 32;   // SHA-256

    // HMAC-SHA256 of `input` under the secret into `mac` (hmac_size bytes); false on any failure.
    bool hmac(std::string_view input, unsigned char (&mac)[EVP_MAX_MD_SIZE]) const {
        detail::openssl_ptr<EVP_MAC_CTX> ctx(EVP_MAC_CTX_new(state_->mac.get()));
        if (!ctx) return false;
        char digest[] = "SHA256";
        const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0), OSSL_PARAM_construct_end()};
        std::size_t length = 0;
        return EVP_MAC_init(ctx.get(), detail::bytes(state_->secret), state_->secret.size(), params) == 1 &&
               EVP_MAC_update(ctx.get(), detail::bytes(input), input.size()) == 1 &&
               EVP_MAC_final(ctx.get(), mac, &length, EVP_MAX_MD_SIZE) == 1 && length == hmac_size;
    }

    bool verify_hmac(std::string_view input, std::string_view signature) const {
        constexpr std::size_t mac_size = hmac_size;
        if (signature.size() != mac_size) return false;
        unsigned char mac[EVP_MAX_MD_SIZE];
        if (!hmac(input, mac)) return false;
        // Constant time: a comparison that stops at the first wrong byte tells a forger, by its
        // timing, how many leading bytes of a guessed HMAC were right.
        const bool equal = CRYPTO_memcmp(mac, signature.data(), mac_size) == 0;
        OPENSSL_cleanse(mac, sizeof mac);
        return equal;
    }

    bool verify_digest(std::string_view input, const unsigned char* signature, std::size_t signature_size) const {
        detail::openssl_ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
        if (!ctx) return false;
        EVP_PKEY_CTX* pctx = nullptr;   // owned by ctx
        if (EVP_DigestVerifyInit_ex(ctx.get(), &pctx, "SHA256", nullptr, nullptr, state_->key.get(), nullptr) != 1)
            return false;
        if (state_->alg == jwt_alg::rs256 && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0) return false;
        return EVP_DigestVerify(ctx.get(), signature, signature_size, detail::bytes(input), input.size()) == 1;
    }

    std::shared_ptr<const state> state_;
};

} // namespace tether::auth
