#pragma once
// Which web origins may open a WebSocket or an event stream (RFC 6454 §7, RFC 6455 §10.2).
//
// Why it matters: a browser sends cookies with a WebSocket handshake to any site, and CORS does
// not apply to WebSocket. Without an Origin check, any page the user visits can open the user's
// authenticated socket and read from it (cross-site WebSocket hijacking). Event streams and
// polls are readable cross-site only with CORS, but a hostile page can still make every visitor
// hold streams open against the server; checking Origin costs nothing and refuses them early.
//
// The default is same-origin: a browser page served by this host may connect, a page elsewhere
// may not (403), and a client that sends no Origin at all (not a browser: curl, a native app, a
// service) may. Pages on other origins are listed explicitly.
#include <string>
#include <string_view>
#include <vector>

#include <tether/http/char_class.hpp>
#include <tether/http/request.hpp>

namespace tether::http {

struct origin_policy {
    std::vector<std::string> allowed{};   // exact serialized origins, "https://app.example:8443"; "*" allows any
    bool same_origin = true;              // an Origin naming the host the request was sent to
    bool without_origin = true;           // requests with no Origin field (non-browser clients)
};

namespace detail {

// "host:port" with the scheme's default port removed, lowercased (RFC 6454 §4 compares them so).
inline std::string normalized_authority(std::string_view authority, std::string_view scheme) {
    std::string out;
    out.reserve(authority.size());
    for (char c : authority) out.push_back(ascii_lower(c));
    auto colon = out.rfind(':');
    if (colon != std::string::npos && out.find(']', colon) == std::string::npos) {
        std::string_view port = std::string_view(out).substr(colon + 1);
        if ((scheme == "http" && port == "80") || (scheme == "https" && port == "443") || port.empty()) out.resize(colon);
    }
    return out;
}

} // namespace detail

// True when `origin` (the Origin field's value) names the same host and port as `host` (the
// request's Host). The scheme is not compared: behind a TLS-terminating proxy the server sees
// http while the page is https, and the host still proves the page came from here.
inline bool is_same_origin(std::string_view origin, std::string_view host) {
    auto scheme_end = origin.find("://");
    if (scheme_end == std::string_view::npos || host.empty()) return false;
    std::string scheme;
    for (char c : origin.substr(0, scheme_end)) scheme.push_back(detail::ascii_lower(c));
    std::string_view authority = origin.substr(scheme_end + 3);
    if (authority.find('/') != std::string_view::npos) return false;
    return detail::normalized_authority(authority, scheme) == detail::normalized_authority(host, scheme);
}

inline bool origin_allowed(const origin_policy& policy, const request& req) {
    auto origin = req.header("origin");
    if (!origin) return policy.without_origin;
    for (const auto& o : policy.allowed)
        if (o == "*" || o == *origin) return true;
    return policy.same_origin && is_same_origin(*origin, req.host());
}

} // namespace tether::http
