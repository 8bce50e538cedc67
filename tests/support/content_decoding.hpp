#pragma once
// Test support: undo a Content-Encoding with the libraries' own decoders (zlib's inflate for gzip,
// libbrotlidec for br), so the tests check what a client would read, not what tether meant to
// write. Returns nullopt when the bytes do not decode, or when this build has no decoder for the
// coding (TETHER_TEST_BROTLI_DECODER is defined when the tests link libbrotlidec).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#if defined(TETHER_WITH_GZIP) && TETHER_WITH_GZIP
#include <zlib.h>
#endif
#if defined(TETHER_TEST_BROTLI_DECODER)
#include <brotli/decode.h>
#endif

namespace tether::test {

inline std::optional<std::string> gunzip(std::string_view in) {
#if defined(TETHER_WITH_GZIP) && TETHER_WITH_GZIP
    z_stream z{};
    if (inflateInit2(&z, 15 + 16) != Z_OK) return std::nullopt;   // gzip wrapper only
    std::string out;
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    int status = Z_OK;
    char buffer[16384];
    while (status == Z_OK) {
        z.next_out = reinterpret_cast<Bytef*>(buffer);
        z.avail_out = sizeof buffer;
        status = inflate(&z, Z_NO_FLUSH);
        out.append(buffer, sizeof buffer - z.avail_out);
        if (status == Z_BUF_ERROR && z.avail_in == 0) break;   // truncated input
    }
    const bool whole = status == Z_STREAM_END && z.avail_in == 0;   // nothing trailing the member
    inflateEnd(&z);
    if (!whole) return std::nullopt;
    return out;
#else
    (void)in;
    return std::nullopt;
#endif
}

inline std::optional<std::string> unbrotli(std::string_view in) {
#if defined(TETHER_TEST_BROTLI_DECODER)
    BrotliDecoderState* s = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
    if (!s) return std::nullopt;
    std::string out;
    const auto* next_in = reinterpret_cast<const std::uint8_t*>(in.data());
    std::size_t available_in = in.size();
    BrotliDecoderResult r = BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT;
    while (r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) {
        std::uint8_t buffer[16384];
        std::uint8_t* next_out = buffer;
        std::size_t available_out = sizeof buffer;
        r = BrotliDecoderDecompressStream(s, &available_in, &next_in, &available_out, &next_out, nullptr);
        out.append(reinterpret_cast<const char*>(buffer), sizeof buffer - available_out);
    }
    BrotliDecoderDestroyInstance(s);
    if (r != BROTLI_DECODER_RESULT_SUCCESS || available_in != 0) return std::nullopt;
    return out;
#else
    (void)in;
    return std::nullopt;
#endif
}

// Decodes `body` per its Content-Encoding value: "" or "identity" as it is.
inline std::optional<std::string> decode(std::string_view coding, std::string_view body) {
    if (coding.empty() || coding == "identity") return std::string(body);
    if (coding == "gzip") return gunzip(body);
    if (coding == "br") return unbrotli(body);
    return std::nullopt;
}

#if defined(TETHER_TEST_BROTLI_DECODER)
inline constexpr bool can_decode_br = true;
#else
inline constexpr bool can_decode_br = false;
#endif

} // namespace tether::test
