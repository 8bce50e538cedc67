#pragma once
// Writes a response's bytes into the connection's output buffer (RFC 9112 §4, §6, §7).
// The serializer decides framing so handlers cannot get it wrong: Content-Length for a known
// body, chunked for a streamed one (close-delimited for an HTTP/1.0 peer, which has no
// chunked coding), nothing for HEAD bodies and for statuses that forbid content.
#include <charconv>
#include <string>
#include <string_view>

#include <tether/http/date.hpp>
#include <tether/http/response.hpp>
#include <tether/http/status.hpp>

namespace tether::http {

using namespace std::string_view_literals;   // why: response.hpp

struct serialize_context {
    int version_minor = 1;     // the request's: HTTP/1.0 peers get HTTP/1.0-compatible framing
    bool head = false;         // the request was HEAD: fields as for GET, no body (RFC 9110 §9.3.2)
    bool keep_alive = true;    // false: send "Connection: close" and close after writing
    std::string_view date{};   // IMF-fixdate, from date_cache
};

inline void append_status_line(std::string& out, int status) {
    switch (status) {   // the common lines, pre-joined
    case 200: out.append("HTTP/1.1 200 OK\r\n"sv); return;
    case 204: out.append("HTTP/1.1 204 No Content\r\n"sv); return;
    case 404: out.append("HTTP/1.1 404 Not Found\r\n"sv); return;
    default: break;
    }
    char digits[4];
    std::to_chars(digits, digits + 3, status);
    out.append("HTTP/1.1 "sv).append(digits, 3).push_back(' ');
    out.append(reason_phrase(status)).append("\r\n"sv);
}

inline void append_decimal(std::string& out, std::size_t value) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
    (void)ec;
    out.append(digits, end);
}

// Serializes `res`. Returns whether the connection stays open afterwards.
inline bool serialize(const response& res, std::string& out, const serialize_context& ctx) {
    bool keep_alive = ctx.keep_alive && !res.wants_close();
    const int status = res.status();
    const bool no_content = status_forbids_body(status);
    bool chunked = res.chunked() && !no_content;
    if (chunked && ctx.version_minor == 0) keep_alive = false;   // 1.0: body ends at close
    if (res.streaming()) keep_alive = ctx.version_minor >= 1;     // a stream owns the connection until it ends

    append_status_line(out, status);
    out.append("Date: "sv).append(ctx.date).append("\r\n"sv);
    out.append(res.fields());
    if (!no_content) {
        if (chunked) {
            if (ctx.version_minor >= 1) out.append("Transfer-Encoding: chunked\r\n"sv);
        } else {
            out.append("Content-Length: "sv);
            append_decimal(out, res.body_bytes().size());
            out.append("\r\n"sv);
        }
    }
    if (!keep_alive) out.append("Connection: close\r\n"sv);
    else if (ctx.version_minor == 0) out.append("Connection: keep-alive\r\n"sv);
    out.append("\r\n"sv);

    if (ctx.head || no_content || res.streaming()) return keep_alive;
    if (!chunked) {
        out.append(res.body_bytes());
    } else if (ctx.version_minor >= 1) {
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
