#pragma once
// The RFC 6455 §4 opening handshake as pure functions over string_views: the accept key, client key checks
// and generation, the header token lists, and a check of a client's upgrade request.
//
// Why no request/response types here: the HTTP server, the WebSocket client and tests each have their own
// representation of headers; taking the few values that matter as string_views lets all of them use this
// without ws/ depending on http/'s types (and keeps it fuzzable and constexpr-adjacent). Rejected: a
// handshake object that writes the 101 response itself; the response belongs to the HTTP serializer.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tether/core/base64.hpp>
#include <tether/core/sha1.hpp>

namespace tether::ws {

// §1.3, §4.2.2: the GUID appended to the client's key before hashing.
inline constexpr std::string_view websocket_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
// §4.1, §4.4: the only version this protocol defines; a server answers others with 426 and this value.
inline constexpr std::string_view websocket_version = "13";
inline constexpr std::size_t client_key_size = 24;  // base64 of a 16-byte nonce
inline constexpr std::size_t accept_key_size = 28;  // base64 of a 20-byte SHA-1 digest

// Sec-WebSocket-Accept for a Sec-WebSocket-Key (§4.2.2 step 5.4): base64(SHA-1(key + GUID)). The key is
// used exactly as received (surrounding whitespace already stripped by the HTTP parser, per RFC 9110 §5.5).
[[nodiscard]] inline std::string accept_key(std::string_view sec_websocket_key) {
    core::sha1 h;
    h.update(sec_websocket_key).update(websocket_guid);
    const auto digest = h.finish();
    std::string out(accept_key_size, '\0');
    core::base64_encode_to(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()), out.data());
    return out;
}

// §4.1 step 7 / §4.2.1 item 5: the key must be the base64 encoding of 16 bytes. Strict base64, so exactly
// 24 characters ending in "==".
[[nodiscard]] inline bool is_valid_client_key(std::string_view key) {
    if (key.size() != client_key_size) return false;
    const auto decoded = core::base64_decode(key);
    return decoded && decoded->size() == 16;
}

// A Sec-WebSocket-Key from 16 random bytes. §4.1 asks for a nonce "randomly selected"; supplying it is the
// caller's job so this stays pure (and testable).
[[nodiscard]] inline std::string make_client_key(std::span<const std::uint8_t, 16> nonce) {
    return core::base64_encode(std::string_view(reinterpret_cast<const char*>(nonce.data()), nonce.size()));
}

// Client side, §4.1: the server's Sec-WebSocket-Accept must equal accept_key(our key), exactly.
[[nodiscard]] inline bool is_valid_accept(std::string_view client_key, std::string_view sec_websocket_accept) {
    return sec_websocket_accept == accept_key(client_key);
}

// ---- header lists (RFC 9110 §5.6.1: 1#element, elements separated by commas and optional whitespace) -----

[[nodiscard]] constexpr bool iequals_ascii(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

// Calls on_token(std::string_view) for each non-empty element of a comma-separated header value, with
// spaces and tabs around it removed. Empty elements ("a, ,b") are skipped, as RFC 9110 §5.6.1 requires.
template <class OnToken>
constexpr void for_each_token(std::string_view list, OnToken&& on_token) {
    while (!list.empty()) {
        const std::size_t comma = list.find(',');
        std::string_view element = list.substr(0, comma);
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        while (!element.empty() && (element.front() == ' ' || element.front() == '\t')) element.remove_prefix(1);
        while (!element.empty() && (element.back() == ' ' || element.back() == '\t')) element.remove_suffix(1);
        if (!element.empty()) on_token(element);
    }
}

[[nodiscard]] inline std::vector<std::string_view> split_tokens(std::string_view list) {
    std::vector<std::string_view> out;
    for_each_token(list, [&](std::string_view t) { out.push_back(t); });
    return out;
}

// Whether a token list holds `token`, compared ASCII case-insensitively: right for Connection (RFC 9110
// §7.6.1) and Upgrade (§4.2.1: "websocket" is case-insensitive), e.g. "keep-alive, Upgrade" has "upgrade".
[[nodiscard]] constexpr bool has_token(std::string_view list, std::string_view token) {
    bool found = false;
    for_each_token(list, [&](std::string_view t) { found = found || iequals_ascii(t, token); });
    return found;
}

// Picks the subprotocol to answer with: the first one in the client's Sec-WebSocket-Protocol list (ordered
// by the client's preference, §4.1 item 10) that the server supports. Compared exactly, not case-folded,
// because browsers fail the connection unless the echoed value is byte-for-byte one they offered. The
// result views `offered`; std::nullopt means: send no Sec-WebSocket-Protocol header (§4.2.2).
[[nodiscard]] inline std::optional<std::string_view> select_subprotocol(std::string_view offered,
                                                                        std::span<const std::string_view> supported) {
    std::optional<std::string_view> chosen;
    for_each_token(offered, [&](std::string_view t) {
        if (chosen) return;
        for (std::string_view s : supported)
            if (t == s) chosen = t;
    });
    return chosen;
}

// ---- the server's check of a client's opening handshake (§4.2.1) -----------------------------------------

// The header values that decide whether a request is a WebSocket upgrade; an absent header is empty.
// The HTTP layer checks the rest of §4.2.1 (HTTP/1.1 or later, a Host header, the request target).
struct upgrade_request {
    std::string_view method;
    std::string_view upgrade;                // Upgrade
    std::string_view connection;             // Connection
    std::string_view sec_websocket_version;  // Sec-WebSocket-Version
    std::string_view sec_websocket_key;      // Sec-WebSocket-Key
};

enum class handshake_error : std::uint8_t {
    none,
    method_not_get,         // §4.2.1 item 1
    missing_upgrade,        // §4.2.1 item 3: Upgrade must list "websocket"
    missing_connection,     // §4.2.1 item 4: Connection must list "Upgrade"
    invalid_key,            // §4.2.1 item 5
    unsupported_version,    // §4.2.1 item 6: answer 426 with "Sec-WebSocket-Version: 13" (§4.4)
};

[[nodiscard]] inline handshake_error check_upgrade_request(const upgrade_request& r) {
    if (r.method != "GET") return handshake_error::method_not_get;  // methods are case-sensitive (RFC 9110 §9.1)
    if (!has_token(r.upgrade, "websocket")) return handshake_error::missing_upgrade;
    if (!has_token(r.connection, "upgrade")) return handshake_error::missing_connection;
    if (r.sec_websocket_version != websocket_version) return handshake_error::unsupported_version;
    if (!is_valid_client_key(r.sec_websocket_key)) return handshake_error::invalid_key;
    return handshake_error::none;
}

[[nodiscard]] constexpr std::string_view to_string(handshake_error e) noexcept {
    switch (e) {
        case handshake_error::none: return "ok";
        case handshake_error::method_not_get: return "a WebSocket upgrade must be a GET request";
        case handshake_error::missing_upgrade: return "Upgrade header does not list websocket";
        case handshake_error::missing_connection: return "Connection header does not list Upgrade";
        case handshake_error::invalid_key: return "Sec-WebSocket-Key is not the base64 of 16 bytes";
        case handshake_error::unsupported_version: return "unsupported Sec-WebSocket-Version (only 13)";
    }
    return "unknown";
}

}  // namespace tether::ws
