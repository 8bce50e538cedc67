#pragma once
// The RFC 6455 §5 frame codec, with no I/O: an incremental parser that takes bytes and gives events, masking,
// and an encoder that writes frame headers and whole frames.
//
// Parser shape, and why:
//  - Pull, one event per call: `next(span<char>)` returns a header, a piece of unmasked payload, need_more or
//    an error, plus how many bytes it consumed. No callbacks or virtual handlers, no allocation, and the
//    caller (a connection, the client, a test, the fuzzer) decides what to buffer.
//  - Zero-copy: payload is unmasked in place and returned as a view into the caller's buffer. Bytes not
//    consumed (a partial header, a control frame still incomplete) must be offered again, followed by more
//    data; that is the "keep only leftover partial bytes per connection" rule, and it is why the
//    parser's own state is a few dozen bytes. Control frames (at most 125 bytes) are only consumed whole, so
//    a ping or close is always delivered in one piece without an internal copy.
//  - Fail fast: every rule is checked at the earliest byte that decides it (opcode and RSV bits at the first
//    byte, mask bit and control length at the second, the message size limit at the end of the header, before
//    any payload is buffered; UTF-8 in the piece of payload where it breaks). Violations become the close code
//    RFC 6455 asks for: 1002 protocol error, 1007 invalid payload, 1009 message too big.
// Rejected: Beast-style buffer-owning parsers (a copy per byte and a buffer per connection) and a parser that
// only hands out whole frames (64-bit lengths make "buffer the whole frame" a memory-exhaustion bug).
// Reassembling fragments into messages is a separate job: see message_assembler.hpp.
//
// Decision on non-minimal length encodings (e.g. 5 sent as 126,0,5): §5.2 says the minimal form MUST be used,
// but gives the receiver no rule. We reject them by default (1002), like Beast: no conforming sender produces
// them, and one spelling per frame keeps parser differentials out. `allow_non_minimal_length` turns it off.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include <tether/core/utf8.hpp>
#include <tether/ws/close_code.hpp>
#include <tether/ws/opcode.hpp>

namespace tether::ws {

// The endpoint a parser runs in: a server receives masked frames, a client unmasked ones (§5.1).
enum class role : std::uint8_t { server, client };

using mask_key = std::array<std::uint8_t, 4>;

inline constexpr std::size_t max_frame_header_size = 14;        // 2 + 8-byte length + 4-byte mask key
inline constexpr std::size_t max_control_payload_size = 125;    // §5.5
inline constexpr std::size_t max_close_reason_size = 123;       // 125 minus the 2-byte code (§5.5.1)
inline constexpr std::uint64_t default_max_message_size = 1u << 20;  // 1 MiB by default (1009 past it)

// RSV bit values as they sit in frame_header::rsv (RSV1 is the one permessage-deflate uses, RFC 7692).
inline constexpr std::uint8_t rsv1 = 0x4, rsv2 = 0x2, rsv3 = 0x1;

// The bytes a compressed message (RSV1, RFC 7692) may take on the wire when its content may be
// `max_message_size`: incompressible data grows a little (stored blocks add 5 bytes per 64 KiB; fixed Huffman
// codes at most 9 bits per byte), so the wire bound is an eighth more, and the content itself is bounded
// after decompression by whoever inflates it. Still a bound: a stream of empty blocks cannot run forever.
[[nodiscard]] constexpr std::uint64_t compressed_message_wire_limit(std::uint64_t max_message_size) noexcept {
    const std::uint64_t extra = max_message_size / 8 + 64;
    return max_message_size > UINT64_MAX - extra ? UINT64_MAX : max_message_size + extra;
}

struct frame_header {
    bool fin = true;
    std::uint8_t rsv = 0;  // RSV1..RSV3 as bits 2..0
    opcode op = opcode::text;
    bool masked = false;
    mask_key key{};
    std::uint64_t payload_length = 0;
    std::uint8_t length_bits = 7;  // how the length was encoded on the wire: 7, 16 or 64 (parser output only)
};

// ---- masking (§5.3) -------------------------------------------------------------------------------------

// XORs `data` with the masking key, where data[0] is byte number `offset` of the frame payload (only
// offset % 4 matters). Returns the offset of the byte after `data`, so a payload split at any point can be
// (un)masked piece by piece. Works a 64-bit word at a time once the pointer is aligned.
inline std::size_t apply_mask(std::span<char> data, const mask_key& key, std::size_t offset = 0) noexcept {
    char* p = data.data();
    const std::size_t n = data.size();
    std::size_t i = 0;
    for (; i < n && (reinterpret_cast<std::uintptr_t>(p + i) % alignof(std::uint64_t)) != 0; ++i)
        p[i] = static_cast<char>(p[i] ^ key[(offset + i) & 3]);
    if (n - i >= 8) {
        // The key rotated to start at byte i, repeated twice: a word boundary is a multiple of 4 bytes on.
        std::array<std::uint8_t, 8> pattern{};
        for (std::size_t j = 0; j < 8; ++j) pattern[j] = key[(offset + i + j) & 3];
        std::uint64_t word_key = 0;
        std::memcpy(&word_key, pattern.data(), 8);
        for (; n - i >= 8; i += 8) {
            std::uint64_t word = 0;
            std::memcpy(&word, p + i, 8);  // memcpy, not a cast: no aliasing UB, still one aligned load
            word ^= word_key;
            std::memcpy(p + i, &word, 8);
        }
    }
    for (; i < n; ++i) p[i] = static_cast<char>(p[i] ^ key[(offset + i) & 3]);
    return (offset + n) & 3;
}

// ---- close frame payload (§5.5.1, §7.4) ---------------------------------------------------------------

struct close_info {
    close_code code = close_code::no_status_received;  // what an empty Close body means (§7.1.5)
    std::string_view reason;
};

// Decodes a Close frame body. std::nullopt when it is malformed: 1 byte long, a code not valid on the wire,
// or a reason that is not UTF-8. (frame_parser has already rejected those with 1002/1007.)
[[nodiscard]] inline std::optional<close_info> parse_close_payload(std::string_view payload) noexcept {
    if (payload.empty()) return close_info{};
    if (payload.size() == 1) return std::nullopt;
    const auto code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                                 static_cast<unsigned char>(payload[1]));
    if (!is_valid_wire_close_code(code)) return std::nullopt;
    const std::string_view reason = payload.substr(2);
    if (!core::is_valid_utf8(reason)) return std::nullopt;
    return close_info{static_cast<close_code>(code), reason};
}

// Builds a Close frame body: the code in network byte order, then the reason. Throws std::invalid_argument
// for a code that must not be sent (1005, 1006, 1015, unassigned), a reason over 123 bytes, or one that
// is not UTF-8. A Close with no body at all is simply a close frame with an empty payload.
[[nodiscard]] inline std::string close_payload(close_code code, std::string_view reason = {}) {
    const auto value = to_underlying(code);
    if (!is_valid_wire_close_code(value))
        throw std::invalid_argument("tether::ws::close_payload: close code " + std::to_string(value) +
                                    " may not be sent in a Close frame (RFC 6455 §7.4)");
    if (reason.size() > max_close_reason_size)
        throw std::invalid_argument("tether::ws::close_payload: reason is " + std::to_string(reason.size()) +
                                    " bytes; a Close frame allows at most 123 (RFC 6455 §5.5)");
    if (!core::is_valid_utf8(reason))
        throw std::invalid_argument("tether::ws::close_payload: reason is not valid UTF-8 (RFC 6455 §5.5.1)");
    std::string out;
    out.reserve(2 + reason.size());
    out.push_back(static_cast<char>(value >> 8));
    out.push_back(static_cast<char>(value & 0xff));
    out.append(reason);
    return out;
}

// ---- encoder (§5.2) -----------------------------------------------------------------------------------

// Writes the header for `h` (always the minimal length encoding; h.length_bits is ignored) and returns its
// size, 2 to 14 bytes. Throws std::invalid_argument for a header no peer would accept: an unassigned
// opcode, RSV outside 0..7, a fragmented or over-125-byte control frame, or a length of 2^63 or more.
inline std::size_t write_frame_header(std::span<char, max_frame_header_size> out, const frame_header& h) {
    const auto op = static_cast<std::uint8_t>(h.op);
    if (!is_known_opcode(op)) throw std::invalid_argument("tether::ws::write_frame_header: unassigned opcode");
    if (h.rsv > 7) throw std::invalid_argument("tether::ws::write_frame_header: rsv must be a 3-bit value");
    if (is_control(h.op) && (!h.fin || h.payload_length > max_control_payload_size))
        throw std::invalid_argument(
            "tether::ws::write_frame_header: control frames must be unfragmented and at most 125 bytes "
            "(RFC 6455 §5.5)");
    if (h.payload_length >> 63)
        throw std::invalid_argument("tether::ws::write_frame_header: payload length must be below 2^63 (§5.2)");

    std::size_t n = 0;
    out[n++] = static_cast<char>((h.fin ? 0x80 : 0) | (h.rsv << 4) | op);
    const char mask_bit = static_cast<char>(h.masked ? 0x80 : 0);
    if (h.payload_length < 126) {
        out[n++] = static_cast<char>(mask_bit | static_cast<char>(h.payload_length));
    } else if (h.payload_length <= 0xffff) {
        out[n++] = static_cast<char>(mask_bit | 126);
        for (int s = 8; s >= 0; s -= 8) out[n++] = static_cast<char>((h.payload_length >> s) & 0xff);
    } else {
        out[n++] = static_cast<char>(mask_bit | 127);
        for (int s = 56; s >= 0; s -= 8) out[n++] = static_cast<char>((h.payload_length >> s) & 0xff);
    }
    if (h.masked)
        for (std::uint8_t b : h.key) out[n++] = static_cast<char>(b);
    return n;
}

// A header in a fixed buffer, for gather writes (header + shared payload) without an allocation.
struct frame_header_bytes {
    std::array<char, max_frame_header_size> bytes{};
    std::size_t size = 0;
    [[nodiscard]] std::string_view view() const noexcept { return {bytes.data(), size}; }
};

[[nodiscard]] inline frame_header_bytes encode_frame_header(const frame_header& h) {
    frame_header_bytes out;
    out.size = write_frame_header(out.bytes, h);
    return out;
}

// Appends one whole frame to `out`: unmasked (what a server sends), or masked with `key` (what a client
// must send, §5.3; the key must come from a strong random source, which is the caller's business).
// `rsv` sets RSV bits a negotiated extension gives meaning to (rsv1: a compressed message, RFC 7692 §6).
inline void append_frame(std::string& out, opcode op, std::string_view payload, bool fin = true,
                         std::optional<mask_key> key = std::nullopt, std::uint8_t rsv = 0) {
    const auto header = encode_frame_header({.fin = fin,
                                             .rsv = rsv,
                                             .op = op,
                                             .masked = key.has_value(),
                                             .key = key.value_or(mask_key{}),
                                             .payload_length = payload.size()});
    const std::size_t start = out.size();
    out.reserve(start + header.size + payload.size());
    out.append(header.view());
    out.append(payload);
    if (key) apply_mask(std::span<char>(out).subspan(start + header.size), *key);
}

[[nodiscard]] inline std::string make_server_frame(opcode op, std::string_view payload, bool fin = true) {
    std::string out;
    append_frame(out, op, payload, fin);
    return out;
}

[[nodiscard]] inline std::string make_client_frame(opcode op, std::string_view payload, const mask_key& key,
                                                   bool fin = true) {
    std::string out;
    append_frame(out, op, payload, fin, key);
    return out;
}

// ---- parser ---------------------------------------------------------------------------------------------

struct frame_parser_options {
    std::uint64_t max_message_size = default_max_message_size;  // sum of a message's frames; 1009 beyond
    std::uint8_t allowed_rsv = 0;           // RSV bits a negotiated extension gives meaning to (§5.2)
    bool allow_non_minimal_length = false;  // see the header comment
};

enum class parse_status : std::uint8_t {
    need_more,  // offer the unconsumed bytes again, with more appended
    header,     // a frame header was read: see frame_parser::header()
    payload,    // a piece of unmasked payload (possibly empty) of the current frame
    error,      // the connection must be failed: see error_code() / error_reason()
};

struct parse_result {
    parse_status status = parse_status::need_more;
    std::size_t consumed = 0;    // bytes at the front of the input this call used up
    std::string_view payload{};  // parse_status::payload only: a view into the caller's buffer
    bool frame_end = false;      // this piece ends the frame
    bool message_end = false;    // ...and the message: a final data frame, or any control frame
};

class frame_parser {
public:
    explicit frame_parser(role endpoint, frame_parser_options options = {}) noexcept
        : max_message_size_(options.max_message_size), role_(endpoint), allowed_rsv_(options.allowed_rsv),
          allow_non_minimal_length_(options.allow_non_minimal_length) {}

    // Reads one event from the front of `input`, unmasking payload in place. Each data frame yields a header
    // and then one or more payload events, the last with frame_end set (a zero-length frame yields one empty
    // piece, even from empty input). A control frame yields its header and then exactly one payload event
    // holding the whole payload. After an error, or once a Close frame has been delivered, no more frames
    // are accepted (§5.5.1: nothing follows a Close).
    [[nodiscard]] parse_result next(std::span<char> input) noexcept {
        switch (state_) {
            case state::header: return parse_header(input);
            case state::payload: return parse_payload(input);
            case state::closed:
                if (input.empty()) return {};
                return fail(close_code::protocol_error, "data received after a Close frame");
            case state::failed: break;
        }
        return {parse_status::error};
    }

    // Calls on_event(const parse_result&) for each header and payload event in `input` until it needs more
    // bytes or fails; returns the bytes consumed. Check failed() afterwards.
    template <class OnEvent>
    std::size_t parse(std::span<char> input, OnEvent&& on_event) {
        std::size_t total = 0;
        for (;;) {
            const parse_result r = next(input.subspan(total));
            total += r.consumed;
            if (r.status == parse_status::need_more || r.status == parse_status::error) return total;
            on_event(r);
        }
    }

    // The frame being read (valid from its header event on).
    [[nodiscard]] const frame_header& header() const noexcept { return header_; }
    // text or binary: the opcode of the data message the current data frame belongs to.
    [[nodiscard]] opcode message_opcode() const noexcept { return message_opcode_; }
    [[nodiscard]] bool in_message() const noexcept { return in_message_; }
    // Nothing of a frame or of a fragmented message is pending: a fresh parser with the same
    // options would read what comes next the same way (so a connection need not keep this one).
    [[nodiscard]] bool between_messages() const noexcept { return state_ == state::header && !in_message_; }
    // The current data message's first frame had RSV1: with permessage-deflate, it is compressed.
    [[nodiscard]] bool message_compressed() const noexcept { return message_compressed_; }
    [[nodiscard]] bool failed() const noexcept { return state_ == state::failed; }
    [[nodiscard]] bool close_received() const noexcept { return state_ == state::closed; }
    // The close code to send when failed(): 1002, 1007 or 1009; and a static description for logs (or the
    // Close frame's reason: all fit in 123 bytes).
    [[nodiscard]] close_code error_code() const noexcept { return error_code_; }
    [[nodiscard]] std::string_view error_reason() const noexcept { return error_reason_; }
    [[nodiscard]] role endpoint() const noexcept { return role_; }
    [[nodiscard]] frame_parser_options options() const noexcept {
        return {.max_message_size = max_message_size_, .allowed_rsv = allowed_rsv_, .allow_non_minimal_length = allow_non_minimal_length_};
    }

    void reset() noexcept { *this = frame_parser(role_, options()); }

private:
    enum class state : std::uint8_t { header, payload, closed, failed };

    parse_result fail(close_code code, const char* reason) noexcept {
        state_ = state::failed;
        error_code_ = code;
        error_reason_ = reason;
        return {parse_status::error};
    }

    parse_result parse_header(std::span<char> input) noexcept {
        if (input.empty()) return {};
        const auto b0 = static_cast<std::uint8_t>(input[0]);
        const bool fin = (b0 & 0x80) != 0;
        const auto rsv = static_cast<std::uint8_t>((b0 >> 4) & 0x7);
        const auto op_value = static_cast<std::uint8_t>(b0 & 0xf);
        if (!is_known_opcode(op_value)) return fail(close_code::protocol_error, "unknown opcode");
        const auto op = static_cast<opcode>(op_value);
        // §5.2: a nonzero RSV bit nobody negotiated fails the connection; no extension we know uses them on
        // control frames (RFC 7692 §6.1 forbids RSV1 there).
        if ((rsv & ~allowed_rsv_) != 0 || (rsv != 0 && is_control(op)))
            return fail(close_code::protocol_error, "reserved bits set without a negotiated extension");
        // RFC 7692 §6.1: RSV1 ("Per-Message Compressed") belongs to a message's first frame only.
        if ((rsv & rsv1) != 0 && op == opcode::continuation)
            return fail(close_code::protocol_error, "RSV1 set on a continuation frame");
        if (is_control(op)) {
            if (!fin) return fail(close_code::protocol_error, "fragmented control frame");  // §5.5
        } else if (op == opcode::continuation) {
            if (!in_message_) return fail(close_code::protocol_error, "continuation frame outside a message");
        } else if (in_message_) {
            return fail(close_code::protocol_error, "new data frame inside a fragmented message");  // §5.4
        }
        if (input.size() < 2) return {};

        const auto b1 = static_cast<std::uint8_t>(input[1]);
        const bool masked = (b1 & 0x80) != 0;
        const auto length7 = static_cast<std::uint8_t>(b1 & 0x7f);
        if (role_ == role::server && !masked) return fail(close_code::protocol_error, "unmasked client frame");
        if (role_ == role::client && masked) return fail(close_code::protocol_error, "masked server frame");
        if (is_control(op) && length7 > max_control_payload_size)
            return fail(close_code::protocol_error, "control frame payload over 125 bytes");
        if (op == opcode::close && length7 == 1)
            return fail(close_code::protocol_error, "close frame with a 1-byte payload");  // §5.5.1

        const std::size_t extended = length7 == 126 ? 2 : length7 == 127 ? 8 : 0;
        const std::size_t header_size = 2 + extended + (masked ? 4 : 0);
        if (input.size() < header_size) return {};

        std::uint64_t length = length7;
        if (extended != 0) {
            length = 0;
            for (std::size_t i = 0; i < extended; ++i) length = (length << 8) | static_cast<std::uint8_t>(input[2 + i]);
            if (length >> 63) return fail(close_code::protocol_error, "64-bit length with the high bit set");
            const bool minimal = extended == 2 ? length >= 126 : length > 0xffff;
            if (!minimal && !allow_non_minimal_length_)
                return fail(close_code::protocol_error, "payload length not minimally encoded");
        }
        if (is_data(op)) {
            const std::uint64_t so_far = op == opcode::continuation ? message_size_ : 0;
            const bool compressed = op == opcode::continuation ? message_compressed_ : (rsv & rsv1) != 0;
            const std::uint64_t limit =
                compressed ? compressed_message_wire_limit(max_message_size_) : max_message_size_;
            if (length > limit - so_far)
                return fail(close_code::message_too_big, "message exceeds the maximum size");
            if (op != opcode::continuation) {
                in_message_ = true;
                message_opcode_ = op;
                message_compressed_ = compressed;
                // With an extension active on the message (RSV1: compressed), the bytes here are not the
                // text; the extension validates after decoding.
                validate_text_ = op == opcode::text && (rsv & rsv1) == 0;
                text_.reset();
            }
            message_size_ = so_far + length;
        }

        header_ = frame_header{.fin = fin,
                               .rsv = rsv,
                               .op = op,
                               .masked = masked,
                               .key = {},
                               .payload_length = length,
                               .length_bits = static_cast<std::uint8_t>(extended == 0 ? 7 : extended == 2 ? 16 : 64)};
        if (masked)
            for (std::size_t i = 0; i < 4; ++i) header_.key[i] = static_cast<std::uint8_t>(input[2 + extended + i]);
        remaining_ = length;
        mask_offset_ = 0;
        state_ = state::payload;
        return {parse_status::header, header_size};
    }

    parse_result parse_payload(std::span<char> input) noexcept {
        if (is_control(header_.op)) {
            // Consumed only whole, so it is unmasked exactly once and handed out in one piece.
            if (input.size() < remaining_) return {};
            const auto bytes = input.first(static_cast<std::size_t>(remaining_));
            if (header_.masked) apply_mask(bytes, header_.key);
            const std::string_view payload(bytes.data(), bytes.size());
            if (header_.op == opcode::close && !payload.empty()) {
                const auto code = static_cast<std::uint16_t>((static_cast<std::uint8_t>(payload[0]) << 8) |
                                                             static_cast<std::uint8_t>(payload[1]));
                if (!is_valid_wire_close_code(code))
                    return fail(close_code::protocol_error, "invalid close code");  // §7.4.1
                if (!core::is_valid_utf8(payload.substr(2)))
                    return fail(close_code::invalid_payload, "close reason is not valid UTF-8");  // §5.5.1
            }
            remaining_ = 0;
            state_ = header_.op == opcode::close ? state::closed : state::header;
            return {parse_status::payload, bytes.size(), payload, true, true};
        }

        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, input.size()));
        if (n == 0 && remaining_ != 0) return {};
        const auto bytes = input.first(n);
        if (header_.masked) mask_offset_ = static_cast<std::uint8_t>(apply_mask(bytes, header_.key, mask_offset_));
        const std::string_view payload(bytes.data(), bytes.size());
        // §8.1: fail as soon as the text cannot be UTF-8, and at the end if it stops mid-character.
        if (validate_text_ && !text_.feed(payload))
            return fail(close_code::invalid_payload, "text message is not valid UTF-8");
        remaining_ -= n;
        const bool frame_end = remaining_ == 0;
        const bool message_end = frame_end && header_.fin;
        if (message_end && validate_text_ && !text_.is_complete())
            return fail(close_code::invalid_payload, "text message ends inside a UTF-8 sequence");
        if (frame_end) state_ = state::header;
        if (message_end) in_message_ = false;
        return {parse_status::payload, n, payload, frame_end, message_end};
    }

    // The options are kept field by field, the small ones with the other small fields: a struct member
    // would keep its own padding (8 bytes), and every idle WebSocket connection holds a parser.
    frame_header header_{};
    std::uint64_t remaining_ = 0;     // payload bytes of the current frame not yet delivered
    std::uint64_t message_size_ = 0;  // payload bytes announced so far for the current data message
    std::uint64_t max_message_size_;
    const char* error_reason_ = "";
    core::utf8_validator text_{};
    role role_;
    state state_ = state::header;
    opcode message_opcode_ = opcode::text;
    close_code error_code_ = close_code::normal;
    std::uint8_t mask_offset_ = 0;
    std::uint8_t allowed_rsv_;
    bool allow_non_minimal_length_;
    bool in_message_ = false;
    bool message_compressed_ = false;
    bool validate_text_ = false;
};

}  // namespace tether::ws
