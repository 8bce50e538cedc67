#pragma once
// Issuing short-lived HS256 tokens, for the common case where the server that verifies connection
// tokens is also the one that hands them to its own pages:
//
//     const auto key = tether::auth::jwt_key::hs256(secret);
//     app.post("/api/token", [key](auto& req, auto& res) {            // behind the login session
//         const std::string user = session_user(req);                // 401 when there is none
//         res.json(R"({"token":")" + tether::auth::issue_jwt(key, {.sub = user, .aud = "realtime",
//                                                                   .ttl = std::chrono::minutes(5)}) + "\"}");
//     });
//     // the page: tether.connect(location.origin, {token: () => t.json('/api/token', {method: 'POST'}).then((r) => r.token)})
//
// Why only HS256: a server that signs with a shared secret already holds the secret it verifies
// with, so issuing adds no key to guard. RS256/ES256 exist so that the verifier holds only a
// public key while a separate identity service signs; that service is not tether's job, and a
// jwt_key built from a public key cannot sign (jwt_key::sign throws).
//
// Why short-lived: a token travels in the URL of a WebSocket or EventSource request (RFC 6750
// §2.3), where proxies and logs can keep it. tether.js asks for a fresh one before every
// (re)connection when given a callback, so minutes are enough; the session that authorizes
// /api/token (an HttpOnly cookie) is what lasts.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <tether/auth/jwt_key.hpp>
#include <tether/core/base64.hpp>
#include <tether/core/json_writer.hpp>

namespace tether::auth {

// The registered claims of RFC 7519 §4.1 that a connection token needs; empty strings are left out.
struct jwt_claims_to_issue {
    std::string sub{};                      // who (§4.1.2)
    std::string aud{};                      // for which service (§4.1.3): the verifier's audience
    std::string iss{};                      // by whom (§4.1.1)
    std::chrono::seconds ttl{300};          // "exp" = now + ttl (§4.1.4)
};

// "<header>.<claims>.<signature>", each base64url without padding (RFC 7515 §7.1), signed with
// `key` (an HS256 secret). "iat" and "nbf" are `now`, "exp" is now + ttl.
inline std::string issue_jwt(const jwt_key& key, const jwt_claims_to_issue& c,
                             std::chrono::sys_seconds now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now())) {
    std::string header;
    json::writer h(header);
    h.begin_object().member("alg", "HS256").member("typ", "JWT");
    if (!key.kid().empty()) h.member("kid", key.kid());
    h.end_object();

    const std::int64_t at = now.time_since_epoch().count();
    std::string claims;
    json::writer w(claims);
    w.begin_object();
    if (!c.iss.empty()) w.member("iss", c.iss);
    if (!c.sub.empty()) w.member("sub", c.sub);
    if (!c.aud.empty()) w.member("aud", c.aud);
    w.member("iat", at).member("nbf", at).member("exp", at + c.ttl.count()).end_object();

    std::string token = core::base64url_encode(header);
    token += '.';
    token += core::base64url_encode(claims);
    const std::string signature = key.sign(token);   // over ASCII(header '.' claims), RFC 7515 §5.1
    token += '.';
    token += core::base64url_encode(signature);
    return token;
}

} // namespace tether::auth
