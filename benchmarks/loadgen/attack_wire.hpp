#pragma once
// The client side of HTTP/1.1 and WebSocket as attack_load needs it: framing only, written here from the RFCs
// rather than taken from tether, because the tool must know nothing of the server it attacks (a bug shared by
// the server and its test client would hide itself).
//
//   response_reader  splits a byte stream into HTTP/1.1 responses (RFC 9112 §6: Content-Length, chunked, no
//                    body for 1xx/204/304, until close otherwise) and hands each complete one over with its
//                    status and, up to a cap, its body. It stops after a 101 so the caller can switch protocols.
//   frame_reader     splits a byte stream into WebSocket frames (RFC 6455 §5.2); server frames are unmasked.
//   append_frame     writes one masked client frame (RFC 6455 §5.3: every client frame is masked).
//   websocket_request / random_key   the opening handshake (RFC 6455 §4.1), with the server's own Origin. The
//                    101 is checked by status only: this tool attacks servers, it does not certify them (ws_load
//                    verifies Sec-WebSocket-Accept).
//
// Everything is incremental and bounded: a response head is capped at 64 KiB and a frame at 16 MiB, past which
// the reader reports an error instead of buffering without end (the tool must not be the first to run out of
// memory).

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace attack {

inline bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

inline std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

// ---- HTTP/1.1 responses ------------------------------------------------------------------------------------

class response_reader {
public:
    static constexpr std::size_t max_head = 64 * 1024;

    response_reader() = default;
    explicit response_reader(std::size_t body_cap) : body_cap_(body_cap) {}

    // Consumes bytes and calls on_response(status, body, close) for every complete response (`body` holds at
    // most body_cap bytes; `close` is true when the response said Connection: close). Returns the bytes
    // consumed: all of them, unless a 101 ended the HTTP part (the rest is the new protocol's). Returns
    // npos on a malformed response.
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);
    template <class OnResponse>
    std::size_t feed(std::string_view data, OnResponse&& on_response) {
        std::size_t used = 0;
        while (used < data.size() && !upgraded_) {
            const std::string_view rest = data.substr(used);
            std::size_t n = 0;
            switch (state_) {
            case state::head: n = feed_head(rest); break;
            case state::length: n = feed_length(rest); break;
            case state::chunk_size:
            case state::chunk_trailer: n = feed_line(rest); break;
            case state::chunk_data: n = feed_chunk_data(rest); break;
            case state::until_close: n = rest.size(); keep(rest); break;
            }
            if (n == npos) return npos;
            used += n;
            if (complete_) {
                complete_ = false;
                on_response(status_, std::string_view(body_), close_);
                reset_message();
            }
        }
        return used;
    }
    // The peer closed: a body delimited by the close is complete now.
    template <class OnResponse>
    void finish(OnResponse&& on_response) {
        if (state_ == state::until_close) {
            on_response(status_, std::string_view(body_), true);
            reset_message();
        }
    }
    [[nodiscard]] bool upgraded() const { return upgraded_; }
    [[nodiscard]] bool mid_response() const { return state_ != state::head || !head_.empty(); }

private:
    enum class state : std::uint8_t { head, length, chunk_size, chunk_data, chunk_trailer, until_close };

    void reset_message() {
        state_ = state::head;
        head_.clear();
        body_.clear();
        status_ = 0;
        close_ = false;
    }
    void keep(std::string_view bytes) {
        if (body_.size() < body_cap_) body_.append(bytes.substr(0, body_cap_ - body_.size()));
    }

    std::size_t feed_head(std::string_view data) {
        const std::size_t before = head_.size();
        const std::size_t from = before >= 3 ? before - 3 : 0;
        head_.append(data.substr(0, std::min(data.size(), max_head + 4 - before)));
        const auto end = head_.find("\r\n\r\n", from);
        if (end == std::string::npos) return head_.size() > max_head ? npos : data.size();
        const std::size_t used = end + 4 - before;
        head_.resize(end + 2);
        return parse_head() ? used : npos;
    }

    bool parse_head() {
        // status-line = HTTP-version SP status-code SP [ reason-phrase ]   (RFC 9112 §4)
        if (head_.size() < 12 || !head_.starts_with("HTTP/1.")) return false;
        if (std::from_chars(head_.data() + 9, head_.data() + 12, status_).ec != std::errc{}) return false;
        bool chunked = false;
        bool has_length = false;
        std::uint64_t length = 0;
        std::string_view rest(head_);
        rest.remove_prefix(std::min(rest.size(), rest.find("\r\n") + 2));
        while (!rest.empty()) {
            const auto eol = rest.find("\r\n");
            const std::string_view line = rest.substr(0, eol);
            rest.remove_prefix(std::min(rest.size(), eol + 2));
            const auto colon = line.find(':');
            if (colon == std::string_view::npos) continue;
            const std::string_view name = line.substr(0, colon);
            const std::string_view value = trim(line.substr(colon + 1));
            if (iequals(name, "content-length")) {
                has_length = std::from_chars(value.data(), value.data() + value.size(), length).ec == std::errc{};
            } else if (iequals(name, "transfer-encoding")) {
                chunked = value.size() >= 7 && iequals(value.substr(value.size() - 7), "chunked");
            } else if (iequals(name, "connection")) {
                close_ = close_ || iequals(value, "close");
            }
        }
        if (status_ == 101) {
            upgraded_ = true;
            complete_ = true;
        } else if ((status_ >= 100 && status_ < 200) || status_ == 204 || status_ == 304) {
            complete_ = status_ >= 200;   // an interim 1xx is not the response (RFC 9110 §15.2)
            if (!complete_) head_.clear();
        } else if (chunked) {
            state_ = state::chunk_size;
        } else if (has_length) {
            remaining_ = length;
            state_ = state::length;
            complete_ = length == 0;
        } else {
            state_ = state::until_close;
        }
        line_.clear();
        return true;
    }

    std::size_t feed_length(std::string_view data) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, data.size()));
        keep(data.substr(0, n));
        remaining_ -= n;
        complete_ = remaining_ == 0;
        return n;
    }

    // chunk-size [ chunk-ext ] CRLF, and after the last chunk the trailer section (RFC 9112 §7.1).
    std::size_t feed_line(std::string_view data) {
        const auto eol = data.find('\n');
        const std::size_t take = eol == std::string_view::npos ? data.size() : eol + 1;
        if (line_.size() + take > 16 * 1024) return npos;
        line_.append(data.substr(0, take));
        if (eol == std::string_view::npos) return take;
        const std::string_view line = trim(std::string_view(line_).substr(0, line_.size() - 1));
        if (state_ == state::chunk_trailer) {
            complete_ = line.empty();
        } else {
            std::uint64_t size = 0;
            const auto r = std::from_chars(line.data(), line.data() + line.size(), size, 16);
            if (r.ec != std::errc{}) return npos;
            if (size == 0) {
                state_ = state::chunk_trailer;
            } else {
                remaining_ = size + 2;   // the data and its CRLF
                state_ = state::chunk_data;
            }
        }
        line_.clear();
        return take;
    }

    std::size_t feed_chunk_data(std::string_view data) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, data.size()));
        // The chunk's trailing CRLF is not body: keep only what precedes it.
        const std::uint64_t data_left = remaining_ > 2 ? remaining_ - 2 : 0;
        keep(data.substr(0, static_cast<std::size_t>(std::min<std::uint64_t>(n, data_left))));
        remaining_ -= n;
        if (remaining_ == 0) state_ = state::chunk_size;
        return n;
    }

    std::size_t body_cap_ = 0;
    state state_ = state::head;
    std::string head_;
    std::string body_;
    std::string line_;
    std::uint64_t remaining_ = 0;
    int status_ = 0;
    bool close_ = false;
    bool complete_ = false;
    bool upgraded_ = false;
};

// ---- WebSocket ---------------------------------------------------------------------------------------------

enum opcode : std::uint8_t { continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA };

inline std::string random_key(std::uint64_t a, std::uint64_t b) {   // 16 bytes, base64 (RFC 6455 §4.1)
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::array<std::uint8_t, 18> bytes{};   // 16 + 2 zero bytes of padding, so every group has 3
    std::memcpy(bytes.data(), &a, 8);
    std::memcpy(bytes.data() + 8, &b, 8);
    std::string out;
    for (std::size_t i = 0; i < 18; i += 3) {
        const std::uint32_t v = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
        for (int s = 18; s >= 0; s -= 6) out.push_back(alphabet[(v >> s) & 63]);
    }
    out.resize(22);
    return out + "==";
}

// With the Origin a browser on the server's own page would send (RFC 6454 §7): a server with an Origin
// policy refuses requests without one, and a client that is not a browser can claim any origin it likes.
inline std::string websocket_request(std::string_view path, std::string_view host, std::string_view key) {
    std::string r = "GET ";
    r.append(path).append(" HTTP/1.1\r\nHost: ").append(host).append("\r\nOrigin: http://").append(host);
    r.append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ").append(key);
    r.append("\r\nSec-WebSocket-Version: 13\r\n\r\n");
    return r;
}

// The header of a masked client frame (RFC 6455 §5.2) whose payload is `length` bytes; the payload that
// follows must be masked with `mask` (see mask_payload).
inline void append_frame_header(std::string& out, std::uint8_t op, std::uint64_t length, std::uint32_t mask,
                                bool fin = true) {
    out.push_back(static_cast<char>((fin ? 0x80 : 0x00) | op));
    if (length < 126) {
        out.push_back(static_cast<char>(0x80 | length));
    } else if (length <= 0xffff) {
        out.push_back(static_cast<char>(0x80 | 126));
        for (int s = 8; s >= 0; s -= 8) out.push_back(static_cast<char>((length >> s) & 0xff));
    } else {
        out.push_back(static_cast<char>(0x80 | 127));
        for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<char>((length >> s) & 0xff));
    }
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((mask >> s) & 0xff));
}

// Masks (or unmasks) bytes that sit at `offset` within a frame's payload (RFC 6455 §5.3).
inline void mask_payload(char* data, std::size_t n, std::uint32_t mask, std::uint64_t offset = 0) {
    const std::array<std::uint8_t, 4> key{static_cast<std::uint8_t>(mask >> 24), static_cast<std::uint8_t>(mask >> 16),
                                          static_cast<std::uint8_t>(mask >> 8), static_cast<std::uint8_t>(mask)};
    for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<char>(data[i] ^ key[(offset + i) & 3]);
}

inline void append_frame(std::string& out, std::uint8_t op, std::string_view payload, std::uint32_t mask) {
    append_frame_header(out, op, payload.size(), mask);
    const std::size_t at = out.size();
    out.append(payload);
    mask_payload(out.data() + at, payload.size(), mask);
}

// A Close frame's code: the first two payload bytes, 1005 when there are none (RFC 6455 §7.1.5).
inline int close_code(std::string_view payload) {
    if (payload.size() < 2) return 1005;
    return (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]);
}

class frame_reader {
public:
    static constexpr std::uint64_t max_frame = 16u << 20;

    // Calls on_frame(fin, opcode, payload) per complete frame; false on a malformed or oversized frame.
    template <class OnFrame>
    bool feed(std::string_view data, OnFrame&& on_frame) {
        buffer_.append(data);
        std::size_t at = 0;
        bool ok = true;
        for (;;) {
            const std::string_view rest = std::string_view(buffer_).substr(at);
            if (rest.size() < 2) break;
            const auto b0 = static_cast<unsigned char>(rest[0]);
            const auto b1 = static_cast<unsigned char>(rest[1]);
            std::size_t header = 2;
            std::uint64_t length = b1 & 0x7f;
            if (length == 126) header = 4;
            if (length == 127) header = 10;
            const bool masked = (b1 & 0x80) != 0;
            if (masked) header += 4;
            if (rest.size() < header) break;
            if (length >= 126) {
                length = 0;
                for (std::size_t i = 2; i < (header - (masked ? 4 : 0)); ++i)
                    length = (length << 8) | static_cast<unsigned char>(rest[i]);
            }
            if (length > max_frame) {
                ok = false;
                break;
            }
            if (rest.size() - header < length) break;
            std::string_view payload = rest.substr(header, static_cast<std::size_t>(length));
            if (masked) {   // servers must not mask (RFC 6455 §5.1), but unmask rather than misread
                std::uint32_t key = 0;
                for (std::size_t i = header - 4; i < header; ++i) key = (key << 8) | static_cast<unsigned char>(rest[i]);
                char* p = buffer_.data() + at + header;
                mask_payload(p, payload.size(), key);
            }
            at += header + static_cast<std::size_t>(length);
            on_frame((b0 & 0x80) != 0, static_cast<std::uint8_t>(b0 & 0x0f), payload);
        }
        buffer_.erase(0, at);
        return ok;
    }

private:
    std::string buffer_;
};

} // namespace attack
