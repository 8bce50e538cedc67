#pragma once
// What a TLS-enabled server does with each request according to the channel it came on (no
// OpenSSL here: the channel is known from the connection, net::channel):
//   tls                    routed as usual, plus Strict-Transport-Security when configured
//                          (RFC 6797 §7.1; §7.2 forbids sending it over plaintext);
//   cleartext_on_tls_port  400 "plain HTTP request sent to HTTPS port", then close: what nginx
//                          answers, so a user who typed http:// sees why instead of a reset;
//   cleartext              (the redirect listener) a redirect to the same target over https.
#include <cstdint>
#include <string>
#include <string_view>

#include <tether/http/error.hpp>
#include <tether/http/method.hpp>
#include <tether/http/request.hpp>
#include <tether/http/response.hpp>

namespace tether::detail {

inline void refuse_cleartext_on_tls_port(http::response& res) {
    http::write_error(res, 400, "plain HTTP request sent to HTTPS port");
    res.close();
}

// The host part of a Host field value (RFC 9110 §7.2), when it is a plain DNS name, IPv4 or
// bracketed IPv6 literal; empty otherwise, so nothing odd is echoed into Location.
inline std::string_view host_without_port(std::string_view host) noexcept {
    std::string_view name = host;
    if (name.starts_with('[')) {
        auto close = name.find(']');
        if (close == std::string_view::npos) return {};
        name = name.substr(0, close + 1);
        for (char c : name.substr(1, name.size() - 2))
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
                return {};
        return name;
    }
    name = name.substr(0, name.find(':'));
    if (name.empty() || name.size() > 253) return {};
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return {};
    return name;
}

// 301 for GET and HEAD, 308 otherwise (RFC 9110 §15.4.9: the method and body are kept), to
// https://<Host, else fallback_host>[:tls_port]<target>.
inline void redirect_to_https(const http::request& req, http::response& res, std::string_view fallback_host,
                              std::uint16_t tls_port) {
    std::string_view host = host_without_port(req.header("host").value_or(std::string_view{}));
    if (host.empty()) host = fallback_host;
    std::string location = "https://";
    location.append(host);
    if (tls_port != 443) location.append(":").append(std::to_string(tls_port));
    if (req.target().starts_with('/')) {
        location.append(req.target());
    } else {   // absolute-form or asterisk-form: keep the path and query only
        location.append(req.path().empty() ? std::string_view("/") : req.path());
        if (!req.query_string().empty()) location.append("?").append(req.query_string());
    }
    bool safe = req.method() == http::method::get || req.method() == http::method::head;
    res.status(safe ? 301 : 308).header("Location", location).text("see " + location + "\n");
}

} // namespace tether::detail
