#pragma once
// Request methods. The parser accepts any token as a method (RFC 9110 §9.1: the set is
// extensible); the enum only names the ones the router dispatches on, so matching a route is
// an integer compare rather than a string compare.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tether::http {

enum class method : std::uint8_t { get, head, post, put, delete_, patch, options, connect, trace, other };

inline constexpr std::string_view to_string(method m) noexcept {
    switch (m) {
    case method::get: return "GET";
    case method::head: return "HEAD";
    case method::post: return "POST";
    case method::put: return "PUT";
    case method::delete_: return "DELETE";
    case method::patch: return "PATCH";
    case method::options: return "OPTIONS";
    case method::connect: return "CONNECT";
    case method::trace: return "TRACE";
    case method::other: break;
    }
    return "";
}

// Methods are case-sensitive (RFC 9110 §9.1): "get" is an unknown method, not GET.
inline constexpr method method_from_string(std::string_view s) noexcept {
    // Byte by byte against a literal of the same length (the switch checked it): the compiler unrolls
    // this into a few compares, where string_view's == calls an out-of-line compare and memcmp.
    auto is = [&s](std::string_view name) {
        for (std::size_t i = 0; i < name.size(); ++i)
            if (s[i] != name[i]) return false;
        return true;
    };
    switch (s.size()) {
    case 3:
        if (is("GET")) return method::get;
        if (is("PUT")) return method::put;
        break;
    case 4:
        if (is("HEAD")) return method::head;
        if (is("POST")) return method::post;
        break;
    case 5:
        if (is("PATCH")) return method::patch;
        if (is("TRACE")) return method::trace;
        break;
    case 6:
        if (is("DELETE")) return method::delete_;
        break;
    case 7:
        if (is("OPTIONS")) return method::options;
        if (is("CONNECT")) return method::connect;
        break;
    default: break;
    }
    return method::other;
}

} // namespace tether::http
