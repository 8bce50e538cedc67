// JWT verification microbenchmarks: what admitting one connection costs the I/O thread that runs
// the hook, per algorithm, and what refusing a forged or unsigned token costs (the work a peer can
// make the server do per attempt). Keys are generated and tokens signed at start-up with OpenSSL
// directly (EVP_PKEY_Q_keygen, EVP_DigestSign), so nothing here is tether's own signing code.
#include <benchmark/benchmark.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include <tether/auth/jwt.hpp>
#include <tether/core/base64.hpp>

namespace {

using tether::auth::jwt_key;

constexpr std::chrono::sys_seconds bench_now{std::chrono::seconds{1700000000}};
constexpr std::string_view secret = "benchmark HS256 secret of 32+ bytes";
constexpr std::string_view claims_json =
    R"({"iss":"https://auth.example","sub":"user-1234","aud":"chat","exp":1700003600,"iat":1700000000,"role":"member"})";

void require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "jwt_bench: %s failed\n", what);
        std::abort();
    }
}

struct keys {
    EVP_PKEY* rsa = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048));
    EVP_PKEY* ec = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    keys() { require(rsa && ec, "key generation"); }
    ~keys() {
        EVP_PKEY_free(rsa);
        EVP_PKEY_free(ec);
    }
};

const keys& the_keys() {
    static const keys k;
    return k;
}

std::string public_pem(EVP_PKEY* key) {
    BIO* bio = BIO_new(BIO_s_mem());
    require(bio && PEM_write_bio_PUBKEY(bio, key) == 1, "PEM_write_bio_PUBKEY");
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return pem;
}

std::string sign(EVP_PKEY* key, std::string_view input) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::size_t n = 0;
    require(ctx && EVP_DigestSignInit_ex(ctx, nullptr, "SHA256", nullptr, nullptr, key, nullptr) == 1 &&
                EVP_DigestSign(ctx, nullptr, &n, reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1,
            "EVP_DigestSignInit_ex");
    std::string sig(n, '\0');
    require(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &n,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1,
            "EVP_DigestSign");
    sig.resize(n);
    EVP_MD_CTX_free(ctx);
    return sig;
}

// ECDSA's DER signature as the 64-byte r || s that ES256 carries (RFC 7518 §3.4).
std::string der_to_p1363(const std::string& der) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
    require(sig != nullptr, "d2i_ECDSA_SIG");
    std::string out(64, '\0');
    auto* o = reinterpret_cast<unsigned char*>(out.data());
    require(BN_bn2binpad(ECDSA_SIG_get0_r(sig), o, 32) == 32 && BN_bn2binpad(ECDSA_SIG_get0_s(sig), o + 32, 32) == 32,
            "BN_bn2binpad");
    ECDSA_SIG_free(sig);
    return out;
}

std::string token(std::string_view alg, std::string_view kid) {
    std::string input = tether::core::base64url_encode(std::string(R"({"alg":")") + std::string(alg) + R"(","kid":")" +
                                                       std::string(kid) + R"("})");
    input += '.';
    input += tether::core::base64url_encode(claims_json);
    std::string sig;
    if (alg == "HS256") {
        unsigned char mac[EVP_MAX_MD_SIZE];
        std::size_t n = 0;
        require(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret.data(), secret.size(),
                          reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, sizeof mac, &n),
                "EVP_Q_mac");
        sig.assign(reinterpret_cast<const char*>(mac), n);
    } else if (alg == "RS256") {
        sig = sign(the_keys().rsa, input);
    } else if (alg == "ES256") {
        sig = der_to_p1363(sign(the_keys().ec, input));
    }
    return input + "." + tether::core::base64url_encode(sig);
}

const tether::auth::jwt_verifier& verifier() {
    static const tether::auth::jwt_verifier v({
        .keys = {jwt_key::hs256(secret, "hs"), jwt_key::rs256(public_pem(the_keys().rsa), "rsa"),
                 jwt_key::es256(public_pem(the_keys().ec), "ec")},
        .issuer = "https://auth.example",
        .audience = "chat",
    });
    return v;
}

void run(benchmark::State& state, const std::string& t, bool expect_ok) {
    const auto& v = verifier();
    require(v.verify(t, bench_now).ok() == expect_ok, "the benchmark's token verifying as expected");
    for (auto _ : state) {
        auto r = v.verify(t, bench_now);
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_jwt_verify_hs256(benchmark::State& state) { run(state, token("HS256", "hs"), true); }
void BM_jwt_verify_rs256(benchmark::State& state) { run(state, token("RS256", "rsa"), true); }
void BM_jwt_verify_es256(benchmark::State& state) { run(state, token("ES256", "ec"), true); }

// Refusals: a forged ES256 signature costs a full verification; "none" and an unknown kid cost
// only the header.
void BM_jwt_refuse_forged_es256(benchmark::State& state) {
    std::string t = token("ES256", "ec");
    t[t.size() - 2] = t[t.size() - 2] == 'A' ? 'B' : 'A';
    run(state, t, false);
}
void BM_jwt_refuse_alg_none(benchmark::State& state) {
    run(state, tether::core::base64url_encode(R"({"alg":"none"})") + "." + tether::core::base64url_encode(claims_json) + ".",
        false);
}

} // namespace

BENCHMARK(BM_jwt_verify_hs256);
BENCHMARK(BM_jwt_verify_rs256);
BENCHMARK(BM_jwt_verify_es256);
BENCHMARK(BM_jwt_refuse_forged_es256);
BENCHMARK(BM_jwt_refuse_alg_none);
