#pragma once
// WebSocket close status codes (RFC 6455 §7.4, IANA "WebSocket Close Code Number Registry") and the rule for
// which of them may appear in a Close frame on the wire.
//
// A scoped enum with a 16-bit underlying type, not a closed set: applications use 3000-4999 freely, so any
// value is representable (`close_code{4001}`) and validity is a separate question answered by
// is_valid_wire_close_code(). Rejected: a plain integer (loses the names in logs and signatures) and a
// class with a string reason attached (the reason belongs to the frame, not the code).

#include <cstdint>
#include <string_view>

namespace tether::ws {

enum class close_code : std::uint16_t {
    normal = 1000,
    going_away = 1001,
    protocol_error = 1002,
    unsupported_data = 1003,
    no_status_received = 1005,  // reserved: "no code was present"; never sent (§7.4.1)
    abnormal_closure = 1006,    // reserved: "closed without a Close frame"; never sent (§7.4.1)
    invalid_payload = 1007,     // e.g. a text message that is not UTF-8 (§8.1)
    policy_violation = 1008,
    message_too_big = 1009,
    mandatory_extension = 1010,  // sent by clients only (§7.4.1), but harmless to accept
    internal_error = 1011,
    service_restart = 1012,  // 1012-1014: registered with IANA after RFC 6455, sent by real servers
    try_again_later = 1013,
    bad_gateway = 1014,
    tls_handshake = 1015,  // reserved: TLS failure; never sent (§7.4.1)
};

[[nodiscard]] constexpr std::uint16_t to_underlying(close_code code) noexcept {
    return static_cast<std::uint16_t>(code);
}

// Codes an endpoint may put in a Close frame and so may accept in one (§7.4.1, §7.4.2): the assigned codes
// 1000-1003 and 1007-1014, and 3000-4999 (libraries/frameworks, then private use). 0-999 are unused, the rest
// of 1000-2999 is reserved for future RFCs, and 1004/1005/1006/1015 must never be on the wire.
[[nodiscard]] constexpr bool is_valid_wire_close_code(std::uint16_t code) noexcept {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}
[[nodiscard]] constexpr bool is_valid_wire_close_code(close_code code) noexcept {
    return is_valid_wire_close_code(to_underlying(code));
}

[[nodiscard]] constexpr std::string_view to_string(close_code code) noexcept {
    switch (code) {
        case close_code::normal: return "normal closure";
        case close_code::going_away: return "going away";
        case close_code::protocol_error: return "protocol error";
        case close_code::unsupported_data: return "unsupported data";
        case close_code::no_status_received: return "no status received";
        case close_code::abnormal_closure: return "abnormal closure";
        case close_code::invalid_payload: return "invalid frame payload data";
        case close_code::policy_violation: return "policy violation";
        case close_code::message_too_big: return "message too big";
        case close_code::mandatory_extension: return "mandatory extension";
        case close_code::internal_error: return "internal error";
        case close_code::service_restart: return "service restart";
        case close_code::try_again_later: return "try again later";
        case close_code::bad_gateway: return "bad gateway";
        case close_code::tls_handshake: return "TLS handshake failure";
    }
    const auto value = to_underlying(code);
    if (value >= 3000 && value <= 3999) return "registered (3000-3999)";
    if (value >= 4000 && value <= 4999) return "private use (4000-4999)";
    return "unknown";
}

}  // namespace tether::ws
