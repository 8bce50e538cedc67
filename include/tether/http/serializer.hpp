#pragma once
// Writes a response's bytes into the connection's output buffer (RFC 9112 §4, §6, §7).
// The serializer decides framing so handlers cannot get it wrong: Content-Length for a known
// body, chunked for a streamed one (close-delimited for an HTTP/1.0 peer, which has no
// chunked coding), nothing for HEAD bodies and for statuses that forbid content.
#include <array>
#include <charconv>
#include <cstring>
#include <string>
#include <string_view>

#include <tether/http/byte_buffer.hpp>
#include <tether/http/date.hpp>
#include <tether/http/head_memo.hpp>
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
    // A thread's memo of its plain heads (head_memo.hpp) and the second `date` names (date_cache::second()),
    // which a kept head must share. Without a memo every head is built.
    head_memo* memo = nullptr;
    std::time_t date_second = -1;
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
// How many decimal digits `n` has, and those digits written straight into the head, two at a time from a
// table of the pairs 00..99: Content-Length written through a buffer cost a call to to_chars and one to
// memcpy (GCC turns a byte loop back into that call).
inline std::size_t decimal_size(std::size_t n) noexcept {
    std::size_t size = 1;
    for (; n >= 100; n /= 100) size += 2;
    return size + (n >= 10 ? 1 : 0);
}
inline constexpr auto decimal_pairs = [] {
    std::array<char, 200> pairs{};
    for (int i = 0; i < 100; ++i) {
        pairs[static_cast<std::size_t>(2 * i)] = static_cast<char>('0' + i / 10);
        pairs[static_cast<std::size_t>(2 * i + 1)] = static_cast<char>('0' + i % 10);
    }
    return pairs;
}();
inline char* put_decimal(char* at, std::size_t size, std::size_t n) noexcept {
    char* digit = at + size;
    for (; n >= 100; n /= 100) {
        digit -= 2;
        std::memcpy(digit, &decimal_pairs[2 * (n % 100)], 2);
    }
    if (n >= 10) std::memcpy(digit - 2, &decimal_pairs[2 * n], 2);
    else digit[-1] = static_cast<char>('0' + n);
    return at + size;
}
// Room for n more bytes at the end of `out`, to be written: a byte_buffer makes it without filling it.
inline char* extend(byte_buffer& out, std::size_t n) { return out.extend(n); }
inline char* extend(std::string& out, std::size_t n) {
    const std::size_t start = out.size();
    out.resize(start + n);
    return out.data() + start;
}
} // namespace detail

// A body this long or shorter is written with the head (copy_short() moves at most 64 bytes without a call).
inline constexpr std::size_t short_body_bytes = 64;

namespace detail {
template <class Buffer>
bool build_and_serialize(const response& res, Buffer& out, const serialize_context& ctx, const head_memo::key* keep);
} // namespace detail

// Serializes `res` at the end of `out` (a byte_buffer, as a connection's output is, or a std::string). Returns
// whether the connection stays open afterwards.
//
// A plain response (head_memo.hpp says which) whose head this thread built earlier in this second is a copy
// of that head and its body, inline in the caller; every other response is built piece by piece, out of line
// (its prologue alone, a dozen saved registers, was a tenth of what a copied head costs).
template <class Buffer>
[[gnu::always_inline]] inline bool serialize(const response& res, Buffer& out, const serialize_context& ctx) {
    if (!ctx.memo || !ctx.keep_alive || ctx.version_minor != 1 || ctx.head || !res.plain())
        return detail::build_and_serialize(res, out, ctx, nullptr);
    const head_memo::key plain{res.status(), res.body_bytes().size(), res.field_lines().known_type.data(),
                               ctx.date_second};
    const std::string_view kept = ctx.memo->find(plain);
    if (kept.empty()) return detail::build_and_serialize(res, out, ctx, &plain);
    const std::string_view body = res.body_bytes();
    const std::size_t body_in_room = body.size() <= short_body_bytes ? body.size() : 0;
    char* at = head_memo::copy(detail::extend(out, kept.size() + body_in_room), kept);
    if (body_in_room) detail::copy_short(at, body.data(), body_in_room);
    else if (!body.empty()) out.append(body);
    return true;
}

// The head built piece by piece, then the body; with `keep`, the head is kept in ctx.memo under that key.
template <class Buffer>
[[gnu::noinline]] bool detail::build_and_serialize(const response& res, Buffer& out, const serialize_context& ctx,
                                                   const head_memo::key* keep) {
    bool keep_alive = ctx.keep_alive && !res.wants_close();
    const int status = res.status();
    const bool no_content = status_forbids_body(status);
    bool chunked = res.chunked() && !no_content;
    if (chunked && ctx.version_minor == 0) keep_alive = false;   // 1.0: body ends at close
    if (res.streaming()) keep_alive = ctx.version_minor >= 1;     // a stream owns the connection until it ends

    // What the head holds, piece by piece, measured before anything is written.
    const std::string_view joined = joined_status_line(status);
    const std::string_view reason = joined.empty() ? reason_phrase(status) : std::string_view{};
    const std::size_t content_length = res.body_bytes().size();
    std::size_t length_size = 0;   // of Content-Length's digits
    std::string_view framing;
    if (!no_content) {
        if (!chunked) {
            framing = "Content-Length: "sv;
            length_size = detail::decimal_size(content_length);
        } else if (ctx.version_minor >= 1) {
            framing = "Transfer-Encoding: chunked\r\n"sv;
        }
    }
    std::string_view connection;
    if (!keep_alive) connection = "Connection: close\r\n"sv;
    else if (ctx.version_minor == 0) connection = "Connection: keep-alive\r\n"sv;
    // A body of known length follows the head. A short one is copied into the room made for the head (the
    // buffer grows once, not twice); a longer one is appended, since a std::string's resize() would zero-fill
    // it first.
    const bool body_with_head = !ctx.head && !no_content && !res.streaming() && !chunked;
    const std::string_view body = body_with_head ? res.body_bytes() : std::string_view{};
    const std::size_t body_in_room = body.size() <= short_body_bytes ? body.size() : 0;

    const std::size_t status_size = joined.empty() ? "HTTP/1.1 "sv.size() + 3 + 1 + reason.size() + 2 : joined.size();
    const response::field_pieces fields = res.field_lines();
    const std::size_t head = status_size + "Date: "sv.size() + ctx.date.size() + 2 + fields.set.size() + fields.known_type.size() +
                             framing.size() + (length_size ? length_size + 2 : 0) + connection.size() + 2;
    char* at = detail::extend(out, head + body_in_room);
    char* const head_start = at;
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
    at = detail::put(at, fields.set);
    at = detail::put(at, fields.known_type);
    at = detail::put(at, framing);
    if (length_size) {
        at = detail::put_decimal(at, length_size, content_length);
        at = detail::put_literal(at, "\r\n");
    }
    at = detail::put(at, connection);
    at = detail::put_literal(at, "\r\n");
    if (keep) ctx.memo->keep(*keep, std::string_view(head_start, head));
    if (body_in_room) detail::copy_short(at, body.data(), body.size());
    else out.append(body);

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
