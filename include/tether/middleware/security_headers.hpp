#pragma once
// tether::middleware::security_headers(): the response fields that switch on browsers' own
// defences, with defaults that break no ordinary page.
//
//   app.use(tether::middleware::security_headers());
//   app.use(tether::middleware::security_headers({.content_security_policy = "default-src 'self'",
//                                                 .frame_ancestors = "'none'"}));
//
// With the defaults every response gets:
//   X-Content-Type-Options: nosniff              a script or style must be labelled as one (no MIME sniffing)
//   Referrer-Policy: strict-origin-when-cross-origin   other sites see the origin only, never a path
//                                                 or query (which may hold tokens), and nothing over http
//   X-Frame-Options: SAMEORIGIN                   clickjacking: only pages of this origin may frame it
//   Content-Security-Policy: frame-ancestors 'self'   the same rule in its standard form (CSP Level 2);
//                                                 X-Frame-Options is kept for browsers that predate it
//   Cross-Origin-Opener-Policy: same-origin       a page opened from another site gets no handle on
//                                                 this window (cross-window attacks, Spectre isolation)
// Content-Security-Policy beyond frame-ancestors is left to the application (default empty): a
// policy restricting scripts must be written against the pages it protects, or it breaks them.
// Strict-Transport-Security is the TLS options' `hsts`, since it means something only over TLS.
//
// A field the handler (or an earlier hook) set is never replaced or duplicated: the handler
// knows its page best. An empty option leaves its field out.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tether/http/char_class.hpp>
#include <tether/http/request.hpp>
#include <tether/http/response.hpp>
#include <tether/server/middleware.hpp>

namespace tether {

struct middleware::security_headers_options {
    bool nosniff = true;                                          // X-Content-Type-Options: nosniff
    std::string referrer_policy = "strict-origin-when-cross-origin";
    // Who may show these pages in a frame, as a CSP source list: "'self'" (default), "'none'", or
    // origins. X-Frame-Options follows it where it can say the same (SAMEORIGIN, DENY).
    std::string frame_ancestors = "'self'";
    std::string content_security_policy = "";                     // more directives; frame-ancestors is added
    std::string cross_origin_opener_policy = "same-origin";
};

namespace http {

// The fields security_headers() adds, worked out once from its options.
inline std::vector<std::pair<std::string, std::string>> security_fields(const middleware::security_headers_options& o) {
    std::vector<std::pair<std::string, std::string>> fields;
    if (o.nosniff) fields.emplace_back("X-Content-Type-Options", "nosniff");
    if (!o.referrer_policy.empty()) fields.emplace_back("Referrer-Policy", o.referrer_policy);
    if (detail::iequals(o.frame_ancestors, "'self'")) fields.emplace_back("X-Frame-Options", "SAMEORIGIN");
    else if (detail::iequals(o.frame_ancestors, "'none'")) fields.emplace_back("X-Frame-Options", "DENY");
    // X-Frame-Options cannot name other origins (ALLOW-FROM is gone from browsers): CSP alone then.
    std::string csp = o.content_security_policy;
    while (!csp.empty() && (csp.back() == ' ' || csp.back() == ';')) csp.pop_back();
    const bool names_frame_ancestors = csp.find("frame-ancestors") != std::string::npos;
    if (!o.frame_ancestors.empty() && !names_frame_ancestors)
        csp.append(csp.empty() ? "" : "; ").append("frame-ancestors ").append(o.frame_ancestors);
    if (!csp.empty()) fields.emplace_back("Content-Security-Policy", std::move(csp));
    if (!o.cross_origin_opener_policy.empty()) fields.emplace_back("Cross-Origin-Opener-Policy", o.cross_origin_opener_policy);
    return fields;
}

} // namespace http

inline middleware middleware::security_headers(security_headers_options options) {
    // Worked out once: each field's serialized line, checked by response::header() here so that a
    // bad option fails at startup naming the field, and then appended as is on every response;
    // plus all of them in one block, for the usual response that sets none of them itself.
    struct prepared {
        std::vector<std::string> names, lines;
        std::array<std::string_view, 8> name_views{};
        std::string block;
    };
    auto p = std::make_shared<prepared>();
    for (auto& [name, value] : http::security_fields(options)) {
        http::response check;
        check.header(name, value);
        p->lines.emplace_back(check.fields());
        p->block.append(check.fields());
        p->names.push_back(std::move(name));
    }
    for (std::size_t i = 0; i < p->names.size(); ++i) p->name_views[i] = p->names[i];   // at most 5 fields
    return {.after = [p = std::shared_ptr<const prepared>(std::move(p))](const http::request&, http::response& res) {
        if (res.status() < 200) return;   // 101: the connection is no longer HTTP
        std::uint32_t set = res.fields_present(p->name_views, p->names.size());
        if (set == 0) {
            res.append_fields(p->block);
            return;
        }
        for (std::size_t i = 0; i < p->lines.size(); ++i)
            if (!(set & (std::uint32_t{1} << i))) res.append_fields(p->lines[i]);
    }};
}

inline middleware middleware::security_headers() { return security_headers(security_headers_options{}); }

} // namespace tether
