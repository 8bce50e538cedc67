#pragma once
// A position in a topic that every transport hands to clients and takes back on reconnect: SSE `id:` and
// Last-Event-ID, long-poll `?since=`, a WebSocket resume message.
//
// A bare sequence number is not enough: after a restart (or anything else that loses history) sequence 42
// names a different message, and a client resuming "after 42" would silently get the wrong replay. So a
// cursor also carries the topic's epoch, a random 64-bit id drawn when the topic is created. A cursor from
// another epoch, or one older than the retained history, is "not recoverable": the transport must tell the
// client to start over (re-fetch state), never replay part of what it missed as if it were all of it.
//
// Wire form: `<epoch as 16 lowercase hex digits>-<sequence in decimal>`, e.g. `00c0ffee12345678-42`.
// Fixed-width hex keeps it sortable-looking and unambiguous; parsing is strict (no signs, spaces, leading
// zeros in the sequence, upper-case hex or overflow), because a cursor is untrusted client input.
#include <array>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace tether::hub {

/// `sequence` is the id of the last message the client received (0: none yet in this epoch).
struct cursor {
    std::uint64_t epoch = 0;
    std::uint64_t sequence = 0;
    friend bool operator==(cursor const&, cursor const&) = default;
};

/// Outcome of topic::resume(): either every message after the cursor is still retained and replay starts
/// at `from` (recovered), or it is not, and `from` is where a fresh, live-only stream starts.
struct resumption {
    bool recovered = false;
    std::uint64_t from = 0;
    friend bool operator==(resumption const&, resumption const&) = default;
};

/// Longest wire form: 16 hex digits, '-', 20 decimal digits.
inline constexpr std::size_t cursor_max_chars = 37;

/// Writes the wire form into `out` (at least cursor_max_chars long); returns one past the last character.
/// Allocation-free, for encoders that build SSE `id:` lines at publish time.
inline char* format_cursor(cursor c, char* out) noexcept {
    constexpr char digits[] = "0123456789abcdef";
    for (int shift = 60; shift >= 0; shift -= 4) *out++ = digits[(c.epoch >> shift) & 0xf];
    *out++ = '-';
    return std::to_chars(out, out + 20, c.sequence).ptr;   // 20 digits always suffice for 64 bits
}

inline std::string to_string(cursor c) {
    std::array<char, cursor_max_chars> buffer{};
    return {buffer.data(), format_cursor(c, buffer.data())};
}

/// Strict inverse of format_cursor(); anything else (including surrounding whitespace) gives nullopt.
inline std::optional<cursor> parse_cursor(std::string_view text) noexcept {
    if (text.size() < 18 || text.size() > cursor_max_chars || text[16] != '-') return std::nullopt;
    cursor c;
    for (std::size_t i = 0; i < 16; ++i) {
        char const ch = text[i];
        unsigned digit;
        if (ch >= '0' && ch <= '9') {
            digit = static_cast<unsigned>(ch - '0');
        } else if (ch >= 'a' && ch <= 'f') {
            digit = static_cast<unsigned>(ch - 'a' + 10);
        } else {
            return std::nullopt;
        }
        c.epoch = (c.epoch << 4) | digit;
    }
    auto const sequence = text.substr(17);
    if (sequence.size() > 1 && sequence.front() == '0') return std::nullopt;
    if (sequence.front() < '0' || sequence.front() > '9') return std::nullopt;   // from_chars takes '-'
    auto const [end, error] = std::from_chars(sequence.data(), sequence.data() + sequence.size(), c.sequence);
    if (error != std::errc{} || end != sequence.data() + sequence.size()) return std::nullopt;
    return c;
}

/// A fresh, non-zero epoch: random_device mixed with the clock, so that even a deterministic random_device
/// (some platforms) still yields a new epoch per process start.
inline std::uint64_t make_epoch() {
    std::random_device device;
    std::uint64_t value = (std::uint64_t{device()} << 32) ^ device();
    value ^= static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
    // splitmix64 finaliser: spreads the clock bits over the whole word.
    value += 0x9e3779b97f4a7c15ULL;
    value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9ULL;
    value = (value ^ (value >> 27)) * 0x94d049bb133111ebULL;
    value ^= value >> 31;
    return value == 0 ? 1 : value;
}

}  // namespace tether::hub
