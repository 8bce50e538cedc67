#pragma once
// Content codings for a whole body in memory (RFC 9110 §8.4.1): gzip (RFC 1952) through zlib and
// br (RFC 7932) through libbrotlienc. Bytes in, bytes out, no sockets: the compress middleware
// (middleware/compress.hpp) decides when, this header only encodes.
//
// Each coding exists only when tether was built with its library: CMake defines TETHER_WITH_GZIP=1
// when it finds zlib (zlib1g-dev) and TETHER_WITH_BROTLI=1 when it finds libbrotlienc
// (libbrotli-dev), and links them; gzip_available / brotli_available say so at compile time.
//
// Why one-shot calls with the encoder made per body, rather than a stream kept per thread or per
// connection: a response body is complete when it is encoded, so one call does it; the window is
// sized to the body (a 10 KiB body gets a 16 KiB window, not 32 KiB or 4 MiB), and nothing stays
// allocated between responses, so an idle server holds no compressor memory. Making the encoder
// costs a few allocations beside the encoding itself, which dominates (benchmarks/middleware).
//
// Both encoders write into a buffer of `limit` bytes and give up when the encoding does not fit,
// so "only when smaller" costs no second buffer and no copy of a result that is then thrown away.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#if defined(TETHER_WITH_GZIP) && TETHER_WITH_GZIP
#include <zlib.h>
#endif
#if defined(TETHER_WITH_BROTLI) && TETHER_WITH_BROTLI
#include <brotli/encode.h>
#endif

namespace tether::http {

#if defined(TETHER_WITH_GZIP) && TETHER_WITH_GZIP
inline constexpr bool gzip_available = true;
#else
inline constexpr bool gzip_available = false;
#endif
#if defined(TETHER_WITH_BROTLI) && TETHER_WITH_BROTLI
inline constexpr bool brotli_available = true;
#else
inline constexpr bool brotli_available = false;
#endif

namespace detail {

// The smallest window, in bits, that holds `size` bytes, within [low, high].
constexpr int window_bits_for(std::size_t size, int low, int high) noexcept {
    int bits = low;
    while (bits < high && (std::size_t{1} << bits) < size) ++bits;
    return bits;
}

} // namespace detail

// Encodes `in` as gzip at `level` (1 fastest .. 9 smallest) into `out`, replacing its contents,
// when the result is at most `limit` bytes. Returns false (and `out` unspecified) when it is
// larger, when zlib fails, or when tether was built without zlib.
inline bool gzip_encode(std::string_view in, std::string& out, int level, std::size_t limit) {
#if defined(TETHER_WITH_GZIP) && TETHER_WITH_GZIP
    if (limit == 0 || in.size() > 0xffffffffu || limit > 0xffffffffu) return false;
    z_stream z{};
    // windowBits + 16: a gzip header and trailer around the deflate stream (zlib.h, deflateInit2).
    // zlib needs a window of at least 2^9 for the gzip wrapper.
    const int window = detail::window_bits_for(in.size(), 9, 15);
    if (deflateInit2(&z, level, Z_DEFLATED, window + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
    out.resize(limit);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(limit);
    const int status = deflate(&z, Z_FINISH);   // Z_OK or Z_BUF_ERROR here: it did not fit
    const std::size_t written = limit - z.avail_out;
    deflateEnd(&z);
    if (status != Z_STREAM_END) return false;
    out.resize(written);
    return true;
#else
    (void)in, (void)out, (void)level, (void)limit;
    return false;
#endif
}

// Encodes `in` as br at `quality` (0 fastest .. 11 smallest; 4-6 suit dynamic responses) into
// `out`, replacing its contents, when the result is at most `limit` bytes. Returns false when it
// is larger, on failure, or when tether was built without libbrotlienc.
inline bool brotli_encode(std::string_view in, std::string& out, int quality, std::size_t limit) {
#if defined(TETHER_WITH_BROTLI) && TETHER_WITH_BROTLI
    if (limit == 0) return false;
    out.resize(limit);
    std::size_t written = limit;
    // BrotliEncoderCompress gives up (false) when the output does not fit in `written` bytes, as
    // long as that is less than BrotliEncoderMaxCompressedSize, which any limit below the input's
    // size is.
    const int window = detail::window_bits_for(in.size(), BROTLI_MIN_WINDOW_BITS, 22);
    if (!BrotliEncoderCompress(quality, window, BROTLI_MODE_TEXT, in.size(), reinterpret_cast<const std::uint8_t*>(in.data()),
                               &written, reinterpret_cast<std::uint8_t*>(out.data())))
        return false;
    if (written > limit) return false;
    out.resize(written);
    return true;
#else
    (void)in, (void)out, (void)quality, (void)limit;
    return false;
#endif
}

} // namespace tether::http
