#pragma once
// WebSocket frame opcodes (RFC 6455 §5.2, §11.8). A scoped enum rather than raw integers so a frame's
// opcode cannot be confused with a length or a close code; the 4-bit wire value is the underlying value,
// which keeps encoding and decoding a cast. Unassigned values (3-7, 0xB-0xF) are not enumerators: the
// parser rejects them before an `opcode` is ever formed (§5.2: "MUST _Fail the WebSocket Connection_").

#include <cstdint>
#include <string_view>

namespace tether::ws {

enum class opcode : std::uint8_t {
    continuation = 0x0,
    text = 0x1,
    binary = 0x2,
    close = 0x8,
    ping = 0x9,
    pong = 0xa,
};

// True for the six values RFC 6455 defines; the parser fails the connection on anything else.
[[nodiscard]] constexpr bool is_known_opcode(std::uint8_t value) noexcept {
    return value <= 0x2 || (value >= 0x8 && value <= 0xa);
}

// Control frames (§5.5) have the high bit of the opcode set: they are at most 125 bytes, never fragmented,
// and may arrive between the fragments of a data message.
[[nodiscard]] constexpr bool is_control(opcode op) noexcept { return (static_cast<std::uint8_t>(op) & 0x8) != 0; }

// Data frames start (text, binary) or continue (continuation) a message (§5.6).
[[nodiscard]] constexpr bool is_data(opcode op) noexcept { return !is_control(op); }

[[nodiscard]] constexpr std::string_view to_string(opcode op) noexcept {
    switch (op) {
        case opcode::continuation: return "continuation";
        case opcode::text: return "text";
        case opcode::binary: return "binary";
        case opcode::close: return "close";
        case opcode::ping: return "ping";
        case opcode::pong: return "pong";
    }
    return "unknown";
}

}  // namespace tether::ws
