#pragma once
// Code that runs around handlers, for every route or under a path prefix (app.use): authentication
// and rate limits before the handler, request ids, access logs, compression, security headers and
// metrics after it.
//
//   app.use({.before = [](auto& req, auto& res) {
//                if (!req.header("authorization")) { tether::http::write_error(res, 401, "log in"); return false; }
//                return true;                                    // go on to the next middleware and the route
//            },
//            .after = [](const auto& req, auto& res) { res.header("X-Served-By", "tether"); }});
//   app.use("/api", tether::middleware{...});                   // only for /api and /api/...
//
// Order: `before` hooks run in registration order, then the route's handler; `after` hooks run in
// reverse order (an onion), just before the response is written, for every response of their scope:
// handler answers, errors, short-circuits by an earlier `before`, and deferred replies, whenever
// they are sent (the request's head is kept for them; its body is not). A hook that throws is
// answered like a handler that throws.
//
// Why `after` runs at write time rather than when the handler returns: a deferred reply (res.defer())
// is finished later on another thread, and a log line or a compressed body must see the response
// that is actually sent.
//
// Hooks run on I/O threads, several at once: what a hook shares between requests must be
// read-only or thread-safe. Requests the parser refuses (400, 413, 431, ...) are answered before
// any middleware, since there is no request to give it.
//
// The built-ins are made by static member functions, so they read as what they are,
// `app.use(tether::middleware::request_id())`; each is defined in its own header under
// tether/middleware/ (tether/tether.hpp includes them all). A namespace could not share the
// type's name, and these declarations are the price: the options types are declared here and
// defined beside their middleware, so using one without its header fails to compile, naming it.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <tether/http/request.hpp>
#include <tether/http/response.hpp>

namespace tether {

struct middleware {
    // Before routing. Return false once you have answered (401, 429, a redirect) to stop there.
    std::function<bool(http::request&, http::response&)> before{};
    // Just before the response is written.
    std::function<void(const http::request&, http::response&)> after{};

    struct request_id_options;         // tether/middleware/request_id.hpp
    struct access_log_options;         // tether/middleware/access_log.hpp
    struct compress_options;           // tether/middleware/compress.hpp
    struct security_headers_options;   // tether/middleware/security_headers.hpp

    // X-Request-Id: the client's when it is a sane token, else a new one; a request attribute,
    // echoed on every response.
    inline static middleware request_id();
    inline static middleware request_id(request_id_options options);
    // One line per response: common or combined log format, or JSON lines.
    inline static middleware access_log();
    inline static middleware access_log(access_log_options options);
    // gzip (zlib) and br (libbrotli) for text and JSON bodies, by Accept-Encoding.
    inline static middleware compress();
    inline static middleware compress(compress_options options);
    // nosniff, Referrer-Policy, frame-ancestors / X-Frame-Options, CSP, COOP.
    inline static middleware security_headers();
    inline static middleware security_headers(security_headers_options options);
};

class middleware_chain {
public:
    void add(std::string prefix, middleware m) {
        if (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
        has_after_ = has_after_ || static_cast<bool>(m.after);
        entries_.push_back({std::move(prefix), std::move(m)});
    }
    bool empty() const noexcept { return entries_.empty(); }
    bool has_after() const noexcept { return has_after_; }

    // Runs the `before` hooks in scope; false when one answered.
    bool before(http::request& req, http::response& res) const {
        for (const auto& e : entries_)
            if (e.mw.before && in_scope(e.prefix, req.path()) && !e.mw.before(req, res)) return false;
        return true;
    }
    // Runs the `after` hooks in scope, last registered first.
    void after(const http::request& req, http::response& res) const {
        for (auto it = entries_.rbegin(); it != entries_.rend(); ++it)
            if (it->mw.after && in_scope(it->prefix, req.path())) it->mw.after(req, res);
    }

private:
    struct entry {
        std::string prefix;
        middleware mw;
    };

    // "/api" covers "/api" and "/api/...", not "/apix"; "" covers everything.
    static bool in_scope(std::string_view prefix, std::string_view path) noexcept {
        if (prefix.empty()) return true;
        if (path.substr(0, prefix.size()) != prefix) return false;
        return path.size() == prefix.size() || path[prefix.size()] == '/';
    }

    std::vector<entry> entries_;
    bool has_after_ = false;
};

} // namespace tether
