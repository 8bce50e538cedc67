#pragma once
// Copies and equality tests of a few dozen bytes without a call into the C library. The pieces of a
// response head ("HTTP/1.1 200 OK\r\n", a Content-Type line, a Content-Length) and the paths a router
// compares are 4 to 64 bytes long and their lengths are only known at run time, so the compiler emits a
// call to memcpy or memcmp for each: through the PLT and the CPU-dispatched routine, which for a few
// bytes costs more than the work (a perf profile of pipelined /plaintext put the C library's memset,
// memmove, memcmp and memchr together at ~15% of the server's user time; the copies and compares of
// such short pieces are what this header takes over). Here a length picks two fixed-size moves
// (or loads) that overlap in the middle: at most two branches and four instructions for any length up
// to 64, each a size the compiler turns into plain moves. Longer runs go to memcpy and memcmp as before.
// Always inlined: as a function of its own (which GCC made of it) the call costs what it saves.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace tether::http::detail {

// The 2, 4 or 8 bytes at p as one unsigned integer, to compare a piece of known length ("GET ",
// "HTTP/1.1") in one instruction; with a literal on the other side the compiler folds its load.
[[gnu::always_inline]] inline std::uint16_t load_u16(const char* p) noexcept {
    std::uint16_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
[[gnu::always_inline]] inline std::uint32_t load_u32(const char* p) noexcept {
    std::uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
[[gnu::always_inline]] inline std::uint64_t load_u64(const char* p) noexcept {
    std::uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// Copies n bytes from `from` to `to` (not overlapping) and returns to + n.
[[gnu::always_inline]] inline char* copy_short(char* to, const char* from, std::size_t n) noexcept {
    if (n >= 16) {
        if (n <= 32) {
            std::memcpy(to, from, 16);
            std::memcpy(to + n - 16, from + n - 16, 16);
        } else if (n <= 64) {
            std::memcpy(to, from, 32);
            std::memcpy(to + n - 32, from + n - 32, 32);
        } else {
            std::memcpy(to, from, n);
        }
    } else if (n >= 8) {
        std::memcpy(to, from, 8);
        std::memcpy(to + n - 8, from + n - 8, 8);
    } else if (n >= 4) {
        std::memcpy(to, from, 4);
        std::memcpy(to + n - 4, from + n - 4, 4);
    } else {
        for (std::size_t i = 0; i < n; ++i) to[i] = from[i];
    }
    return to + n;
}

// Whether a and b hold the same bytes.
[[gnu::always_inline]] inline bool equal_short(std::string_view a, std::string_view b) noexcept {
    const std::size_t n = a.size();
    if (n != b.size()) return false;
    const char* x = a.data();
    const char* y = b.data();
    const auto differ = [](const char* p, const char* q, auto word) noexcept {
        decltype(word) u, v;
        std::memcpy(&u, p, sizeof u);
        std::memcpy(&v, q, sizeof v);
        return u ^ v;
    };
    if (n >= 8) {
        if (n > 16) return std::memcmp(x, y, n) == 0;
        return (differ(x, y, std::uint64_t{}) | differ(x + n - 8, y + n - 8, std::uint64_t{})) == 0;
    }
    if (n >= 4) return (differ(x, y, std::uint32_t{}) | differ(x + n - 4, y + n - 4, std::uint32_t{})) == 0;
    for (std::size_t i = 0; i < n; ++i)
        if (x[i] != y[i]) return false;
    return true;
}

} // namespace tether::http::detail
