#pragma once
// Where a request carries its bearer token: the Authorization field (RFC 6750 §2.1), a cookie,
// or the query string (RFC 6750 §2.3). Kept apart from the JWT verifier, and free of OpenSSL,
// because any token scheme (opaque session ids looked up in a store, tickets) needs the same
// lookup.
//
// Why three sources, in this order: the Authorization field is what RFC 6750 recommends and what
// fetch() and WebSocket clients outside the browser send. A browser's WebSocket and EventSource
// cannot set fields at all, so pages fall back to a cookie (sent automatically, which is why
// cookie-authenticated WebSocket routes need an Origin allowlist) or to `?token=` in the URL.
// RFC 6750 §2.3 warns that URLs end up in logs and browser history: prefer short-lived tokens
// there. RFC 6750 §2 asks clients to use one method per request; a server that finds several
// uses the first in this order rather than refusing, since a page may hold a cookie it does not
// control while it passes a token explicitly.
#include <optional>
#include <string>
#include <string_view>

#include <tether/http/char_class.hpp>
#include <tether/http/cookie.hpp>
#include <tether/http/query.hpp>
#include <tether/http/request.hpp>

namespace tether::auth {

struct token_sources {
    bool authorization = true;     // "Authorization: Bearer <token>"; false: the field is not read
    std::string cookie{};          // name of the cookie holding the token; empty: cookies are not read
    std::string query = "token";   // query parameter holding it (RFC 6750 §2.3 calls it access_token); empty: not read
};

// The token of an "Authorization: Bearer <token>" field, or nullopt when the request has no such
// field or it names another scheme (Basic, ...). RFC 6750 §2.1: credentials = "Bearer" 1*SP
// b64token, and the scheme name is case-insensitive (RFC 9110 §11.1). The token is returned as
// sent; whether it is well-formed is the verifier's question.
inline std::optional<std::string_view> bearer_token(const http::request& req) noexcept {
    const auto value = req.header("authorization");
    if (!value) return std::nullopt;
    constexpr std::string_view scheme = "bearer";
    if (value->size() <= scheme.size() || !http::detail::iequals(value->substr(0, scheme.size()), scheme) ||
        (*value)[scheme.size()] != ' ')
        return std::nullopt;
    const std::string_view token = http::detail::trim_ows(value->substr(scheme.size()));
    if (token.empty()) return std::nullopt;
    return token;
}

// The request's token from the first source `from` enables that holds one, or nullopt. A query
// value is percent-decoded the way URLSearchParams encodes it ('+' is a space).
inline std::optional<std::string> token_from_request(const http::request& req, const token_sources& from) {
    if (from.authorization)
        if (auto token = bearer_token(req)) return std::string(*token);
    if (!from.cookie.empty())
        if (auto token = http::find_cookie(req, from.cookie); token && !token->empty()) return std::string(*token);
    if (!from.query.empty())
        if (auto token = http::find_query_param(req.query_string(), from.query); token && !token->empty()) return token;
    return std::nullopt;
}

// Authorization: Bearer, then the cookie `cookie_name` (none when empty), then ?token=.
inline std::optional<std::string> token_from_request(const http::request& req, std::string_view cookie_name = {}) {
    return token_from_request(req, token_sources{.cookie = std::string(cookie_name)});
}

} // namespace tether::auth
