#pragma once
// The WebSocket opening handshake as the kernel-floor servers do it (floor_ws.cpp, floor_fanout.cpp): find a
// header in a request head and write the 101 with its Sec-WebSocket-Accept. Shared so that both floors answer
// the same bytes; the SHA-1 and base64 are tether's core headers, which are self-contained (no Asio, no
// simdjson), so a floor still links nothing of tether's I/O.
//
// Deliberately minimal, as the floors are (see floor_loop.hpp): no check of Upgrade, Connection or the version,
// because the benchmarks' clients always send them right.

#include <tether/core/base64.hpp>
#include <tether/core/sha1.hpp>

#include <cstddef>
#include <cstring>
#include <string_view>

namespace tether_floor {

inline constexpr std::string_view websocket_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";  // RFC 6455 §1.3

inline bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

// The value of header `name` in a request head (lines after the request line), trimmed; empty when absent.
inline std::string_view header_value(std::string_view head, std::string_view name) {
    std::size_t line = head.find("\r\n");
    while (line != std::string_view::npos && line + 2 < head.size()) {
        const std::size_t start = line + 2;
        line = head.find("\r\n", start);
        const std::string_view text = head.substr(start, line == std::string_view::npos ? head.npos : line - start);
        const std::size_t colon = text.find(':');
        if (colon == std::string_view::npos || !iequals(text.substr(0, colon), name)) continue;
        std::string_view value = text.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
        return value;
    }
    return {};
}

// The longest 101 write_switching_protocols produces (the fixed text and a 28-character accept value).
inline constexpr std::size_t switching_protocols_max_size = 160;

// Writes the 101 for client key `key` at `out` (room for switching_protocols_max_size bytes): base64(SHA-1(key +
// GUID)) between a fixed head and tail (RFC 6455 §4.2.2). Returns one past the last byte written.
inline char* write_switching_protocols(std::string_view key, char* out) {
    constexpr std::string_view head =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: ";
    const auto digest = tether::core::sha1().update(key).update(websocket_guid).finish();
    std::memcpy(out, head.data(), head.size());
    char* end_of_key = tether::core::base64_encode_to(
        std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()), out + head.size());
    std::memcpy(end_of_key, "\r\n\r\n", 4);
    return end_of_key + 4;
}

}  // namespace tether_floor
