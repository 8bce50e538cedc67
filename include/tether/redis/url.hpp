#pragma once
// Where the backplane's Redis is: the URL forms redis-cli and most Redis clients accept.
//
//   redis://[[user]:password@]host[:port][/db]     host: a name, an IPv4 address, or [IPv6]; port 6379; db 0
//   unix://[[user]:password@]/path/to/redis.sock[?db=N]
//
// The password (and user, for Redis 6 ACLs: AUTH user password) may be percent-encoded (RFC 3986 §2.1), so
// that '@', ':' or '/' can appear in it. Parsing is strict, because a typo here should fail at start-up with
// a message naming the problem, not connect somewhere unexpected: no spaces, no empty host, a port in
// 1..65535, a db in 0..(2^31-1), no stray query or fragment. A URL is configuration, not client input, but
// the parser is fuzzed all the same (tests/fuzz/redis_wire_fuzz.cpp).
#include <charconv>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tether::redis {

struct url {
    std::string host;        ///< empty for a unix socket
    std::uint16_t port = 6379;
    std::string socket_path;  ///< set for unix://
    std::string user;         ///< empty: AUTH with the password alone (or no AUTH)
    std::string password;     ///< empty: no AUTH
    int db = 0;

    bool is_unix() const noexcept { return !socket_path.empty(); }
    /// host:port or the socket path, for messages (never the password).
    std::string where() const {
        if (is_unix()) return "unix:" + socket_path;
        bool const v6 = host.find(':') != std::string::npos;
        return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/" + std::to_string(db);
    }
};

namespace detail {

inline int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// RFC 3986 §2.1 percent-decoding of userinfo; nullopt on a malformed escape.
inline std::optional<std::string> percent_decode(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out.push_back(in[i]);
            continue;
        }
        if (i + 2 >= in.size()) return std::nullopt;
        int const hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return out;
}

template <class T>
std::optional<T> decimal(std::string_view text, T max) noexcept {
    if (text.empty() || text.size() > 10) return std::nullopt;
    if (text.size() > 1 && text.front() == '0') return std::nullopt;
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value > static_cast<std::uint64_t>(max)) {
        return std::nullopt;
    }
    return static_cast<T>(value);
}

inline bool has_forbidden(std::string_view s) noexcept {
    for (unsigned char c : s) {
        if (c <= 0x20 || c == 0x7f) return true;   // no spaces or control characters anywhere
    }
    return false;
}

[[noreturn]] inline void bad_url(std::string_view why) {
    throw std::invalid_argument("redis URL: " + std::string(why));
}

// "[user]:password" (the part before '@'): fills user and password.
inline void parse_userinfo(std::string_view info, url& out) {
    auto const colon = info.find(':');
    if (colon == std::string_view::npos) bad_url("credentials need a ':' before the password (redis://:password@host)");
    auto user = percent_decode(info.substr(0, colon));
    auto password = percent_decode(info.substr(colon + 1));
    if (!user || !password) bad_url("malformed percent-escape in the credentials");
    out.user = std::move(*user);
    out.password = std::move(*password);
}

}  // namespace detail

/// Parses a redis:// or unix:// URL; throws std::invalid_argument naming what is wrong (never echoing the
/// password).
inline url parse_url(std::string_view text) {
    url out;
    if (detail::has_forbidden(text)) detail::bad_url("spaces or control characters");
    if (text.starts_with("unix://")) {
        auto rest = text.substr(7);
        if (!rest.starts_with("/")) {   // unix://[user]:password@/path: the credentials end at the first '@'
            auto const at = rest.find('@');
            if (at == std::string_view::npos) detail::bad_url("unix:// needs an absolute socket path (unix:///path)");
            detail::parse_userinfo(rest.substr(0, at), out);
            rest = rest.substr(at + 1);
        }
        auto const query = rest.find('?');
        auto path = rest.substr(0, query);
        if (path.empty() || path.front() != '/') detail::bad_url("unix:// needs an absolute socket path (unix:///path)");
        if (path.find('#') != std::string_view::npos) detail::bad_url("unexpected '#'");
        out.socket_path = std::string(path);
        if (query != std::string_view::npos) {
            auto const q = rest.substr(query + 1);
            if (!q.starts_with("db=")) detail::bad_url("the only query parameter is db=N");
            auto db = detail::decimal<int>(q.substr(3), 2147483647);
            if (!db) detail::bad_url("db must be a number");
            out.db = *db;
        }
        return out;
    }
    if (!text.starts_with("redis://")) detail::bad_url("expected redis://host:port/db or unix:///path");
    auto rest = text.substr(8);
    if (auto const at = rest.substr(0, rest.find('/')).rfind('@'); at != std::string_view::npos) {
        detail::parse_userinfo(rest.substr(0, at), out);   // the last '@' of the authority (RFC 3986 §3.2)
        rest = rest.substr(at + 1);
    }
    auto const slash = rest.find('/');
    auto authority = rest.substr(0, slash);
    if (authority.empty()) detail::bad_url("no host");
    std::string_view host, port;
    if (authority.front() == '[') {   // RFC 3986 §3.2.2: IP-literal
        auto const close = authority.find(']');
        if (close == std::string_view::npos || close == 1) detail::bad_url("unterminated or empty [IPv6] host");
        host = authority.substr(1, close - 1);
        auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') detail::bad_url("expected ':' after ]");
            port = after.substr(1);
            if (port.empty()) detail::bad_url("empty port");
        }
    } else {
        auto const colon = authority.find(':');
        host = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            port = authority.substr(colon + 1);
            if (port.empty()) detail::bad_url("empty port");
        }
    }
    if (host.empty()) detail::bad_url("no host");
    for (char c : host) {
        bool const ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '-' || c == ':' || c == '_';
        if (!ok) detail::bad_url("invalid character in host");
    }
    out.host = std::string(host);
    if (!port.empty()) {
        auto p = detail::decimal<std::uint16_t>(port, 65535);
        if (!p || *p == 0) detail::bad_url("port must be 1..65535");
        out.port = *p;
    }
    if (slash != std::string_view::npos) {
        auto const db_text = rest.substr(slash + 1);
        if (!db_text.empty()) {
            auto db = detail::decimal<int>(db_text, 2147483647);
            if (!db) detail::bad_url("the path must be a database number (redis://host:port/0)");
            out.db = *db;
        }
    }
    return out;
}

}  // namespace tether::redis
