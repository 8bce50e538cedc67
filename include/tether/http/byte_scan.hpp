#pragma once
// The parser's byte-class checks done 16 bytes at a time with SSE2 (part of every x86-64 CPU): where a run
// of allowed bytes ends, for the long runs (field values: a browser's User-Agent, Accept and Cookie lines
// run to hundreds of bytes; request-targets), and whether a Host value has the usual plain shape. The
// per-byte table lookup costs about five instructions a byte; one 16-byte compare costs about as much
// for sixteen. Without SSE2 the per-byte code gives the same answers. Loads stay inside the bounds each
// function is given: a last stretch shorter than 16 bytes is copied into a padded 16-byte buffer and
// checked there (or, when only a few bytes are left, walked byte by byte). The three the parser's plain path
// calls per request are always inlined: it calls each from one or two places, and as calls of their own (gcc's
// choice once that path was inlined into the connection's loop) they cost ~28 instructions a request.
#include <cstddef>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <tether/http/char_class.hpp>

namespace tether::http::detail {

#if defined(__SSE2__)
// Bit i set for each byte i of `x` that is <= `high` (unsigned): min(x, high) == x exactly then.
inline __m128i at_most(__m128i x, char high) noexcept { return _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(high)), x); }
inline __m128i at_least(__m128i x, char low) noexcept { return _mm_cmpeq_epi8(_mm_max_epu8(x, _mm_set1_epi8(low)), x); }
inline __m128i equal(__m128i x, char c) noexcept { return _mm_cmpeq_epi8(x, _mm_set1_epi8(c)); }
// Bit i set for each byte i of `x` a field value may not hold: a control other than HTAB, or DEL.
inline int field_value_refusals(__m128i x) noexcept {
    const __m128i control = _mm_andnot_si128(equal(x, '\t'), at_most(x, 0x1f));
    return _mm_movemask_epi8(_mm_or_si128(control, equal(x, 0x7f)));
}
#endif

// The first byte in [p, end) that may not appear in a field value (RFC 9110 §5.5: VCHAR, obs-text,
// SP and HTAB may; CR, LF, NUL, the other controls and DEL may not), or end.
[[gnu::always_inline]] inline const char* skip_field_value(const char* p, const char* end) noexcept {
#if defined(__SSE2__)
    for (; end - p >= 16; p += 16) {
        const int bad = field_value_refusals(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
        if (bad) return p + __builtin_ctz(static_cast<unsigned>(bad));
    }
    // The last, shorter stretch (a header section's last value always ends in one): from a copy padded
    // with NUL, which stops the scan at `end`. Worth the copy's call from about six bytes on.
    if (end - p >= 6) {
        char copy[16] = {};
        std::memcpy(copy, p, static_cast<std::size_t>(end - p));
        const int bad = field_value_refusals(_mm_loadu_si128(reinterpret_cast<const __m128i*>(copy)));
        return p + __builtin_ctz(static_cast<unsigned>(bad));   // never 0: the padding is bad
    }
#endif
    while (p < end && is_field_value_char(*p)) ++p;
    return p;
}

// The first byte in [p, end) that may not appear in a request-target (visible ASCII, 0x21-0x7e, as
// target_table: RFC 9112 §3.2), or end; with `path_only`, '?' and '#' end the run as well (where an
// origin-form path ends, RFC 3986 §3.3).
[[gnu::always_inline]] inline const char* skip_target(const char* p, const char* end, bool path_only) noexcept {
#if defined(__SSE2__)
    for (; end - p >= 16; p += 16) {
        const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        __m128i outside = _mm_or_si128(at_most(x, 0x20), at_least(x, 0x7f));
        if (path_only) outside = _mm_or_si128(outside, _mm_or_si128(equal(x, '?'), equal(x, '#')));
        if (int bad = _mm_movemask_epi8(outside)) return p + __builtin_ctz(static_cast<unsigned>(bad));
    }
#endif
    if (path_only)
        while (p < end && is_path_char(*p)) ++p;
    else
        while (p < end && is_target_char(*p)) ++p;
    return p;
}

// Whether the n bytes at p are a Host value of the plain shape "name[:port]" (name: letters, digits, '.'
// and '-'; port: digits; RFC 9110 §7.2), told with one 16-byte load when n <= 16: from p when the 16
// bytes from p lie before `readable_end`, else from a copy (a short Host on the header section's last
// line, "Host: example.com\r\n\r\n", has fewer than 16 bytes after it). False means "not known plain",
// never "invalid": the caller then applies the whole grammar (is_valid_host), which every value this
// accepts also passes. A request's Host is nearly always this shape ("127.0.0.1:8080", "example.com"),
// and the per-byte grammar costs ~9 instructions a byte.
[[gnu::always_inline]] inline bool is_plain_host(const char* p, std::size_t n, const char* readable_end) noexcept {
#if defined(__SSE2__)
    if (n > 16) return false;
    char copy[16];   // zeroed only when used: the usual Host line is read in place
    if (readable_end - p < 16) {
        std::memset(copy, 0, sizeof copy);
        if (n) std::memcpy(copy, p, n);
        p = copy;
    }
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i lower = _mm_or_si128(x, _mm_set1_epi8(0x20));   // a letter's lower case; no other byte becomes one
    const __m128i letter = _mm_and_si128(at_least(lower, 'a'), at_most(lower, 'z'));
    const __m128i digit = _mm_and_si128(at_least(x, '0'), at_most(x, '9'));
    const __m128i name = _mm_or_si128(_mm_or_si128(letter, digit), _mm_or_si128(equal(x, '.'), equal(x, '-')));
    const unsigned in_value = (1u << n) - 1;
    const unsigned not_name = ~static_cast<unsigned>(_mm_movemask_epi8(name)) & in_value;
    if (not_name == 0) return true;   // a bare name (or the empty value)
    const unsigned colon = static_cast<unsigned>(__builtin_ctz(not_name));
    if (colon == 0 || p[colon] != ':') return false;   // ":80" has no name
    const unsigned port = in_value & ~((2u << colon) - 1);   // the bytes after the colon
    return (port & ~static_cast<unsigned>(_mm_movemask_epi8(digit))) == 0;
#else
    (void)p, (void)n, (void)readable_end;
    return false;
#endif
}

} // namespace tether::http::detail
