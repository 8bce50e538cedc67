#pragma once
// JSON Web Token verification (RFC 7519, compact JWS of RFC 7515) for the hooks that admit a
// client: ws::behaviour::on_upgrade, sse::behaviour::on_request and their kind. The checks are
// the ones Centrifugo makes on its connection tokens: a signature by a configured key, then
// "exp", "nbf", "iss" and "aud".
//
//     tether::auth::jwt_verifier verifier({
//         .keys = {tether::auth::jwt_key::rs256_file("auth.pub.pem", "2024-06")},
//         .issuer = "https://auth.example", .audience = "chat",
//     });
//     app.websocket<tether::auth::claims>("/ws", {.on_upgrade = tether::auth::require_jwt(verifier)});
//
// verify(token) gives the claims or the precise reason for refusing (jwt_error), and never throws
// for a bad token. Only well-formed, correctly signed tokens reach the JSON of the claims: the
// order is size, shape, header, key choice, signature, then claims (RFC 7515 §5.2, RFC 7519 §7.2).
//
// Rules from RFC 8725 (JWT best current practice) that shape it:
// - The verifier's keys decide the algorithm (jwt_key.hpp). The header's "alg" must name the
//   algorithm of the key that checks it: "none", or HS256 against an RSA key, is alg_not_allowed.
// - A token naming a "kid" is checked only by the key with that kid, or by keys configured
//   without one; a token without a kid by every key of its algorithm. Which keys are tried is
//   bounded by the configuration, never by the token.
// - A token is refused past max_token_bytes (8 KiB) before anything is decoded: a peer cannot
//   make the server decode, parse or hash more than that per attempt.
// - "aud": when the token has one, the verifier must find its own audience in it, and a verifier
//   configured without an audience refuses such tokens (RFC 7519 §4.1.3: "MUST be rejected").
//   That keeps a token minted for another service from opening this one.
// - "exp" is required by default (required_claims): a token without it would never expire.
//
// Thread safety: verify() is const and may run on every I/O thread at once; the verifier is
// cheap to copy (keys are shared, immutable).
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <tether/auth/jwt_claims.hpp>
#include <tether/auth/jwt_key.hpp>
#include <tether/auth/token_source.hpp>
#include <tether/core/base64.hpp>
#include <tether/http/error.hpp>
#include <tether/http/request.hpp>

namespace tether::auth {

enum class jwt_error : std::uint8_t {
    none,
    too_large,        // longer than max_token_bytes
    malformed,        // not three base64url parts, or a header or claims set that is not valid JSON
    alg_not_allowed,  // "alg" is "none", unknown, or not the algorithm of any key that could check it
    unknown_key,      // "kid" names no configured key, and no key without a kid can check the token
    bad_signature,
    expired,          // now >= exp + leeway
    not_yet_valid,    // now < nbf - leeway
    wrong_issuer,
    wrong_audience,
    missing_claim,    // a claim in required_claims is absent
};

// A short name for logs and metrics ("bad_signature"); the message of jwt_result says more.
constexpr std::string_view to_string(jwt_error e) noexcept {
    switch (e) {
    case jwt_error::none: return "none";
    case jwt_error::too_large: return "too_large";
    case jwt_error::malformed: return "malformed";
    case jwt_error::alg_not_allowed: return "alg_not_allowed";
    case jwt_error::unknown_key: return "unknown_key";
    case jwt_error::bad_signature: return "bad_signature";
    case jwt_error::expired: return "expired";
    case jwt_error::not_yet_valid: return "not_yet_valid";
    case jwt_error::wrong_issuer: return "wrong_issuer";
    case jwt_error::wrong_audience: return "wrong_audience";
    case jwt_error::missing_claim: return "missing_claim";
    }
    return "unknown";
}

// The claims of a valid token, or why it is not valid. The message is fit for the client ("token
// expired"): it names what failed, never the key, the expected values or the token's own text.
class jwt_result {
public:
    static jwt_result success(auth::claims c) { return jwt_result(jwt_error::none, {}, std::move(c)); }
    static jwt_result failure(jwt_error e, std::string message) { return jwt_result(e, std::move(message), {}); }

    explicit operator bool() const noexcept { return error_ == jwt_error::none; }
    bool ok() const noexcept { return error_ == jwt_error::none; }
    jwt_error error() const noexcept { return error_; }
    const std::string& message() const noexcept { return message_; }

    // The verified claims; std::logic_error when the token was refused. From a temporary result
    // they are moved out by value, so `auto&& c = v.verify(t).claims();` cannot dangle.
    const auth::claims& claims() const& {
        expect_success();
        return claims_;
    }
    auth::claims claims() && {
        expect_success();
        return std::move(claims_);
    }

private:
    jwt_result(jwt_error e, std::string m, auth::claims c) : error_(e), message_(std::move(m)), claims_(std::move(c)) {}
    void expect_success() const {
        if (error_ != jwt_error::none) throw std::logic_error("tether: jwt_result::claims() on a refused token: " + message_);
    }

    jwt_error error_;
    std::string message_;
    auth::claims claims_;
};

struct jwt_options {
    std::vector<jwt_key> keys{};             // at least one
    std::string issuer{};                    // "iss" must equal this (RFC 7519 §4.1.1); empty: not checked
    std::string audience{};                  // must be in "aud" (§4.1.3); empty: tokens with "aud" are refused
    std::chrono::seconds leeway{30};         // clock skew allowed on "exp" and "nbf" (§4.1.4, §4.1.5)
    std::vector<std::string> required_claims{"exp"};   // names that must be present
    std::size_t max_token_bytes = 8 * 1024;  // larger tokens are refused before any decoding
};

class jwt_verifier {
public:
    explicit jwt_verifier(jwt_options options) : options_(std::move(options)) {
        if (options_.keys.empty()) throw std::invalid_argument("tether: jwt_verifier needs at least one key");
        if (options_.leeway < std::chrono::seconds(0) || options_.leeway > std::chrono::hours(24))
            throw std::invalid_argument("tether: jwt_verifier leeway must be between 0 and 24 hours");
    }

    const jwt_options& options() const noexcept { return options_; }

    jwt_result verify(std::string_view token) const {
        return verify(token, std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
    }

    // As of `now` (tests, or a caller with its own clock).
    jwt_result verify(std::string_view token, std::chrono::sys_seconds now) const {
        using enum jwt_error;
        if (token.size() > options_.max_token_bytes) return jwt_result::failure(too_large, "token too large");

        // RFC 7515 §7.1: BASE64URL(header) '.' BASE64URL(payload) '.' BASE64URL(signature). Five
        // parts would be an encrypted JWT (RFC 7516), which tether does not decrypt.
        const auto dot1 = token.find('.');
        const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
        if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
            return malformed_token("not three dot-separated parts");
        const std::string_view header_b64 = token.substr(0, dot1);
        const std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
        const std::string_view signature_b64 = token.substr(dot2 + 1);

        std::string header_json;
        if (!core::base64url_decode_append(header_b64, header_json)) return malformed_token("header is not base64url");
        jose_header header;
        if (const char* fault = detail::parse_jose_header(header_json, header)) return malformed_token(fault);
        claims c;
        if (!core::base64url_decode_append(payload_b64, c.payload)) return malformed_token("payload is not base64url");
        std::string signature;
        if (!core::base64url_decode_append(signature_b64, signature)) return malformed_token("signature is not base64url");

        // The keys that may check this token (see the header comment), in the configured order.
        const std::optional<jwt_alg> alg = parse_alg(header.alg);
        const std::string_view signing_input = token.substr(0, dot2);
        bool kid_known = false, alg_matched = false, verified = false;
        for (const jwt_key& key : options_.keys) {
            if (header.kid && key.kid() == *header.kid) kid_known = true;
            if (header.kid && !key.kid().empty() && key.kid() != *header.kid) continue;
            if (!alg || key.alg() != *alg) continue;
            alg_matched = true;
            if (key.verify_signature(signing_input, signature)) {
                verified = true;
                break;
            }
        }
        if (!alg_matched) {
            // No key could check it: name the kid when no key has it, else the algorithm.
            if (header.kid && !kid_known) return jwt_result::failure(unknown_key, "token key id unknown");
            return jwt_result::failure(alg_not_allowed, "token algorithm not allowed");
        }
        if (!verified) return jwt_result::failure(bad_signature, "token signature does not verify");

        // Only a token signed by a trusted key gets this far: its claims set is the issuer's JSON.
        const std::string* missing = nullptr;
        if (const char* fault = detail::parse_claims(c, options_.required_claims, missing)) return malformed_token(fault);
        if (header.kid) c.kid = std::move(*header.kid);
        return check_claims(std::move(c), missing, now);
    }

private:
    static std::optional<jwt_alg> parse_alg(std::string_view name) noexcept {
        // RFC 7515 §4.1.1: "alg" is case-sensitive. "none" (RFC 7518 §3.6) is never accepted.
        for (jwt_alg a : {jwt_alg::hs256, jwt_alg::rs256, jwt_alg::es256})
            if (name == to_string(a)) return a;
        return std::nullopt;
    }

    static jwt_result malformed_token(std::string_view why) {
        std::string message = "malformed token: ";
        message.append(why);
        return jwt_result::failure(jwt_error::malformed, std::move(message));
    }

    jwt_result check_claims(claims c, const std::string* missing, std::chrono::sys_seconds now) const {
        using enum jwt_error;
        // RFC 7519 §4.1.4: the current time MUST be before "exp"; §4.1.5: not before "nbf".
        if (c.exp && now >= *c.exp + options_.leeway) return jwt_result::failure(expired, "token expired");
        if (c.nbf && now < *c.nbf - options_.leeway) return jwt_result::failure(not_yet_valid, "token not yet valid");
        // StringOrURI values compare as plain strings, case-sensitively (RFC 7519 §2).
        if (!options_.issuer.empty() && c.iss != options_.issuer)
            return jwt_result::failure(wrong_issuer, "token issuer not accepted");
        // §4.1.3: a token with "aud" must name us; a verifier with an audience wants to be named.
        if (!c.aud.empty() || !options_.audience.empty()) {
            const bool named = !options_.audience.empty() &&
                               std::find(c.aud.begin(), c.aud.end(), options_.audience) != c.aud.end();
            if (!named) return jwt_result::failure(wrong_audience, "token audience not accepted");
        }
        if (missing) return jwt_result::failure(missing_claim, "token lacks the claim \"" + *missing + "\"");
        return jwt_result::success(std::move(c));
    }

    jwt_options options_;
};

// ---- hooks ----------------------------------------------------------------------------------

// A hook for on_upgrade / on_request (std::function<void(const http::request&, UserData&)>): finds
// the token (token_sources: Authorization: Bearer, then the cookie if named, then ?token=),
// verifies it, and stores the claims in the connection's user data. Refuses with
// http::error(401, message), e.g. 401 {"error":{"status":401,"message":"token expired"}}. (RFC 6750
// §3 would add a WWW-Authenticate field; a hook's exception carries only a status and a message.)
inline auto require_jwt(jwt_verifier verifier, token_sources from = {}) {
    return [verifier = std::move(verifier), from = std::move(from)](const http::request& req, claims& out) {
        const auto token = token_from_request(req, from);
        if (!token) throw http::error(401, "token required");
        jwt_result result = verifier.verify(*token);
        if (!result) throw http::error(401, result.message());
        out = std::move(result).claims();
    };
}

// The same, with `fill(claims&&, UserData&)` choosing what the connection keeps: an idle
// connection should not carry a whole claims set when it needs a user id.
//     .on_upgrade = tether::auth::require_jwt(verifier, [](tether::auth::claims&& c, player& p) { p.id = c.sub; })
template <class Fill>
    requires(!std::is_convertible_v<Fill, token_sources>)
auto require_jwt(jwt_verifier verifier, Fill fill, token_sources from = {}) {
    return [verifier = std::move(verifier), fill = std::move(fill), from = std::move(from)](const http::request& req,
                                                                                            auto& user_data) {
        const auto token = token_from_request(req, from);
        if (!token) throw http::error(401, "token required");
        jwt_result result = verifier.verify(*token);
        if (!result) throw http::error(401, result.message());
        fill(std::move(result).claims(), user_data);
    };
}

} // namespace tether::auth
