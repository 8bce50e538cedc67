// libFuzzer target for JWT verification (include/tether/auth/): base64url, the JOSE header and
// claims-set readers, the choice of key and the checks after it, with one fixed HS256 key. A
// token is the one thing an unauthenticated peer hands these hooks, so this is a parser like the
// HTTP one. Two kinds of input:
// - "{header JSON}\n{claims JSON}" is signed here with the fixed key, through OpenSSL's one-shot
//   EVP_Q_mac rather than tether's code, then verified: random JSON reaches the claims reader
//   behind a valid signature, which mutated tokens alone would never do;
// - anything else is a token, verified as it is.
// Invariants, beyond not crashing and verify() never throwing:
// - a token over max_token_bytes is too_large, and nothing else is;
// - a token signed here is never a bad signature, and with a readable header whose alg is
//   "HS256" it is neither unknown_key nor alg_not_allowed;
// - an accepted token satisfies what the options demand (exp, nbf with the leeway, iss, aud,
//   required claims), its payload is the signed JSON, and claims() reads it back;
// - base64url is canonical: whatever decodes re-encodes to the same text, and encoding then
//   decoding gives the bytes back;
// - the ES256 r||s to DER conversion gives the DER that OpenSSL itself writes for that r and s
//   (d2i_ECDSA_SIG / i2d_ECDSA_SIG).
#include <tether/auth/jwt.hpp>
#include <tether/http/cookie.hpp>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

constexpr std::string_view secret = "tether fuzz HS256 secret, 32+ bytes long";
constexpr std::chrono::sys_seconds now{std::chrono::seconds{1700000000}};   // fixed, so a crash reproduces

const tether::auth::jwt_verifier& verifier() {
    static const tether::auth::jwt_verifier v({
        .keys = {tether::auth::jwt_key::hs256(secret)},
        .issuer = "https://issuer.test",
        .audience = "chat",
        .leeway = std::chrono::seconds(60),
        .required_claims = {"exp"},
    });
    return v;
}

std::string hs256(std::string_view input) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    std::size_t length = 0;
    check(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret.data(), secret.size(),
                    reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, sizeof mac, &length) != nullptr);
    return std::string(reinterpret_cast<const char*>(mac), length);
}

void check_accepted(const tether::auth::jwt_result& r, std::string_view payload) {
    const auto& o = verifier().options();
    const auto& c = r.claims();
    check(c.exp.has_value() && now < *c.exp + o.leeway);
    check(!c.nbf || now >= *c.nbf - o.leeway);
    check(c.iss == o.issuer);
    bool named = false;
    for (const auto& a : c.aud) named = named || a == o.audience;
    check(named);
    check(c.payload == payload);
    check(c.has("exp") && c.json("exp").has_value() && c.json("iss").has_value());
    try {
        (void)c.get<std::string>("sub");   // any type: a string, or a parse_error saying it is not
    } catch (const tether::json::parse_error&) {
    }
}

void verify_token(std::string_view token, bool signed_here, bool hs256_header) {
    using tether::auth::jwt_error;
    const auto r = verifier().verify(token, now);
    const bool too_large = token.size() > verifier().options().max_token_bytes;
    check((r.error() == jwt_error::too_large) == too_large);
    check(r.ok() == r.message().empty());
    if (signed_here && !too_large) {
        check(r.error() != jwt_error::bad_signature);
        if (hs256_header) check(r.error() != jwt_error::unknown_key && r.error() != jwt_error::alg_not_allowed);
    }
    if (r.ok()) {
        const auto dot1 = token.find('.');
        const auto payload = tether::core::base64url_decode(token.substr(dot1 + 1, token.rfind('.') - dot1 - 1));
        check(payload.has_value());
        check_accepted(r, *payload);
    }
}

void signed_json(std::string_view header, std::string_view payload) {
    std::string token = tether::core::base64url_encode(header);
    token.push_back('.');
    token += tether::core::base64url_encode(payload);
    const std::string mac = hs256(token);
    token.push_back('.');
    token += tether::core::base64url_encode(mac);
    tether::auth::jose_header h;
    const bool hs256_header = tether::auth::detail::parse_jose_header(header, h) == nullptr && h.alg == "HS256";
    verify_token(token, true, hs256_header);
}

void base64url(std::string_view in) {
    if (const auto decoded = tether::core::base64url_decode(in)) check(tether::core::base64url_encode(*decoded) == in);
    check(tether::core::base64url_decode(tether::core::base64url_encode(in)) == std::string(in));
}

void ecdsa_der(const std::uint8_t* data, std::size_t size) {
    unsigned char rs[64];
    for (std::size_t i = 0; i < 64; ++i) rs[i] = size == 0 ? 0 : data[i % size];
    unsigned char der[tether::auth::detail::ecdsa_p256_der_max];
    const std::size_t n = tether::auth::detail::ecdsa_p1363_to_der(rs, der);
    check(n >= 8 && n <= sizeof der);
    const unsigned char* p = der;
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(n));
    check(sig != nullptr && p == der + n);
    unsigned char back[64];
    check(BN_bn2binpad(ECDSA_SIG_get0_r(sig), back, 32) == 32 && BN_bn2binpad(ECDSA_SIG_get0_s(sig), back + 32, 32) == 32);
    check(std::memcmp(back, rs, 64) == 0);
    unsigned char* openssl_der = nullptr;
    const int m = i2d_ECDSA_SIG(sig, &openssl_der);
    check(m == static_cast<int>(n) && std::memcmp(openssl_der, der, n) == 0);
    OPENSSL_free(openssl_der);
    ECDSA_SIG_free(sig);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    if (!in.empty() && in.front() == '{') {
        const auto newline = in.find('\n');
        signed_json(in.substr(0, newline), newline == std::string_view::npos ? std::string_view{} : in.substr(newline + 1));
    } else {
        verify_token(in, false, false);
        if (auto cookie = tether::http::find_cookie(in, "token"))
            check(cookie->data() >= in.data() && cookie->data() + cookie->size() <= in.data() + in.size());
    }
    base64url(in);
    ecdsa_der(data, size);
    return 0;
}
