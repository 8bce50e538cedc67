#pragma once
// Writes a response's bytes into the connection's output buffer (RFC 9112 §4, §6, §7).
// The serializer decides framing so handlers cannot get it wrong: Content-Length for a known
// body, chunked for a streamed one (close-delimited for an HTTP/1.0 peer, which has no
// chunked coding), nothing for HEAD bodies and for statuses that forbid content.
#include <charconv>
#include <cstring>
#include <string>
#include <string_view>

#include <tether/http/date.hpp>
#include <tether/http/response.hpp>
#include <tether/http/short_bytes.hpp>
#include <tether/http/status.hpp>

namespace tether::http {

using namespace std::string_view_literals;   // why: response.hpp

struct serialize_context {
    int version_minor = 1;     // the request's: HTTP/1.0 peers get HTTP/1.0-compatible framing
    bool head = false;         // the request was HEAD: fields as for GET, no body (RFC 9110 §9.3.2)
    bool keep_alive = true;    // false: send "Connection: close" and close after writing
    std::string_view date{};   // IMF-fixdate, from date_cache
};

// The common status lines, pre-joined; empty for the others (built from the code and its reason).
inline std::string_view joined_status_line(int status) noexcept {
    switch (status) {
    case 200: return "HTTP/1.1 200 OK\r\n"sv;
    case 204: return "HTTP/1.1 204 No Content\r\n"sv;
    case 404: return "HTTP/1.1 404 Not Found\r\n"sv;
    default: return {};
    }
}

namespace detail {
// Copies `bytes` to `at` and returns the end: the head is written into room made once, so each piece
// is a copy, not an append that checks capacity and may grow the string again (and a short one, with no
// call to memcpy: short_bytes.hpp).
[[gnu::always_inline]] inline char* put(char* at, std::string_view bytes) noexcept {
    return copy_short(at, bytes.data(), bytes.size());
}
// A string literal: its length is known here, so the copy compiles to a move or two instead of a call to
// memcpy (each call costs ~10 instructions, and a head has a handful of these short pieces). Named apart
// from put() so that a char buffer holding fewer bytes than its size can never pick it by overload.
template <std::size_t N>
inline char* put_literal(char* at, const char (&literal)[N]) noexcept {
    std::memcpy(at, literal, N - 1);
    return at + (N - 1);
}
} // namespace detail

// Serializes `res`. Returns whether the connection stays open afterwards.
inline bool serialize(const response& res, std::string& out, const serialize_context& ctx) {
    bool keep_alive = ctx.keep_alive && !res.wants_close();
    const int status = res.status();
    const bool no_content = status_forbids_body(status);
    bool chunked = res.chunked() && !no_content;
    if (chunked && ctx.version_minor == 0) keep_alive = false;   // 1.0: body ends at close
    if (res.streaming()) keep_alive = ctx.version_minor >= 1;     // a stream owns the connection until it ends

    // What the head holds, piece by piece, measured before anything is written.
    const std::string_view joined = joined_status_line(status);
    const std::string_view reason = joined.empty() ? reason_phrase(status) : std::string_view{};
    char length[24];
    std::size_t length_size = 0;
    std::string_view framing;
    if (!no_content) {
        if (!chunked) {
            framing = "Content-Length: "sv;
            length_size = static_cast<std::size_t>(std::to_chars(length, length + sizeof length, res.body_bytes().size()).ptr - length);
        } else if (ctx.version_minor >= 1) {
            framing = "Transfer-Encoding: chunked\r\n"sv;
        }
    }
    std::string_view connection;
    if (!keep_alive) connection = "Connection: close\r\n"sv;
    else if (ctx.version_minor == 0) connection = "Connection: keep-alive\r\n"sv;
    // A body of known length follows the head (appended: resize() would zero-fill it first).
    const bool body_with_head = !ctx.head && !no_content && !res.streaming() && !chunked;
    const std::string_view body = body_with_head ? res.body_bytes() : std::string_view{};

    const std::size_t status_size = joined.empty() ? "HTTP/1.1 "sv.size() + 3 + 1 + reason.size() + 2 : joined.size();
    const std::size_t head = status_size + "Date: "sv.size() + ctx.date.size() + 2 + res.fields().size() +
                             framing.size() + (length_size ? length_size + 2 : 0) + connection.size() + 2;
    const std::size_t start = out.size();
    out.resize(start + head);
    char* at = out.data() + start;
    if (!joined.empty()) {
        at = detail::put(at, joined);
    } else {
        at = detail::put_literal(at, "HTTP/1.1 ");
        at = std::to_chars(at, at + 3, status).ptr;   // three digits: response::status() checks
        *at++ = ' ';
        at = detail::put(at, reason);
        at = detail::put_literal(at, "\r\n");
    }
    at = detail::put_literal(at, "Date: ");
    // An IMF-fixdate is always 29 bytes (RFC 9110 §5.6.7): a copy of known length, when it is one.
    if (ctx.date.size() == date_cache::length) {
        std::memcpy(at, ctx.date.data(), date_cache::length);
        at += date_cache::length;
    } else {
        at = detail::put(at, ctx.date);
    }
    at = detail::put_literal(at, "\r\n");
    at = detail::put(at, res.fields());
    at = detail::put(at, framing);
    if (length_size) {
        // Digit by digit (one to twenty): put()'s wider moves are never taken for so few bytes, but GCC's
        // -Warray-bounds cannot tell and refuses them on a 24-byte array.
        for (std::size_t i = 0; i < length_size; ++i) *at++ = length[i];
        at = detail::put_literal(at, "\r\n");
    }
    at = detail::put(at, connection);
    at = detail::put_literal(at, "\r\n");
    out.append(body);

    if (ctx.head || no_content || res.streaming() || !chunked) return keep_alive;
    if (ctx.version_minor >= 1) {
        out.append(res.body_bytes()).append("0\r\n\r\n"sv);
    } else {
        // Undo the chunk framing for a 1.0 peer: walk "size CRLF data CRLF" pieces.
        std::string_view framed = res.body_bytes();
        while (!framed.empty()) {
            auto crlf = framed.find("\r\n");
            std::size_t size = 0;
            std::from_chars(framed.data(), framed.data() + crlf, size, 16);
            out.append(framed.substr(crlf + 2, size));
            framed.remove_prefix(crlf + 2 + size + 2);
        }
    }
    return keep_alive;
}

// Interim response sent before reading a body the client announced with Expect: 100-continue.
inline constexpr std::string_view continue_response = "HTTP/1.1 100 Continue\r\n\r\n";

} // namespace tether::http
