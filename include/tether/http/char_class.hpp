#pragma once
// Character classes of RFC 9110 §5.6.2 (tchar) and §5.5 (field-vchar), as 256-entry tables
// so the parser's per-byte checks are one load each instead of a chain of comparisons.
#include <array>
#include <cstdint>
#include <string_view>

namespace tether::http::detail {

inline constexpr std::array<bool, 256> tchar_table = [] {
    std::array<bool, 256> t{};
    for (int c = '0'; c <= '9'; ++c) t[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
    for (char c : std::string_view{"!#$%&'*+-.^_`|~"}) t[static_cast<unsigned char>(c)] = true;
    return t;
}();

// field-value bytes: VCHAR, obs-text, SP and HTAB (RFC 9110 §5.5). CR, LF and NUL are not.
inline constexpr std::array<bool, 256> field_value_table = [] {
    std::array<bool, 256> t{};
    for (int c = 0x21; c <= 0x7e; ++c) t[c] = true;
    for (int c = 0x80; c <= 0xff; ++c) t[c] = true;
    t[' '] = t['\t'] = true;
    return t;
}();

// request-target bytes: visible ASCII. RFC 9112 §3.2 builds the target from RFC 3986's URI
// grammar, which is ASCII only: raw bytes >= 0x80 are refused (a browser percent-encodes them),
// because two readers that decode them differently disagree on what path was asked for.
// Whitespace and CTLs end or break the line.
inline constexpr std::array<bool, 256> target_table = [] {
    std::array<bool, 256> t{};
    for (int c = 0x21; c <= 0x7e; ++c) t[c] = true;
    return t;
}();

// The same, without '?' and '#': the bytes of an origin-form path (RFC 3986 §3.3: a path ends at the
// first '?' or '#'), so one scan finds where it ends.
inline constexpr std::array<bool, 256> path_table = [] {
    std::array<bool, 256> t = target_table;
    t['?'] = t['#'] = false;
    return t;
}();

// reg-name bytes of a URI host (RFC 3986 §3.2.2): unreserved / sub-delims; '%' starts a
// pct-encoded triplet, checked by the caller.
inline constexpr std::array<bool, 256> reg_name_table = [] {
    std::array<bool, 256> t{};
    for (int c = '0'; c <= '9'; ++c) t[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
    for (char c : std::string_view{"-._~!$&'()*+,;="}) t[static_cast<unsigned char>(c)] = true;
    return t;
}();

inline bool is_tchar(char c) noexcept { return tchar_table[static_cast<unsigned char>(c)]; }
inline bool is_field_value_char(char c) noexcept { return field_value_table[static_cast<unsigned char>(c)]; }
inline bool is_target_char(char c) noexcept { return target_table[static_cast<unsigned char>(c)]; }
inline bool is_path_char(char c) noexcept { return path_table[static_cast<unsigned char>(c)]; }

inline bool is_hex_digit(char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Host = uri-host [ ":" port ] (RFC 9110 §7.2, RFC 3986 §3.2.2-3.2.3): an IP-literal in
// brackets, or a reg-name (which covers IPv4 addresses), then an optional port of digits. The
// empty value is valid: a client sends it when the target has no authority (RFC 9112 §3.2).
// Refused: whitespace, '@' (userinfo), a second ':' outside brackets, anything else outside
// the grammar. The IPv6 text inside brackets is checked for its alphabet, not parsed.
inline bool is_valid_host(std::string_view host) noexcept {
    std::size_t i = 0;
    if (!host.empty() && host.front() == '[') {
        auto close = host.find(']');
        if (close == std::string_view::npos || close == 1) return false;
        for (char c : host.substr(1, close - 1))
            if (!is_hex_digit(c) && c != ':' && c != '.') return false;
        i = close + 1;
    } else {
        for (;;) {
            while (i < host.size() && reg_name_table[static_cast<unsigned char>(host[i])]) ++i;
            if (i == host.size() || host[i] != '%') break;
            if (i + 2 >= host.size() || !is_hex_digit(host[i + 1]) || !is_hex_digit(host[i + 2])) return false;
            i += 3;
        }
        if (i < host.size() && host[i] != ':') return false;
        if (i == 0 && i < host.size()) return false;   // ":80": a port without a host
    }
    if (i == host.size()) return true;
    if (host[i] != ':') return false;
    for (++i; i < host.size(); ++i)
        if (host[i] < '0' || host[i] > '9') return false;
    return true;
}

inline bool is_token(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (char c : s)
        if (!is_tchar(c)) return false;
    return true;
}

inline char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

inline bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const unsigned char x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
        if (x == y) continue;
        // Different bytes are equal ignoring case only as the two cases of one letter: setting the
        // 0x20 bit makes them the same lower-case letter (and a non-letter never becomes one).
        const unsigned char lower = x | 0x20;
        if (lower != (y | 0x20) || lower < 'a' || lower > 'z') return false;
    }
    return true;
}

inline std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Calls f(token) for each element of a comma-separated list (RFC 9110 §5.6.1), skipping the
// empty elements the grammar allows; returns false early if f does.
template <class F>
bool for_each_list_element(std::string_view list, F&& f) {
    while (!list.empty()) {
        auto comma = list.find(',');
        auto element = trim_ows(list.substr(0, comma));
        if (!element.empty() && !f(element)) return false;
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return true;
}

inline bool list_contains_token(std::string_view list, std::string_view token) {
    bool found = false;
    for_each_list_element(list, [&](std::string_view e) {
        if (iequals(e, token)) found = true;
        return !found;
    });
    return found;
}

} // namespace tether::http::detail
