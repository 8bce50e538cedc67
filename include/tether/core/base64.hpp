#pragma once
// Base64 (RFC 4648 §4, the standard alphabet with '=' padding), used by the WebSocket handshake
// (Sec-WebSocket-Key / Sec-WebSocket-Accept, RFC 6455 §4), and base64url (RFC 4648 §5, '-' and '_'
// for '+' and '/', no padding) as JWS and JWT use it (RFC 7515 §2, Appendix C).
//
// Both decoders are strict on purpose (RFC 4648 §3.3, §3.5 allow it): no whitespace, no characters
// outside the alphabet, and no non-zero bits in the positions the last character only half fills.
// A lenient decoder would accept several spellings of one value: the handshake compares keys as
// text, and a token whose signature can be respelled is a second valid token (a replay cache or a
// revocation list keyed on the text would miss it). base64 requires its padding; base64url refuses
// it, since RFC 7515 §2 defines the encoding "with all trailing '=' characters omitted".

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tether::core {

namespace detail {
inline constexpr std::string_view base64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

inline constexpr std::string_view base64url_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// 0..63 for alphabet characters, 0xff for everything else (including '=').
constexpr std::array<std::uint8_t, 256> base64_table(std::string_view alphabet) {
    std::array<std::uint8_t, 256> table{};
    table.fill(0xff);
    for (std::size_t i = 0; i < alphabet.size(); ++i)
        table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::uint8_t>(i);
    return table;
}
inline constexpr std::array<std::uint8_t, 256> base64_values = base64_table(base64_alphabet);
inline constexpr std::array<std::uint8_t, 256> base64url_values = base64_table(base64url_alphabet);
}  // namespace detail

[[nodiscard]] constexpr std::size_t base64_encoded_size(std::size_t input_size) noexcept {
    return (input_size + 2) / 3 * 4;
}

// Writes exactly base64_encoded_size(input.size()) characters to `out` and returns the end pointer,
// so callers with a fixed buffer (the 28-character accept key) need no allocation.
constexpr char* base64_encode_to(std::string_view input, char* out) noexcept {
    const auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(input[i])); };
    std::size_t i = 0;
    for (; i + 3 <= input.size(); i += 3) {
        const std::uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
        *out++ = detail::base64_alphabet[(v >> 18) & 63];
        *out++ = detail::base64_alphabet[(v >> 12) & 63];
        *out++ = detail::base64_alphabet[(v >> 6) & 63];
        *out++ = detail::base64_alphabet[v & 63];
    }
    const std::size_t rest = input.size() - i;
    if (rest != 0) {
        const std::uint32_t v = (byte(i) << 16) | (rest == 2 ? byte(i + 1) << 8 : 0);
        *out++ = detail::base64_alphabet[(v >> 18) & 63];
        *out++ = detail::base64_alphabet[(v >> 12) & 63];
        *out++ = rest == 2 ? detail::base64_alphabet[(v >> 6) & 63] : '=';
        *out++ = '=';
    }
    return out;
}

[[nodiscard]] inline std::string base64_encode(std::string_view input) {
    std::string out(base64_encoded_size(input.size()), '\0');
    base64_encode_to(input, out.data());
    return out;
}

// Strict decode; std::nullopt on any malformed input (see the header comment for what counts).
[[nodiscard]] inline std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::size_t padding = 0;
    if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;

    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        const std::size_t data_chars = last ? 4 - padding : 4;
        std::uint32_t v = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            std::uint32_t six = 0;
            if (j < data_chars) {
                six = detail::base64_values[static_cast<unsigned char>(text[i + j])];
                if (six == 0xff) return std::nullopt;  // also catches '=' before the final padding
            }
            v = (v << 6) | six;
        }
        out.push_back(static_cast<char>(v >> 16));
        if (data_chars >= 3) out.push_back(static_cast<char>((v >> 8) & 0xff));
        if (data_chars == 4) out.push_back(static_cast<char>(v & 0xff));
        // RFC 4648 §3.5: the bits the padding stands for must be zero, otherwise two texts decode alike.
        if ((data_chars == 2 && (v & 0xffff) != 0) || (data_chars == 3 && (v & 0xff) != 0)) return std::nullopt;
    }
    return out;
}

// ---- base64url (RFC 4648 §5) without padding (RFC 7515 §2) ---------------------------------------

[[nodiscard]] constexpr std::size_t base64url_encoded_size(std::size_t input_size) noexcept {
    return input_size / 3 * 4 + (input_size % 3 == 0 ? 0 : input_size % 3 + 1);
}

// Writes exactly base64url_encoded_size(input.size()) characters and returns the end pointer.
constexpr char* base64url_encode_to(std::string_view input, char* out) noexcept {
    const auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(input[i])); };
    constexpr std::string_view a = detail::base64url_alphabet;
    std::size_t i = 0;
    for (; i + 3 <= input.size(); i += 3) {
        const std::uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
        *out++ = a[(v >> 18) & 63];
        *out++ = a[(v >> 12) & 63];
        *out++ = a[(v >> 6) & 63];
        *out++ = a[v & 63];
    }
    const std::size_t rest = input.size() - i;
    if (rest != 0) {
        const std::uint32_t v = (byte(i) << 16) | (rest == 2 ? byte(i + 1) << 8 : 0);
        *out++ = a[(v >> 18) & 63];
        *out++ = a[(v >> 12) & 63];
        if (rest == 2) *out++ = a[(v >> 6) & 63];
    }
    return out;
}

[[nodiscard]] inline std::string base64url_encode(std::string_view input) {
    std::string out(base64url_encoded_size(input.size()), '\0');
    base64url_encode_to(input, out.data());
    return out;
}

// Size of the decoding of `length` base64url characters, or nullopt when no input has that length
// (a lone character in the last group carries only 6 bits: less than one byte).
[[nodiscard]] constexpr std::optional<std::size_t> base64url_decoded_size(std::size_t length) noexcept {
    if (length % 4 == 1) return std::nullopt;
    return length / 4 * 3 + (length % 4 == 0 ? 0 : length % 4 - 1);
}

// Strict decode, appending to `out`; false on any malformed input ('=' included), leaving `out` with a
// partial result the caller discards. Appending lets a caller reuse one buffer for several parts.
inline bool base64url_decode_append(std::string_view text, std::string& out) {
    const auto size = base64url_decoded_size(text.size());
    if (!size) return false;
    out.reserve(out.size() + *size);
    const auto six = [&](std::size_t i) { return detail::base64url_values[static_cast<unsigned char>(text[i])]; };
    std::size_t i = 0;
    for (; i + 4 <= text.size(); i += 4) {
        const std::uint32_t a = six(i), b = six(i + 1), c = six(i + 2), d = six(i + 3);
        if (((a | b | c | d) & 0x80) != 0) return false;   // a non-alphabet character (0xff)
        const std::uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
        out.push_back(static_cast<char>(v >> 16));
        out.push_back(static_cast<char>((v >> 8) & 0xff));
        out.push_back(static_cast<char>(v & 0xff));
    }
    const std::size_t rest = text.size() - i;   // 0, 2 or 3
    if (rest == 0) return true;
    const std::uint32_t a = six(i), b = six(i + 1), c = rest == 3 ? six(i + 2) : 0;
    if (((a | b | c) & 0x80) != 0) return false;
    const std::uint32_t v = (a << 18) | (b << 12) | (c << 6);
    out.push_back(static_cast<char>(v >> 16));
    if (rest == 3) out.push_back(static_cast<char>((v >> 8) & 0xff));
    // RFC 4648 §3.5: the bits past the last whole byte must be zero, otherwise two texts decode alike.
    return (rest == 2 ? (v & 0xffff) : (v & 0xff)) == 0;
}

[[nodiscard]] inline std::optional<std::string> base64url_decode(std::string_view text) {
    std::string out;
    if (!base64url_decode_append(text, out)) return std::nullopt;
    return out;
}

}  // namespace tether::core
