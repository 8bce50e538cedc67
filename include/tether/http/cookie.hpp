#pragma once
// Reading one cookie from a request's Cookie field (RFC 6265 §4.2, §5.4), for hooks that
// authenticate a browser by a session or token cookie.
//
// Why so small: a server only ever needs "the value of the cookie called X"; parsing every pair
// into a map would allocate per request for nothing. The lookup walks the field in place and
// returns a view into the request. It reads the grammar the way browsers write it
// ("a=1; b=2", RFC 6265 §5.4 step 4) and tolerates what other clients do (no space after ';',
// spaces around '='), since rejecting a request for a cookie it does not ask about helps nobody.
// A value in double quotes (cookie-value, §4.1.1) is returned without them. Values are not
// percent-decoded: RFC 6265 gives them no encoding, and the cookies tether reads (tokens) never
// need one. Every Cookie field is searched, since a proxy converting from HTTP/2 may send
// several (RFC 9113 §8.2.3); the first pair with the name wins.
#include <optional>
#include <string_view>

#include <tether/http/char_class.hpp>
#include <tether/http/request.hpp>

namespace tether::http {

// The value of the cookie `name` in one Cookie field value, or nullopt.
inline std::optional<std::string_view> find_cookie(std::string_view cookie_field, std::string_view name) noexcept {
    while (!cookie_field.empty()) {
        const auto semicolon = cookie_field.find(';');
        const std::string_view pair = cookie_field.substr(0, semicolon);
        cookie_field = semicolon == std::string_view::npos ? std::string_view{} : cookie_field.substr(semicolon + 1);
        const auto eq = pair.find('=');
        if (eq == std::string_view::npos) continue;   // not a cookie-pair (§5.2 step 2 ignores it too)
        if (detail::trim_ows(pair.substr(0, eq)) != name) continue;   // names are case-sensitive
        std::string_view value = detail::trim_ows(pair.substr(eq + 1));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
        return value;
    }
    return std::nullopt;
}

// The value of the cookie `name` sent with `req`, or nullopt.
inline std::optional<std::string_view> find_cookie(const request& req, std::string_view name) noexcept {
    if (name.empty()) return std::nullopt;
    for (const field& f : req.fields()) {
        if (!detail::iequals(f.name, "cookie")) continue;
        if (auto value = find_cookie(f.value, name)) return value;
    }
    return std::nullopt;
}

} // namespace tether::http
