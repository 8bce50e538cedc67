#pragma once
// Content-Type by file extension, for static files.
//
// A fixed table rather than /etc/mime.types: the answer must not change with the host a server
// is deployed on, and browsers are strict about a few of these (module scripts refuse anything
// but a JavaScript type, WebAssembly.instantiateStreaming needs application/wasm). Text types
// carry charset=utf-8 so a browser never guesses (RFC 9110 §8.3.1); JavaScript is
// text/javascript per RFC 9239. Anything unknown is application/octet-stream, which a browser
// downloads instead of sniffing into something executable.
#include <array>
#include <string_view>
#include <utility>

#include <tether/http/char_class.hpp>

namespace tether::http {

inline constexpr std::string_view default_mime_type = "application/octet-stream";

namespace detail {

inline constexpr std::array<std::pair<std::string_view, std::string_view>, 42> mime_table{{
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"cjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},   // JSON is UTF-8 by definition (RFC 8259 §8.1): no charset parameter
    {"map", "application/json"},    // source maps
    {"webmanifest", "application/manifest+json"},
    {"txt", "text/plain; charset=utf-8"},
    {"md", "text/markdown; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"xml", "application/xml"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/x-icon"},
    {"bmp", "image/bmp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"otf", "font/otf"},
    {"wasm", "application/wasm"},
    {"pdf", "application/pdf"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"br", "application/x-brotli"},
    {"tar", "application/x-tar"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"ogv", "video/ogg"},
    {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"},
    {"oga", "audio/ogg"},
    {"wav", "audio/wav"},
    {"flac", "audio/flac"},
    {"m4a", "audio/mp4"},
    {"vtt", "text/vtt; charset=utf-8"},
}};

} // namespace detail

// The Content-Type for a file name or path ("app.js", "css/site.CSS"): compared by the text
// after the last '.' of the last segment, case-insensitively.
inline std::string_view mime_type_for(std::string_view name) noexcept {
    if (auto slash = name.find_last_of('/'); slash != std::string_view::npos) name.remove_prefix(slash + 1);
    auto dot = name.find_last_of('.');
    if (dot == std::string_view::npos || dot == 0) return default_mime_type;   // ".bashrc" has no extension
    std::string_view extension = name.substr(dot + 1);
    for (const auto& [ext, type] : detail::mime_table)
        if (detail::iequals(ext, extension)) return type;
    return default_mime_type;
}

} // namespace tether::http
