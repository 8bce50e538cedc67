#pragma once
// Base64 (RFC 4648 §4, the standard alphabet with '=' padding), used by the WebSocket handshake
// (Sec-WebSocket-Key / Sec-WebSocket-Accept, RFC 6455 §4) and available to anyone else who needs it.
//
// The decoder is strict on purpose (RFC 4648 §3.3, §3.5 allow it): no whitespace, no missing padding,
// no characters outside the alphabet, no data after padding, and no non-zero bits in the padding
// positions. A lenient decoder would accept several spellings of one key, and the handshake compares
// keys as text. The URL-safe alphabet (§5) is not needed by any protocol here and is left out.

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

// 0..63 for alphabet characters, 0xff for everything else (including '=').
inline constexpr std::array<std::uint8_t, 256> base64_values = [] {
    std::array<std::uint8_t, 256> table{};
    table.fill(0xff);
    for (std::size_t i = 0; i < base64_alphabet.size(); ++i)
        table[static_cast<unsigned char>(base64_alphabet[i])] = static_cast<std::uint8_t>(i);
    return table;
}();
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

}  // namespace tether::core
