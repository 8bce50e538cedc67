#pragma once
// Cross-Origin Resource Sharing (WHATWG Fetch Standard §3.2, "CORS protocol"): which
// Access-Control-* fields a response carries, given the request's Origin.
//
// Pure functions from (options, request fields) to response fields, so every rule is testable
// without a socket; basic_server::cors() applies them (a preflight answered before routing,
// the fields added to every other response). The rules that are easy to get wrong:
// - with credentials, "Access-Control-Allow-Origin: *" is rejected by browsers, so the origin
//   is echoed instead, and the same for a "*" in the header/method lists;
// - whenever the answer depends on Origin, the response says Vary: Origin, or a shared cache
//   hands one origin's answer to another (Fetch §3.2.5 / CORS and caching);
// - a disallowed origin gets no Access-Control-* field at all (the browser then blocks the
//   read), and its preflight is answered 403 so the failure is visible in the network panel.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tether/http/char_class.hpp>

namespace tether::http {

struct cors_options {
    // Exact origins ("https://app.example.com", scheme://host[:port], no path), or {"*"} for any.
    std::vector<std::string> allowed_origins{};
    // For preflights. GET, HEAD and POST are CORS-safelisted and never need to be listed; {"*"}
    // allows any method (echoed back, so it also works with credentials).
    std::vector<std::string> allowed_methods{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
    // Request fields a page may set beyond the safelisted ones; {"*"} allows whatever the
    // preflight asks for (echoed back, which also works with credentials and for Authorization,
    // which a literal "*" never covers).
    std::vector<std::string> allowed_headers{"Content-Type"};
    // Response fields a page may read beyond the safelisted ones.
    std::vector<std::string> exposed_headers{};
    bool allow_credentials = false;   // cookies / HTTP auth on cross-origin requests
    std::optional<std::chrono::seconds> max_age{};   // preflight cache lifetime; browsers cap it
};

struct cors_field {
    std::string name, value;
    friend bool operator==(const cors_field&, const cors_field&) = default;
};

namespace detail {

inline bool cors_list_has(const std::vector<std::string>& list, std::string_view item, bool case_insensitive) {
    for (const auto& e : list)
        if (case_insensitive ? iequals(e, item) : e == item) return true;
    return false;
}

inline std::string join_list(const std::vector<std::string>& list) {
    std::string out;
    for (const auto& e : list) {
        if (!out.empty()) out.append(", ");
        out.append(e);
    }
    return out;
}

// "*" configured and no credentials: one answer for every origin.
inline bool cors_any_origin(const cors_options& o) { return cors_list_has(o.allowed_origins, "*", false); }

} // namespace detail

// Origins are compared case-insensitively: scheme and host are (RFC 6454 §4 serializes them in
// lowercase, but a hand-written client may not).
inline bool cors_origin_allowed(const cors_options& o, std::string_view origin) {
    if (origin.empty()) return false;
    return detail::cors_any_origin(o) || detail::cors_list_has(o.allowed_origins, origin, true);
}

// Whether the answer to a request with or without Origin could differ by origin: then every
// response, even one with no CORS fields, must say Vary: Origin.
inline bool cors_varies_by_origin(const cors_options& o) { return !detail::cors_any_origin(o) || o.allow_credentials; }

// A preflight is an OPTIONS request with Origin and Access-Control-Request-Method (Fetch §3.2.2).
inline bool is_cors_preflight(std::string_view method_name, bool has_origin, bool has_request_method) {
    return method_name == "OPTIONS" && has_origin && has_request_method;
}

// The fields for an actual (non-preflight) response to a request with `origin` (nullopt: no
// Origin field). Empty when nothing applies; only Vary when the origin is not allowed.
inline std::vector<cors_field> cors_response_fields(const cors_options& o, std::optional<std::string_view> origin) {
    std::vector<cors_field> out;
    const bool allowed = origin && cors_origin_allowed(o, *origin);
    if (allowed) {
        const bool wildcard = detail::cors_any_origin(o) && !o.allow_credentials;
        out.push_back({"Access-Control-Allow-Origin", wildcard ? std::string("*") : std::string(*origin)});
        if (o.allow_credentials) out.push_back({"Access-Control-Allow-Credentials", "true"});
        if (!o.exposed_headers.empty()) out.push_back({"Access-Control-Expose-Headers", detail::join_list(o.exposed_headers)});
    }
    if (cors_varies_by_origin(o)) out.push_back({"Vary", "Origin"});
    return out;
}

struct cors_preflight_result {
    bool allowed = false;   // 204 with `fields` when true, 403 (with only Vary) when false
    std::vector<cors_field> fields;
};

// Answers a preflight: `request_method` is Access-Control-Request-Method, `request_headers`
// Access-Control-Request-Headers (nullopt when absent).
inline cors_preflight_result cors_preflight(const cors_options& o, std::string_view origin, std::string_view request_method,
                                            std::optional<std::string_view> request_headers) {
    cors_preflight_result r;
    const bool echo_headers = detail::cors_list_has(o.allowed_headers, "*", false);
    auto vary = [&] {
        std::string v = cors_varies_by_origin(o) ? "Origin, " : "";
        v.append("Access-Control-Request-Method");
        if (echo_headers) v.append(", Access-Control-Request-Headers");
        r.fields.push_back({"Vary", std::move(v)});
    };
    if (!cors_origin_allowed(o, origin)) {
        vary();
        return r;
    }
    // Methods are case-sensitive (RFC 9110 §9.1); the safelisted ones need no listing.
    const bool safelisted = request_method == "GET" || request_method == "HEAD" || request_method == "POST";
    bool ok = detail::is_token(request_method) &&
              (safelisted || detail::cors_list_has(o.allowed_methods, request_method, false) ||
               detail::cors_list_has(o.allowed_methods, "*", false));
    std::string headers;
    if (ok && request_headers) {
        detail::for_each_list_element(*request_headers, [&](std::string_view h) {
            ok = detail::is_token(h) && (echo_headers || detail::cors_list_has(o.allowed_headers, h, true));
            if (ok) {
                if (!headers.empty()) headers.append(", ");
                headers.append(h);
            }
            return ok;
        });
    }
    if (!ok) {
        vary();
        return r;
    }
    r.allowed = true;
    r.fields = cors_response_fields(o, origin);
    std::erase_if(r.fields, [](const cors_field& f) { return f.name == "Vary" || f.name == "Access-Control-Expose-Headers"; });
    // The configured list, so one cached preflight covers them all; a "*" list echoes the
    // method asked for, since a literal "*" means nothing to a browser sending credentials.
    const bool any_method = o.allowed_methods.empty() || detail::cors_list_has(o.allowed_methods, "*", false);
    r.fields.push_back({"Access-Control-Allow-Methods",
                        any_method ? std::string(request_method) : detail::join_list(o.allowed_methods)});
    if (!headers.empty()) r.fields.push_back({"Access-Control-Allow-Headers", std::move(headers)});
    if (o.max_age) r.fields.push_back({"Access-Control-Max-Age", std::to_string(o.max_age->count())});
    vary();
    return r;
}

} // namespace tether::http
