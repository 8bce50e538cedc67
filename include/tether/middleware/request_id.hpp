#pragma once
// tether::middleware::request_id(): one id per request, to follow it through logs and services.
//
//   app.use(tether::middleware::request_id());
//   app.get("/x", [](auto& req, auto& res) { res.text(req.attribute("request_id")); });
//
// The id is the client's X-Request-Id when it sends a sane one (a proxy or a calling service
// that already named the request), else a new one. It is stored as a request attribute (for the
// handler, later hooks and the access log) and echoed in X-Request-Id on every response of the
// middleware's scope: handler answers, errors, short-circuits and deferred replies, since the
// echo is an `after` hook. A field the handler set itself is left alone.
//
// What is sane: 1 to max_length (128) characters from A-Z a-z 0-9 - _ . : + / =, which covers
// UUIDs, hex and base64 ids, ULIDs and nginx's $request_id. Anything else (spaces, quotes,
// control bytes, something that could forge a log line or a JSON field) is replaced, not
// rejected: the request itself is fine, only its label is not.
//
// New ids are 32 lowercase hex digits, like nginx's $request_id: 64 random bits drawn once per
// thread (std::random_device, the only system call), then a 64-bit counter that starts at a
// random value. Why not a random 128-bit number per request: a counter is unique by construction
// within a thread and costs an increment, no system call and no lock; threads and restarts differ
// by their random prefix (two of N thread lifetimes share one with odds of about N²/2⁶⁵). Why not
// one process-wide atomic counter: every I/O thread would write the same cache line per request.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>

#include <tether/http/request.hpp>
#include <tether/http/response.hpp>
#include <tether/server/middleware.hpp>

namespace tether {

struct middleware::request_id_options {
    std::string header = "X-Request-Id";   // read from the request, written on the response
    std::string attribute = "request_id";  // the request attribute holding the id
    bool accept_incoming = true;           // false: always a new id (clients you do not trust to name requests)
    std::size_t max_length = 128;          // longer incoming ids are replaced
};

namespace http {

// Whether a received request id is kept: 1 to max_length characters of A-Z a-z 0-9 - _ . : + / =.
inline bool is_sane_request_id(std::string_view id, std::size_t max_length) noexcept {
    if (id.empty() || id.size() > max_length) return false;
    for (char c : id) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                  c == '.' || c == ':' || c == '+' || c == '/' || c == '=';
        if (!ok) return false;
    }
    return true;
}

// Makes request ids: a fixed prefix and a counter, 16 hex digits each.
class request_id_generator {
public:
    static constexpr std::size_t length = 32;
    using buffer = std::array<char, length>;

    request_id_generator(std::uint64_t prefix, std::uint64_t start) noexcept : prefix_(prefix), next_(start) {}

    // The next id, written into `out` (which the view points into).
    std::string_view next(buffer& out) noexcept {
        hex(prefix_, out.data());
        hex(next_++, out.data() + 16);
        return {out.data(), out.size()};
    }

    // This thread's generator, seeded from std::random_device on first use.
    static request_id_generator& for_this_thread() {
        thread_local request_id_generator generator = seeded();
        return generator;
    }

private:
    static request_id_generator seeded() {
        std::random_device entropy;
        auto draw64 = [&] { return (std::uint64_t{entropy()} << 32) ^ entropy(); };
        std::uint64_t prefix = draw64();
        return {prefix, draw64()};
    }
    static void hex(std::uint64_t v, char* out) noexcept {
        for (int i = 15; i >= 0; --i, v >>= 4) out[i] = "0123456789abcdef"[v & 15];
    }

    std::uint64_t prefix_;
    std::uint64_t next_;
};

} // namespace http

inline middleware middleware::request_id(request_id_options options) {
    auto o = std::make_shared<const request_id_options>(std::move(options));
    auto fresh = [](http::request_id_generator::buffer& out) { return http::request_id_generator::for_this_thread().next(out); };
    return {
        .before =
            [o, fresh](http::request& req, http::response&) {
                std::optional<std::string_view> incoming;
                if (o->accept_incoming) incoming = req.header(o->header);
                if (incoming && http::is_sane_request_id(*incoming, o->max_length)) {
                    req.set_attribute(o->attribute, *incoming);
                } else {
                    http::request_id_generator::buffer out;
                    req.set_attribute(o->attribute, fresh(out));
                }
                return true;
            },
        .after =
            [o, fresh](const http::request& req, http::response& res) {
                if (res.has_field(o->header)) return;   // the handler answered with its own (a proxied reply)
                std::string_view id = req.attribute(o->attribute);
                http::request_id_generator::buffer out;
                // Empty when `before` did not run for this request: a CORS preflight, answered before
                // middleware, or an earlier middleware that answered first. Such a response still
                // gets an id, although the request never held it.
                if (id.empty()) {
                    auto incoming = o->accept_incoming ? req.header(o->header) : std::nullopt;
                    id = incoming && http::is_sane_request_id(*incoming, o->max_length) ? *incoming : fresh(out);
                }
                res.header(o->header, id);
            },
    };
}

inline middleware middleware::request_id() { return request_id(request_id_options{}); }

} // namespace tether
