// JWT verification (include/tether/auth/): every token and key here was made at test time without
// tether's code, by auth_jwt_fixtures.sh (keys from `openssl genpkey`, tokens signed by node's
// crypto module), and is verified as of a fixed NOW. Also: where tokens come from in a request
// (Authorization, cookie, query), the require_jwt hook called directly, and the same hook on a
// running server's SSE and WebSocket routes.
#include <catch2/catch.hpp>

#include <openssl/err.h>

#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <tether/auth/jwt.hpp>
#include <tether/auth/jwt_issue.hpp>
#include <tether/auth/token_source.hpp>
#include <tether/http/parser.hpp>

#include "../integration/test_server.hpp"

using namespace std::chrono_literals;
using tether::auth::jwt_error;
using tether::auth::jwt_key;
using tether::auth::jwt_options;
using tether::auth::jwt_verifier;

namespace {

constexpr std::chrono::sys_seconds jwt_now{std::chrono::seconds{1700000000}};   // NOW in auth_jwt_mint.mjs

// The fixture directory: $TETHER_JWT_FIXTURES when ctest's fixture step made it, otherwise (the
// binary started by hand) a temporary directory this process fills once with the same script.
class fixtures {
public:
    static const fixtures& get() {
        static const fixtures f;
        return f;
    }
    std::string file(std::string_view name) const {
        std::ifstream in(dir_ / name, std::ios::binary);
        if (!in) throw std::runtime_error("missing JWT fixture " + (dir_ / name).string());
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    }
    std::string token(std::string_view name) const { return file("tokens/" + std::string(name) + ".jwt"); }
    std::filesystem::path path(std::string_view name) const { return dir_ / name; }

    fixtures(const fixtures&) = delete;
    fixtures& operator=(const fixtures&) = delete;

private:
    fixtures() {
        if (const char* dir = std::getenv("TETHER_JWT_FIXTURES"); dir && std::filesystem::exists(std::filesystem::path(dir) / "tokens")) {
            dir_ = dir;
            return;
        }
        char pattern[] = "/tmp/tether-jwt-XXXXXX";
        if (!::mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
        dir_ = pattern;
        owned_ = true;
        const std::string command = std::string("bash '") + TETHER_JWT_FIXTURE_SCRIPT + "' '" + dir_.string() + "' >&2";
        if (std::system(command.c_str()) != 0) throw std::runtime_error("making JWT fixtures failed: " + command);
    }
    ~fixtures() {
        std::error_code ec;
        if (owned_) std::filesystem::remove_all(dir_, ec);
    }

    std::filesystem::path dir_;
    bool owned_ = false;
};

std::string token(std::string_view name) { return fixtures::get().token(name); }
std::string pem(std::string_view name) { return fixtures::get().file(name); }

jwt_key hs_key(std::string kid = {}) { return jwt_key::hs256(pem("hs.secret"), std::move(kid)); }
jwt_key rsa_key() { return jwt_key::rs256(pem("rsa.pub"), "rsa-1"); }
jwt_key ec_key() { return jwt_key::es256(pem("ec.pub"), "ec-1"); }

// What the tokens were minted for: issuer https://auth.test, audience chat; the HS256 key has no
// kid, so it checks tokens with any kid or none.
jwt_options standard_options() {
    return {.keys = {hs_key(), rsa_key(), ec_key()}, .issuer = "https://auth.test", .audience = "chat"};
}

jwt_error error_of(const jwt_verifier& v, const std::string& t, std::chrono::sys_seconds now = jwt_now) {
    return v.verify(t, now).error();
}
jwt_error error_of(const std::string& t) { return error_of(jwt_verifier(standard_options()), t); }

// A request parsed from raw bytes, the way the server gets it.
class parsed_request {
public:
    explicit parsed_request(std::string head) : bytes_(std::move(head)) {
        REQUIRE(parser_.parse(bytes_, request_) == tether::http::parse_status::complete);
    }
    parsed_request(const parsed_request&) = delete;   // request_ holds views into bytes_
    parsed_request& operator=(const parsed_request&) = delete;
    const tether::http::request& operator*() const noexcept { return request_; }

private:
    std::string bytes_;
    tether::http::request_parser parser_;
    tether::http::request request_;
};

parsed_request get(std::string_view target, std::string_view fields = {}) {
    std::string head = "GET ";
    head.append(target).append(" HTTP/1.1\r\nHost: x\r\n").append(fields).append("\r\n");
    return parsed_request(std::move(head));
}

} // namespace

// ---- valid tokens ----------------------------------------------------------------------------

TEST_CASE("jwt: a valid HS256 token gives its registered claims") {
    const auto result = jwt_verifier(standard_options()).verify(token("hs256"), jwt_now);
    REQUIRE(result.ok());
    CHECK(result.message().empty());
    const auto& c = result.claims();
    CHECK(c.iss == "https://auth.test");
    CHECK(c.sub == "alice");
    CHECK(c.aud == std::vector<std::string>{"chat"});
    CHECK(c.exp == jwt_now + 600s);
    CHECK(c.nbf == jwt_now - 60s);
    CHECK(c.iat == jwt_now - 60s);
    CHECK(c.jti == "t-1");
    CHECK(c.kid.empty());
}

TEST_CASE("jwt: any other claim is read typed or as raw JSON") {
    const auto result = jwt_verifier(standard_options()).verify(token("hs256"), jwt_now);
    REQUIRE(result.ok());
    const auto& c = result.claims();
    CHECK(c.get<std::string>("role") == "admin");
    CHECK(c.get<std::string>("name") == "Ada \xc3\xa9\xc3\xa8 \xf0\x9f\x98\x80");
    CHECK(c.get<std::int64_t>("exp") == 1700000600);
    CHECK(c.json("scope") == R"(["read","write"])");
    CHECK(c.json("meta") == R"({"plan":"pro","limits":{"rps":5}})");
    CHECK(c.json("sub") == R"("alice")");
    CHECK(c.has("role"));
    CHECK_FALSE(c.has("admin"));
    CHECK_FALSE(c.get<std::string>("missing"));
    CHECK_FALSE(c.json("missing"));
    CHECK_THROWS_AS(c.get<int>("role"), tether::json::parse_error);   // exists, but is a string
    CHECK(c.payload.find("\"role\":\"admin\"") != std::string::npos);
}

TEST_CASE("jwt: a valid RS256 token verifies with the RSA public key its kid names") {
    const auto result = jwt_verifier(standard_options()).verify(token("rs256"), jwt_now);
    REQUIRE(result.ok());
    CHECK(result.claims().kid == "rsa-1");
    CHECK(result.claims().sub == "alice");
}

TEST_CASE("jwt: a valid ES256 token verifies: its signature is the raw 64-byte r||s (RFC 7518 section 3.4)") {
    const auto result = jwt_verifier(standard_options()).verify(token("es256"), jwt_now);
    REQUIRE(result.ok());
    CHECK(result.claims().kid == "ec-1");
}

TEST_CASE("jwt: keys load from PEM files too") {
    jwt_verifier v({.keys = {jwt_key::rs256_file(fixtures::get().path("rsa.pub"), "rsa-1"),
                             jwt_key::es256_file(fixtures::get().path("ec.pub"), "ec-1")},
                    .issuer = "https://auth.test",
                    .audience = "chat"});
    CHECK(v.verify(token("rs256"), jwt_now).ok());
    CHECK(v.verify(token("es256"), jwt_now).ok());
}

// ---- signatures and keys ---------------------------------------------------------------------

TEST_CASE("jwt: a token signed by another key has a bad signature") {
    CHECK(error_of(token("hs256_other_secret")) == jwt_error::bad_signature);
    CHECK(error_of(token("rs256_other_key")) == jwt_error::bad_signature);
    CHECK(error_of(token("es256_other_key")) == jwt_error::bad_signature);
}

TEST_CASE("jwt: an ES256 signature in DER form is refused, only r||s is ES256") {
    const auto result = jwt_verifier(standard_options()).verify(token("es256_der_signature"), jwt_now);
    CHECK(result.error() == jwt_error::bad_signature);
    CHECK(result.message() == "token signature does not verify");
}

TEST_CASE("jwt: a tampered payload breaks the signature") {
    for (const char* name : {"hs256_tampered", "rs256_tampered", "es256_tampered"}) {
        INFO(name);
        CHECK(error_of(token(name)) == jwt_error::bad_signature);
    }
}

TEST_CASE("jwt: the key decides the algorithm: an HS256 token keyed with the RSA public key is refused") {
    jwt_verifier rsa_only({.keys = {rsa_key()}, .issuer = "https://auth.test", .audience = "chat"});
    REQUIRE(rsa_only.verify(token("rs256"), jwt_now).ok());
    CHECK(error_of(rsa_only, token("hs256_keyed_with_rsa_public_key")) == jwt_error::alg_not_allowed);
    CHECK(error_of(rsa_only, token("hs256_keyed_with_rsa_public_key_kid")) == jwt_error::alg_not_allowed);
    // With an HS256 key configured as well (without a kid, so it checks any kid), the token reaches
    // that key, whose secret it does not know: still refused, now as a bad signature.
    CHECK(error_of(token("hs256_keyed_with_rsa_public_key")) == jwt_error::bad_signature);
    CHECK(error_of(token("hs256_keyed_with_rsa_public_key_kid")) == jwt_error::bad_signature);
}

TEST_CASE("jwt: alg none is never accepted, however it is spelled") {
    CHECK(error_of(token("none")) == jwt_error::alg_not_allowed);
    CHECK(error_of(token("none_capitalized")) == jwt_error::alg_not_allowed);
    const auto result = jwt_verifier(standard_options()).verify(token("none"), jwt_now);
    CHECK(result.message() == "token algorithm not allowed");
    CHECK_THROWS_AS(result.claims(), std::logic_error);
}

TEST_CASE("jwt: a kid that names no key is refused, and a key without a kid checks any kid") {
    CHECK(error_of(token("rs256_unknown_kid")) == jwt_error::unknown_key);   // rsa-9: the HS256 key has no kid,
                                                                             // but it is not an RS256 key
    jwt_verifier rsa_only({.keys = {rsa_key()}, .issuer = "https://auth.test", .audience = "chat"});
    CHECK(error_of(rsa_only, token("rs256_unknown_kid")) == jwt_error::unknown_key);
    CHECK(error_of(token("hs256_with_kid")) == jwt_error::none);   // kid "some-kid", kid-less HS256 key
    jwt_verifier named({.keys = {hs_key("hs-1")}, .issuer = "https://auth.test", .audience = "chat"});
    CHECK(error_of(named, token("hs256_with_kid")) == jwt_error::unknown_key);
    CHECK(error_of(named, token("hs256")) == jwt_error::none);   // no kid: every HS256 key may check it
}

TEST_CASE("jwt: a token without a kid is checked by each key of its algorithm in turn (rotation)") {
    jwt_verifier rotating({.keys = {jwt_key::hs256(pem("hs2.secret"), "old"), hs_key("new")},
                           .issuer = "https://auth.test",
                           .audience = "chat"});
    CHECK(rotating.verify(token("hs256"), jwt_now).ok());
    CHECK(error_of(rotating, token("hs256_other_secret")) == jwt_error::none);
}

TEST_CASE("jwt: keys are checked when they are made, never when a token arrives") {
    ERR_clear_error();
    CHECK_THROWS_AS(jwt_key::hs256("31 bytes is one byte too short!"), std::invalid_argument);
    CHECK_NOTHROW(jwt_key::hs256("32 bytes is just long enough, ok"));
    CHECK_THROWS_AS(jwt_key::rs256(pem("rsa1024.pub")), std::invalid_argument);   // RFC 7518 §3.3
    CHECK_THROWS_AS(jwt_key::rs256(pem("ec.pub")), std::invalid_argument);
    CHECK_THROWS_AS(jwt_key::es256(pem("ec384.pub")), std::invalid_argument);     // RFC 7518 §3.4: P-256
    CHECK_THROWS_AS(jwt_key::es256(pem("rsa.pub")), std::invalid_argument);
    CHECK_THROWS_AS(jwt_key::es256(pem("ed25519.pub")), std::invalid_argument);
    CHECK_THROWS_AS(jwt_key::rs256(pem("rsa.key")), std::invalid_argument);       // a private key
    CHECK_THROWS_AS(jwt_key::rs256("not a key"), std::invalid_argument);
    CHECK_THROWS_AS(jwt_key::rs256_file(fixtures::get().path("no-such.pub")), std::invalid_argument);
    CHECK_THROWS_AS(jwt_verifier(jwt_options{}), std::invalid_argument);          // no keys
    CHECK_THROWS_WITH(jwt_key::es256(pem("ec384.pub")), Catch::Contains("P-256"));
    CHECK(ERR_peek_error() == 0);   // the failed loads left no OpenSSL error behind
}

TEST_CASE("jwt: a verification leaves the thread's OpenSSL error queue as it found it") {
    ERR_clear_error();
    ERR_raise_data(ERR_LIB_USER, 42, "sentinel");
    const jwt_verifier v(standard_options());
    CHECK(error_of(v, token("rs256_other_key")) == jwt_error::bad_signature);
    CHECK(error_of(v, token("es256_other_key")) == jwt_error::bad_signature);
    CHECK(error_of(v, token("es256_der_signature")) == jwt_error::bad_signature);
    CHECK(ERR_GET_REASON(ERR_get_error()) == 42);
    CHECK(ERR_get_error() == 0);
}

TEST_CASE("jwt: an ES256 r||s pair becomes the minimal DER of X.690") {
    unsigned char rs[64] = {};
    unsigned char der[tether::auth::detail::ecdsa_p256_der_max];
    SECTION("top bit set: a 0x00 byte keeps the integer positive") {
        for (int i = 0; i < 64; ++i) rs[i] = 0x80;
        REQUIRE(tether::auth::detail::ecdsa_p1363_to_der(rs, der) == 72);
        CHECK(der[0] == 0x30);
        CHECK(der[1] == 70);
        CHECK((der[2] == 0x02 && der[3] == 33 && der[4] == 0x00 && der[5] == 0x80));
        CHECK((der[37] == 0x02 && der[38] == 33 && der[39] == 0x00 && der[40] == 0x80));
    }
    SECTION("leading zero bytes are dropped, and zero stays one byte") {
        rs[31] = 0x05;                          // r = 5
        rs[33] = 0x7f;                          // s = 0x7f followed by 30 bytes of 0x01
        for (int i = 34; i < 64; ++i) rs[i] = 0x01;
        const std::size_t n = tether::auth::detail::ecdsa_p1363_to_der(rs, der);
        REQUIRE(n == 2 + 3 + 2 + 31);
        CHECK((der[2] == 0x02 && der[3] == 1 && der[4] == 0x05));
        CHECK((der[5] == 0x02 && der[6] == 31 && der[7] == 0x7f && der[8] == 0x01));
        for (auto& b : rs) b = 0;
        REQUIRE(tether::auth::detail::ecdsa_p1363_to_der(rs, der) == 8);   // r = s = 0: OpenSSL's to refuse
        CHECK((der[2] == 0x02 && der[3] == 1 && der[4] == 0x00));
    }
}

// ---- time ------------------------------------------------------------------------------------

TEST_CASE("jwt: exp is checked with the leeway, and now must be before exp (RFC 7519 section 4.1.4)") {
    auto with_leeway = [](std::chrono::seconds leeway) {
        auto o = standard_options();
        o.leeway = leeway;
        return jwt_verifier(o);
    };
    const auto result = with_leeway(30s).verify(token("expired"), jwt_now);   // exp = NOW - 100
    CHECK(result.error() == jwt_error::expired);
    CHECK(result.message() == "token expired");
    CHECK(error_of(with_leeway(120s), token("expired")) == jwt_error::none);
    CHECK(error_of(with_leeway(0s), token("exp_now")) == jwt_error::expired);
    CHECK(error_of(with_leeway(0s), token("exp_now_plus_1")) == jwt_error::none);
    CHECK(error_of(with_leeway(0s), token("exp_fraction")) == jwt_error::expired);   // NOW + 0.5 counts as NOW
    CHECK(error_of(with_leeway(0s), token("exp_now_plus_1"), jwt_now + 1s) == jwt_error::expired);
    CHECK_THROWS_AS(with_leeway(-1s), std::invalid_argument);
}

TEST_CASE("jwt: nbf is checked with the leeway (RFC 7519 section 4.1.5)") {
    auto with_leeway = [](std::chrono::seconds leeway) {
        auto o = standard_options();
        o.leeway = leeway;
        return jwt_verifier(o);
    };
    const auto result = with_leeway(30s).verify(token("nbf_future"), jwt_now);   // nbf = NOW + 100
    CHECK(result.error() == jwt_error::not_yet_valid);
    CHECK(result.message() == "token not yet valid");
    CHECK(error_of(with_leeway(120s), token("nbf_future")) == jwt_error::none);
    CHECK(error_of(with_leeway(30s), token("nbf_future"), jwt_now + 70s) == jwt_error::none);
    CHECK(error_of(with_leeway(0s), token("nbf_fraction")) == jwt_error::not_yet_valid);   // NOW + 0.5 counts as NOW + 1
    CHECK(error_of(with_leeway(0s), token("nbf_fraction"), jwt_now + 1s) == jwt_error::none);
}

TEST_CASE("jwt: the real clock is used when no time is given") {
    const jwt_verifier v(standard_options());
    CHECK(v.verify(token("live")).ok());
    CHECK(v.verify(token("live_expired")).error() == jwt_error::expired);
    CHECK(v.verify(token("hs256")).error() == jwt_error::expired);   // minted for NOW, in 2023
}

// ---- issuer, audience, required claims -------------------------------------------------------

TEST_CASE("jwt: the issuer must match exactly") {
    const auto result = jwt_verifier(standard_options()).verify(token("other_issuer"), jwt_now);
    CHECK(result.error() == jwt_error::wrong_issuer);
    CHECK(result.message() == "token issuer not accepted");
    CHECK(error_of(token("issuer_case")) == jwt_error::wrong_issuer);   // StringOrURI: case-sensitive
    CHECK(error_of(token("no_issuer")) == jwt_error::wrong_issuer);
    auto any_issuer = standard_options();
    any_issuer.issuer.clear();
    CHECK(error_of(jwt_verifier(any_issuer), token("other_issuer")) == jwt_error::none);
}

TEST_CASE("jwt: the audience must name the verifier, as a string or in an array (RFC 7519 section 4.1.3)") {
    CHECK(error_of(token("aud_array")) == jwt_error::none);
    const auto result = jwt_verifier(standard_options()).verify(token("aud_array_other"), jwt_now);
    CHECK(result.error() == jwt_error::wrong_audience);
    CHECK(result.message() == "token audience not accepted");
    CHECK(error_of(token("no_aud")) == jwt_error::wrong_audience);
    CHECK(error_of(token("aud_empty_array")) == jwt_error::malformed);
    CHECK(error_of(token("aud_number")) == jwt_error::malformed);

    auto no_audience = standard_options();
    no_audience.audience.clear();
    const jwt_verifier anonymous(no_audience);
    CHECK(error_of(anonymous, token("no_aud")) == jwt_error::none);
    CHECK(error_of(anonymous, token("hs256")) == jwt_error::wrong_audience);   // minted for "chat": not for us
}

TEST_CASE("jwt: required claims must be present, and exp is required by default") {
    const auto result = jwt_verifier(standard_options()).verify(token("no_exp"), jwt_now);
    CHECK(result.error() == jwt_error::missing_claim);
    CHECK(result.message() == "token lacks the claim \"exp\"");
    auto o = standard_options();
    o.required_claims = {};
    CHECK(error_of(jwt_verifier(o), token("no_exp")) == jwt_error::none);
    o.required_claims = {"exp", "sub", "role"};
    CHECK(error_of(jwt_verifier(o), token("hs256")) == jwt_error::none);
    const auto no_sub = jwt_verifier(o).verify(token("no_sub"), jwt_now);
    CHECK(no_sub.error() == jwt_error::missing_claim);
    CHECK(no_sub.message() == "token lacks the claim \"sub\"");
}

// ---- malformed tokens ------------------------------------------------------------------------

TEST_CASE("jwt: duplicate member names are refused, also when spelled with escapes") {
    CHECK(error_of(token("duplicate_exp")) == jwt_error::malformed);
    CHECK(error_of(token("duplicate_exp_escaped")) == jwt_error::malformed);
    CHECK(error_of(token("duplicate_alg")) == jwt_error::malformed);
    // "e\u0078p" is "exp": read as such, so its past value expires the token.
    CHECK(error_of(token("escaped_exp_expired")) == jwt_error::expired);
}

TEST_CASE("jwt: a signed token whose JSON is malformed is refused as malformed") {
    for (const char* name : {"exp_string", "payload_array", "payload_bad_nested", "payload_trailing", "payload_not_utf8",
                             "payload_bad_number", "payload_too_deep", "header_not_json", "header_trailing",
                             "header_no_alg", "header_crit"}) {
        INFO(name);
        const auto result = jwt_verifier(standard_options()).verify(token(name), jwt_now);
        CHECK(result.error() == jwt_error::malformed);
        CHECK(result.message().starts_with("malformed token: "));
    }
}

TEST_CASE("jwt: numbers beyond 64 bits are valid JSON (RFC 8259 section 6) and read as raw text") {
    auto o = standard_options();
    const auto result = jwt_verifier(o).verify(token("big_numbers"), jwt_now);
    REQUIRE(result.ok());
    CHECK(result.claims().json("id") == "123456789012345678901234567890");
    CHECK(result.claims().json("x") == "-1e400");
    using tether::auth::detail::is_json_number;
    for (std::string_view n : {"0", "-0", "1.5", "-12e+3", "1E-9", "123456789012345678901234567890"}) CHECK(is_json_number(n));
    for (std::string_view n : {"", "-", "01", "1.", ".5", "+1", "1e", "1e+", "0x10", "1 ", "NaN"}) CHECK_FALSE(is_json_number(n));
}

TEST_CASE("jwt: malformed base64url or shape is refused before any key is tried") {
    const std::string valid = token("hs256");
    const auto dot1 = valid.find('.');
    const auto dot2 = valid.rfind('.');
    const std::string header = valid.substr(0, dot1), payload = valid.substr(dot1 + 1, dot2 - dot1 - 1),
                      signature = valid.substr(dot2 + 1);
    REQUIRE(error_of(valid) == jwt_error::none);
    REQUIRE(signature.size() == 43);   // 32 bytes: the last character carries 4 bits and 2 zero bits

    auto flip_low_bit = [](std::string s) {   // within the alphabet: 'A' <-> 'B', 'g' <-> 'h', ...
        std::string_view a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        s.back() = a[a.find(s.back()) ^ 1];
        return s;
    };
    for (const std::string& bad : {
             header + "=." + payload + "." + signature,                        // padding (RFC 7515 §2)
             header + "." + payload + "." + signature + "=",
             header + "." + payload + "+." + signature,                        // the standard alphabet
             header + "." + payload + "." + signature.substr(0, 42) + "/",
             header + "." + payload + "." + flip_low_bit(signature),           // non-canonical last character
             header + "A." + payload + "." + signature,                        // a lone 6 bits is no byte
             header + "." + payload + " ." + signature,
             header + "." + payload,                                           // two parts
             header + "." + payload + "." + signature + ".x.y",                // five parts: JWE
             header + "." + payload + "." + signature + ".",
             std::string(""), std::string(".."), std::string("..."), std::string("a.b.c"),
         }) {
        INFO(bad);
        CHECK(error_of(bad) == jwt_error::malformed);
    }
}

TEST_CASE("jwt: an oversized token is refused before it is decoded") {
    const std::string big = token("oversized");
    REQUIRE(big.size() > 8 * 1024);
    const auto result = jwt_verifier(standard_options()).verify(big, jwt_now);
    CHECK(result.error() == jwt_error::too_large);
    CHECK(result.message() == "token too large");
    CHECK(error_of(std::string(8 * 1024 + 1, '!')) == jwt_error::too_large);   // garbage, but too large first
    CHECK(error_of(std::string(8 * 1024, '!')) == jwt_error::malformed);
    auto o = standard_options();
    o.max_token_bytes = 16 * 1024;
    CHECK(error_of(jwt_verifier(o), big) == jwt_error::none);
}

TEST_CASE("jwt: error names are stable for logs and metrics") {
    CHECK(tether::auth::to_string(jwt_error::bad_signature) == "bad_signature");
    CHECK(tether::auth::to_string(jwt_error::alg_not_allowed) == "alg_not_allowed");
    CHECK(tether::auth::to_string(tether::auth::jwt_alg::es256) == "ES256");
}

TEST_CASE("jwt: one verifier serves several threads at once") {
    const jwt_verifier v(standard_options());
    const std::vector<std::string> tokens{token("hs256"), token("rs256"), token("es256"), token("rs256_other_key")};
    std::atomic<int> valid{0}, refused{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            const jwt_verifier copy = v;   // copies share the keys
            for (int i = 0; i < 25; ++i)
                for (const auto& tk : tokens) (copy.verify(tk, jwt_now).ok() ? valid : refused)++;
        });
    for (auto& th : threads) th.join();
    CHECK(valid == 4 * 25 * 3);
    CHECK(refused == 4 * 25);
}

// ---- where the token comes from --------------------------------------------------------------

TEST_CASE("token source: Authorization: Bearer, with the scheme in any case (RFC 6750 section 2.1)") {
    using tether::auth::token_from_request;
    CHECK(token_from_request(*get("/", "Authorization: Bearer abc.def.ghi\r\n")) == "abc.def.ghi");
    CHECK(token_from_request(*get("/", "authorization: bEaReR   abc.def.ghi\r\n")) == "abc.def.ghi");
    CHECK_FALSE(token_from_request(*get("/", "Authorization: Basic YTpi\r\n")));
    CHECK_FALSE(token_from_request(*get("/", "Authorization: Bearer\r\n")));
    CHECK_FALSE(token_from_request(*get("/", "Authorization: Bearerabc.def.ghi\r\n")));
    CHECK_FALSE(token_from_request(*get("/")));
}

TEST_CASE("token source: a named cookie (RFC 6265 section 4.2)") {
    using tether::auth::token_from_request;
    CHECK(token_from_request(*get("/", "Cookie: a=1; token=abc.def; b=2\r\n"), "token") == "abc.def");
    CHECK(token_from_request(*get("/", "Cookie: a=1;jwt=\"abc.def\"\r\n"), "jwt") == "abc.def");
    CHECK(token_from_request(*get("/", "Cookie: a=1\r\nCookie: jwt=second.field\r\n"), "jwt") == "second.field");
    CHECK(token_from_request(*get("/", "Cookie: jwt=first; jwt=second\r\n"), "jwt") == "first");
    CHECK_FALSE(token_from_request(*get("/", "Cookie: xjwt=abc; JWT=abc; jwtx=abc\r\n"), "jwt"));
    CHECK_FALSE(token_from_request(*get("/", "Cookie: token=abc\r\n")));   // no cookie name: cookies are not read
    CHECK(tether::http::find_cookie(" a = 1 ;b=2", "a") == "1");
    CHECK_FALSE(tether::http::find_cookie("a", "a"));
}

TEST_CASE("token source: ?token=, percent-decoded (RFC 6750 section 2.3), for EventSource") {
    using tether::auth::token_from_request;
    CHECK(token_from_request(*get("/events?topic=x&token=abc%2Edef.ghi")) == "abc.def.ghi");
    CHECK_FALSE(token_from_request(*get("/events?token=")));
    CHECK_FALSE(token_from_request(*get("/events?tokens=abc")));
    CHECK(token_from_request(*get("/events?access_token=abc"), tether::auth::token_sources{.query = "access_token"}) == "abc");
    CHECK_FALSE(token_from_request(*get("/events?token=abc"), tether::auth::token_sources{.query = ""}));
}

TEST_CASE("token source: Authorization first, then the cookie, then the query") {
    using tether::auth::token_from_request;
    const auto all = get("/?token=from.query", "Cookie: jwt=from.cookie\r\nAuthorization: Bearer from.header\r\n");
    CHECK(token_from_request(*all, "jwt") == "from.header");
    CHECK(token_from_request(*all, tether::auth::token_sources{.authorization = false, .cookie = "jwt"}) == "from.cookie");
    CHECK(token_from_request(*all, tether::auth::token_sources{.authorization = false}) == "from.query");
    CHECK(token_from_request(*get("/?token=from.query", "Cookie: jwt=from.cookie\r\n"), "jwt") == "from.cookie");
}

// ---- the hook --------------------------------------------------------------------------------

TEST_CASE("require_jwt: fills the claims, or refuses with 401 and the reason") {
    const auto hook = tether::auth::require_jwt(jwt_verifier(standard_options()), {.cookie = "jwt"});
    tether::auth::claims c;
    hook(*get("/?token=" + token("live")), c);
    CHECK(c.sub == "alice");
    tether::auth::claims from_cookie;
    hook(*get("/", "Cookie: jwt=" + token("live") + "\r\n"), from_cookie);
    CHECK(from_cookie.sub == "alice");

    auto status_and_message = [&](const parsed_request& req) -> std::pair<int, std::string> {
        tether::auth::claims unused;
        try {
            hook(*req, unused);
        } catch (const tether::http::error& e) {
            return {e.status(), e.what()};
        }
        return {200, ""};
    };
    CHECK(status_and_message(get("/")) == std::pair<int, std::string>{401, "token required"});
    CHECK(status_and_message(get("/?token=" + token("live_expired"))) == std::pair<int, std::string>{401, "token expired"});
    CHECK(status_and_message(get("/", "Authorization: Bearer " + token("none") + "\r\n")) ==
          std::pair<int, std::string>{401, "token algorithm not allowed"});
}

TEST_CASE("require_jwt: a fill function keeps only what the connection needs") {
    struct player {
        std::string id;
    };
    const std::function<void(const tether::http::request&, player&)> hook = tether::auth::require_jwt(
        jwt_verifier(standard_options()), [](tether::auth::claims&& c, player& p) { p.id = std::move(c.sub); });
    player p;
    hook(*get("/", "Authorization: Bearer " + token("live") + "\r\n"), p);
    CHECK(p.id == "alice");
    CHECK_THROWS_AS(hook(*get("/"), p), tether::http::error);
}

TEST_CASE("require_jwt: guards SSE and WebSocket routes of a running server") {
    struct user {
        std::string name;
    };
    const jwt_verifier verifier(standard_options());
    const auto admit = tether::auth::require_jwt(verifier, [](tether::auth::claims&& c, user& u) { u.name = c.sub; },
                                                 {.cookie = "jwt"});
    tether::itest::test_server server([&](tether::server& app) {
        tether::server::sse_behaviour<user> events;
        events.on_request = admit;
        events.on_open = [](tether::server::sse_stream<user>& s) {
            const std::string greeting = "hello " + s.user_data().name;
            s.send({.data = greeting});
        };
        app.sse("/events", std::move(events));
        tether::server::websocket_behaviour<user> ws;
        ws.on_upgrade = admit;
        app.websocket("/ws", std::move(ws));
    });

    auto request = [&](const std::string& head) {
        tether::itest::raw_client client(server.port());
        REQUIRE(client.send(head));
        auto r = client.read_response(5s);
        REQUIRE(r);
        return *r;
    };
    SECTION("no token: 401 with the reason in the error body") {
        const auto r = request("GET /events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        CHECK(r.status == 401);
        CHECK(r.body == R"({"error":{"status":401,"message":"token required"}})");
    }
    SECTION("an expired token: 401 token expired") {
        const auto r = request("GET /events HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " +
                               token("live_expired") + "\r\n\r\n");
        CHECK(r.status == 401);
        CHECK(r.body.find("token expired") != std::string::npos);
    }
    SECTION("?token= opens the stream, and the hook's user data reaches on_open") {
        tether::itest::raw_client client(server.port());
        REQUIRE(client.send("GET /events?token=" + token("live") + " HTTP/1.1\r\nHost: x\r\n\r\n"));
        std::string seen;
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (seen.find("data: hello alice") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
            client.closed_within(100ms);
            seen = client.unread();
        }
        CHECK(seen.starts_with("HTTP/1.1 200"));
        CHECK(seen.find("text/event-stream") != std::string::npos);
        CHECK(seen.find("data: hello alice") != std::string::npos);
    }
    SECTION("a cookie opens a WebSocket; without a token the upgrade is refused") {
        const std::string upgrade = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
        CHECK(request(upgrade + "Cookie: jwt=" + token("live") + "\r\n\r\n").status == 101);
        CHECK(request(upgrade + "\r\n").status == 401);
        CHECK(request(upgrade + "Authorization: Bearer " + token("hs256_tampered") + "\r\n\r\n").status == 401);
    }
}

// ---- issuing (auth/jwt_issue.hpp) -------------------------------------------------------------

TEST_CASE("jwt: an HS256 key signs exactly as node's crypto did for the fixture token") {
    const std::string t = token("hs256");
    const auto last_dot = t.rfind('.');
    REQUIRE(last_dot != std::string::npos);
    CHECK(tether::core::base64url_encode(hs_key().sign(std::string_view(t).substr(0, last_dot))) == t.substr(last_dot + 1));
    CHECK_THROWS_AS(rsa_key().sign("x.y"), std::logic_error);   // a public key cannot sign
}

TEST_CASE("jwt: an issued token verifies with its claims, expires after its ttl and breaks when altered") {
    const std::string t = tether::auth::issue_jwt(hs_key("k1"), {.sub = "ann", .aud = "chat", .iss = "https://auth.test", .ttl = 120s}, jwt_now);
    const jwt_verifier v({.keys = {hs_key("k1")}, .issuer = "https://auth.test", .audience = "chat", .leeway = 0s});
    const auto result = v.verify(t, jwt_now);
    REQUIRE(result.ok());
    CHECK(result.claims().sub == "ann");
    CHECK(result.claims().exp == jwt_now + 120s);
    CHECK(result.claims().nbf == jwt_now);
    CHECK(error_of(v, t, jwt_now + 119s) == jwt_error::none);
    CHECK(error_of(v, t, jwt_now + 120s) == jwt_error::expired);
    CHECK(error_of(v, t, jwt_now - 1s) == jwt_error::not_yet_valid);
    std::string altered = t;
    altered[altered.find('.') + 2] ^= 1;   // a claims byte
    CHECK(error_of(v, altered, jwt_now) != jwt_error::none);
    const jwt_verifier other_audience({.keys = {hs_key("k1")}, .issuer = "https://auth.test", .audience = "billing"});
    CHECK(error_of(other_audience, t, jwt_now) == jwt_error::wrong_audience);
}
