#pragma once
// URL path -> relative filesystem path, for serving files from a directory (static_files.hpp).
//
// Pure text work, no I/O: the result still has to be resolved against the root and checked for
// symlink escapes by the caller, because only the filesystem knows where a link points.
//
// Order matters and follows RFC 3986: the path is split into segments on the raw '/' first and
// each segment is percent-decoded after (§2.2, §3.3), so "%2F" is a byte inside one segment,
// never a separator. No file name can hold '/', so such a segment is refused rather than
// silently turned into a directory step ("a%2F..%2Fb" must not walk anywhere). Dot-segments are
// removed after decoding (§6.2.2.2: "%2E%2E" is ".."), and a ".." that would climb above the
// root is refused, not clamped: a client that asks for it is not a browser following a link.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tether/http/query.hpp>

namespace tether::http {

enum class path_error : std::uint8_t {
    none,
    bad_escape,      // '%' not followed by two hex digits
    nul,             // a NUL byte, raw or "%00": C APIs would cut the name there
    backslash,       // '\' raw or encoded: a separator on Windows, never a name byte here
    encoded_slash,   // "%2F" inside a segment: no file name holds '/'
    escapes_root,    // ".." climbing above the root
    dotfile,         // a segment starting with '.' ("/.git/config", "/.env") when not allowed
    too_long,
};

struct normalized_path {
    path_error error = path_error::none;
    // "a/b/c.txt": segments joined by '/', no leading or trailing '/', no "." or ".."; empty for
    // the root itself.
    std::string relative;
    // The URL named a directory ("a/b/", or a path ending in "." or ".."), so an index file is meant.
    bool directory = false;

    explicit operator bool() const noexcept { return error == path_error::none; }
};

struct path_options {
    bool allow_dotfiles = false;
    std::size_t max_length = 4096;   // PATH_MAX on Linux; longer names cannot exist anyway
};

inline std::string_view to_string(path_error e) noexcept {
    switch (e) {
    case path_error::none: return "ok";
    case path_error::bad_escape: return "malformed percent-encoding in path";
    case path_error::nul: return "NUL byte in path";
    case path_error::backslash: return "backslash in path";
    case path_error::encoded_slash: return "encoded '/' in path segment";
    case path_error::escapes_root: return "path climbs above its root";
    case path_error::dotfile: return "path names a dotfile";
    case path_error::too_long: return "path too long";
    }
    return "invalid path";
}

// Normalizes `url_path` (still percent-encoded, as it came off the wire; with or without a
// leading '/') into a path relative to a served root.
inline normalized_path normalize_url_path(std::string_view url_path, path_options options = {}) {
    normalized_path out;
    if (url_path.size() > options.max_length) {
        out.error = path_error::too_long;
        return out;
    }
    std::vector<std::string> segments;
    std::string decoded;
    bool last_was_directory = true;   // "" and "/" name the root
    while (true) {
        auto slash = url_path.find('/');
        std::string_view raw = url_path.substr(0, slash);
        const bool last = slash == std::string_view::npos;
        if (!last) url_path.remove_prefix(slash + 1);

        decoded.clear();
        if (!percent_decode_append(decoded, raw, /*plus_as_space=*/false)) {
            out.error = path_error::bad_escape;
            return out;
        }
        for (char c : decoded) {
            if (c == '\0') out.error = path_error::nul;
            else if (c == '\\') out.error = path_error::backslash;
            else if (c == '/') out.error = path_error::encoded_slash;
            if (out.error != path_error::none) return out;
        }

        if (decoded.empty() || decoded == ".") {   // "a//b" and "a/./b" are "a/b" (RFC 3986 §6.2.2.2)
            last_was_directory = true;
        } else if (decoded == "..") {
            if (segments.empty()) {
                out.error = path_error::escapes_root;
                return out;
            }
            segments.pop_back();
            last_was_directory = true;
        } else {
            segments.push_back(decoded);
            last_was_directory = false;
        }
        if (last) break;
    }

    // Checked on the result, so "a/../.git" is caught and ".well-known/../x" is not refused for
    // a segment that no longer exists.
    if (!options.allow_dotfiles)
        for (const auto& s : segments)
            if (s.front() == '.') {
                out.error = path_error::dotfile;
                return out;
            }

    for (const auto& s : segments) {
        if (!out.relative.empty()) out.relative.push_back('/');
        out.relative.append(s);
    }
    out.directory = last_was_directory;
    return out;
}

// Percent-encodes a normalized relative path for use in a URL (a redirect's Location): every
// byte outside RFC 3986 pchar, and '%' itself, is escaped; '/' separates segments.
inline std::string encode_url_path(std::string_view path) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(path.size());
    for (char c : path) {
        const auto u = static_cast<unsigned char>(c);
        const bool plain = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
                           std::string_view("-._~!$&'()*+,;=:@/").find(c) != std::string_view::npos;
        if (plain) {
            out.push_back(c);
        } else {
            out.push_back('%');
            out.push_back(hex[u >> 4]);
            out.push_back(hex[u & 15]);
        }
    }
    return out;
}

} // namespace tether::http
