#pragma once
// Incremental decoder for the chunked transfer coding (RFC 9112 §7.1), I/O-free.
//
// It is fed everything received after the header section and consumes only whole syntactic
// units it can judge (a complete size line, available chunk data, a complete trailer line), so
// the caller may call it again with the same unconsumed bytes plus more. Strictness matters
// here: lenient chunk parsing is how request smuggling between a proxy and a server works,
// so every deviation from the grammar is an error rather than a guess.
//
// Two ways to take the chunk data: decode() appends it to a string (a body buffered whole), and
// next_piece() stops at each run of chunk data and returns it as a view into `in` (a streamed
// body, handed on without a copy). Both run the same state machine, so they accept and refuse
// exactly the same inputs.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <tether/http/char_class.hpp>

namespace tether::http {

class chunked_decoder {
public:
    enum class status : std::uint8_t { need_more, done, bad_request, too_large, too_much_metadata };

    struct result {
        status state;
        std::size_t consumed;   // bytes of `in` used; the caller drops them before the next call
    };

    // `max_metadata_bytes` bounds the chunk extensions and trailer lines of one body together:
    // they are validated and dropped, so without a total a body of one-byte chunks with
    // kilobyte extensions would cost thousands of bytes of parsing per body byte.
    chunked_decoder(std::uint64_t max_body_bytes, std::size_t max_trailer_fields,
                    std::size_t max_metadata_bytes = 16 * 1024) noexcept
        : max_body_(max_body_bytes), max_trailers_(max_trailer_fields), max_metadata_(max_metadata_bytes) {}

    void reset() noexcept {
        state_ = state::size_line;
        chunk_remaining_ = 0;
        decoded_ = 0;
        trailers_ = 0;
        metadata_ = 0;
    }

    // The decoded size past which a body is too_large (each chunk size is checked against it as it
    // arrives), for this body and the next ones; a limit below what was decoded already makes the
    // next chunk too_large.
    void set_max_body_bytes(std::uint64_t max_body_bytes) noexcept { max_body_ = max_body_bytes; }

    // Appends decoded chunk data to `body`.
    result decode(std::string_view in, std::string& body) {
        return run(in, [&body](std::string_view data) {
            body.append(data);
            return true;
        });
    }

    struct piece_result {
        status state;
        std::size_t consumed;
        std::string_view piece;   // chunk data inside `in` (state need_more), or empty
    };

    // Consumes framing up to and including the next run of chunk data, and returns that data as a
    // view into `in` instead of copying it. An empty piece with need_more: `in` ended first.
    piece_result next_piece(std::string_view in) {
        std::string_view piece;
        auto r = run(in, [&piece](std::string_view data) {
            piece = data;
            return false;
        });
        return {r.state, r.consumed, piece};
    }

private:
    enum class state : std::uint8_t { size_line, data, data_crlf, trailer, finished };

    // The state machine; `take(data)` receives each non-empty run of chunk data and returns false to
    // stop right after it (reported as need_more, with `consumed` just past the data).
    template <class Take>
    result run(std::string_view in, Take&& take) {
        std::size_t pos = 0;
        for (;;) {
            switch (state_) {
            case state::size_line: {
                auto line = next_line(in, pos);
                if (line.state != status::done) return {line.state, pos};
                auto s = parse_size_line(line.text);
                if (s != status::done) return {s, pos};
                state_ = chunk_remaining_ == 0 ? state::trailer : state::data;
                break;
            }
            case state::data: {
                std::size_t available = in.size() - pos;
                std::size_t n = available < chunk_remaining_ ? available : static_cast<std::size_t>(chunk_remaining_);
                if (n == 0) return {status::need_more, pos};
                pos += n;
                chunk_remaining_ -= n;
                if (chunk_remaining_ == 0) state_ = state::data_crlf;
                if (!take(in.substr(pos - n, n))) return {status::need_more, pos};
                if (chunk_remaining_ != 0) return {status::need_more, pos};
                break;
            }
            case state::data_crlf: {
                if (in.size() - pos < 2) return {status::need_more, pos};
                if (in[pos] != '\r' || in[pos + 1] != '\n') return {status::bad_request, pos};
                pos += 2;
                state_ = state::size_line;
                break;
            }
            case state::trailer: {
                auto line = next_line(in, pos);
                if (line.state != status::done) return {line.state, pos};
                if (line.text.empty()) {
                    state_ = state::finished;
                    return {status::done, pos};
                }
                if (++trailers_ > max_trailers_ || !valid_trailer_field(line.text)) return {status::bad_request, pos};
                if ((metadata_ += line.text.size() + 2) > max_metadata_) return {status::too_much_metadata, pos};
                break;
            }
            case state::finished: return {status::done, pos};
            }
        }
    }

    // A size line or trailer line longer than this is an attack, not a chunk extension.
    static constexpr std::size_t max_line_bytes = 4096;

    struct line_result {
        status state;
        std::string_view text;   // without CRLF
    };

    // Takes one CRLF-terminated line from in[pos..], advancing pos past it. A bare LF or a CR
    // not followed by LF is malformed (RFC 9112 §2.2 lets a recipient reject them).
    static line_result next_line(std::string_view in, std::size_t& pos) {
        auto rest = in.substr(pos);
        auto lf = rest.find('\n');
        if (lf == std::string_view::npos)
            return {rest.size() > max_line_bytes ? status::bad_request : status::need_more, {}};
        if (lf == 0 || rest[lf - 1] != '\r' || lf > max_line_bytes) return {status::bad_request, {}};
        auto text = rest.substr(0, lf - 1);
        if (text.find('\r') != std::string_view::npos) return {status::bad_request, {}};
        pos += lf + 1;
        return {status::done, text};
    }

    status parse_size_line(std::string_view line) {
        std::size_t i = 0;
        std::uint64_t size = 0;
        for (; i < line.size(); ++i) {
            int digit = hex_value(line[i]);
            if (digit < 0) break;
            if (i >= 16) return status::bad_request;   // more than 64 bits of size
            size = (size << 4) | static_cast<std::uint64_t>(digit);
        }
        if (i == 0) return status::bad_request;        // chunk-size = 1*HEXDIG
        if ((metadata_ += line.size() - i) > max_metadata_) return status::too_much_metadata;
        if (!valid_chunk_extensions(line.substr(i))) return status::bad_request;
        if (decoded_ > max_body_ || size > max_body_ - decoded_) return status::too_large;
        decoded_ += size;
        chunk_remaining_ = size;
        return status::done;
    }

    static int hex_value(char c) noexcept {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }

    static void skip_bws(std::string_view s, std::size_t& i) noexcept {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    }

    static std::size_t token_end(std::string_view s, std::size_t i) noexcept {
        while (i < s.size() && detail::is_tchar(s[i])) ++i;
        return i;
    }

    // chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ), where
    // chunk-ext-val = token / quoted-string (RFC 9112 §7.1.1). Extensions are validated and
    // ignored: none is defined that a server must act on. BWS only ever precedes a ';', so
    // whitespace ending the line ("5 \r\n") is outside the grammar and refused.
    static bool valid_chunk_extensions(std::string_view s) noexcept {
        std::size_t i = 0;
        for (;;) {
            if (i == s.size()) return true;
            skip_bws(s, i);
            if (i == s.size() || s[i] != ';') return false;
            ++i;
            skip_bws(s, i);
            auto name_end = token_end(s, i);
            if (name_end == i) return false;
            i = name_end;
            auto before_eq = i;
            skip_bws(s, i);
            if (i < s.size() && s[i] == '=') {
                ++i;
                skip_bws(s, i);
                if (i < s.size() && s[i] == '"') {
                    if (!skip_quoted_string(s, i)) return false;
                } else {
                    auto value_end = token_end(s, i);
                    if (value_end == i) return false;
                    i = value_end;
                }
            } else {
                i = before_eq;
            }
        }
    }

    // quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 9110 §5.6.4)
    static bool skip_quoted_string(std::string_view s, std::size_t& i) noexcept {
        ++i;   // opening quote
        while (i < s.size()) {
            char c = s[i];
            if (c == '"') {
                ++i;
                return true;
            }
            if (c == '\\') {
                if (++i == s.size() || !detail::is_field_value_char(s[i])) return false;
            } else if (!detail::is_field_value_char(c)) {
                return false;
            }
            ++i;
        }
        return false;
    }

    static bool valid_trailer_field(std::string_view line) noexcept {
        auto colon = line.find(':');
        if (colon == std::string_view::npos || !detail::is_token(line.substr(0, colon))) return false;
        for (char c : line.substr(colon + 1))
            if (!detail::is_field_value_char(c)) return false;
        return true;
    }

    state state_ = state::size_line;
    std::uint64_t chunk_remaining_ = 0;
    std::uint64_t decoded_ = 0;
    std::uint64_t max_body_;
    std::size_t max_trailers_;
    std::size_t max_metadata_;
    std::size_t trailers_ = 0;
    std::size_t metadata_ = 0;   // extension and trailer bytes seen in this body
};

} // namespace tether::http
