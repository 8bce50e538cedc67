#pragma once
// SHA-1 (FIPS 180-4 §6.1), needed for two names, neither of them secret: the RFC 6455 §4.2.2
// Sec-WebSocket-Accept value, and the Redis backplane's EVALSHA script ids (redis/scripts.hpp).
//
// Why our own: pulling OpenSSL (or a crypto library) into a header-only library for 20 bytes per handshake
// would make every user link it, TLS or not. SHA-1 is broken for collision resistance, which the handshake
// does not rely on; do not use this type for anything security-relevant.
// Written with plain byte arithmetic (no memcpy, no type punning) so it is constexpr and endian-neutral;
// speed does not matter at one 60-byte input per connection (or a few scripts per process).

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tether::core {

class sha1 {
public:
    using digest_type = std::array<std::uint8_t, 20>;

    constexpr sha1() noexcept = default;

    constexpr sha1& update(std::string_view bytes) noexcept {
        for (char c : bytes) {
            block_[block_size_++] = static_cast<std::uint8_t>(c);
            if (block_size_ == block_.size()) {
                compress();
                block_size_ = 0;
            }
        }
        length_bytes_ += bytes.size();
        return *this;
    }

    // Pads and returns the digest (§5.1.1: a 1 bit, zeros, then the bit length as 64-bit big-endian).
    // The object is left finished; call reset() to reuse it.
    [[nodiscard]] constexpr digest_type finish() noexcept {
        const std::uint64_t bit_length = length_bytes_ * 8;
        block_[block_size_++] = 0x80;
        if (block_size_ > 56) {
            while (block_size_ < 64) block_[block_size_++] = 0;
            compress();
            block_size_ = 0;
        }
        while (block_size_ < 56) block_[block_size_++] = 0;
        for (int i = 7; i >= 0; --i) block_[block_size_++] = static_cast<std::uint8_t>(bit_length >> (i * 8));
        compress();
        block_size_ = 0;

        digest_type out{};
        for (std::size_t i = 0; i < 5; ++i)
            for (std::size_t b = 0; b < 4; ++b)
                out[i * 4 + b] = static_cast<std::uint8_t>(h_[i] >> (24 - 8 * b));
        return out;
    }

    constexpr void reset() noexcept { *this = sha1{}; }

private:
    static constexpr std::uint32_t rotl(std::uint32_t x, int n) noexcept { return (x << n) | (x >> (32 - n)); }

    // FIPS 180-4 §6.1.2, with the 80-word schedule kept as a 16-word ring (§6.1.3 alternative method).
    constexpr void compress() noexcept {
        std::array<std::uint32_t, 16> w{};
        for (std::size_t t = 0; t < 16; ++t)
            w[t] = (std::uint32_t{block_[4 * t]} << 24) | (std::uint32_t{block_[4 * t + 1]} << 16) |
                   (std::uint32_t{block_[4 * t + 2]} << 8) | std::uint32_t{block_[4 * t + 3]};

        std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4];
        for (std::size_t t = 0; t < 80; ++t) {
            if (t >= 16) {
                const std::uint32_t x = w[(t + 13) & 15] ^ w[(t + 8) & 15] ^ w[(t + 2) & 15] ^ w[t & 15];
                w[t & 15] = rotl(x, 1);
            }
            std::uint32_t f = 0, k = 0;
            if (t < 20) {
                f = (b & c) | (~b & d);
                k = 0x5a827999;
            } else if (t < 40) {
                f = b ^ c ^ d;
                k = 0x6ed9eba1;
            } else if (t < 60) {
                f = (b & c) | (b & d) | (c & d);
                k = 0x8f1bbcdc;
            } else {
                f = b ^ c ^ d;
                k = 0xca62c1d6;
            }
            const std::uint32_t temp = rotl(a, 5) + f + e + k + w[t & 15];
            e = d;
            d = c;
            c = rotl(b, 30);
            b = a;
            a = temp;
        }
        h_[0] += a;
        h_[1] += b;
        h_[2] += c;
        h_[3] += d;
        h_[4] += e;
    }

    std::array<std::uint32_t, 5> h_{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};  // §5.3.1
    std::array<std::uint8_t, 64> block_{};
    std::size_t block_size_ = 0;
    std::uint64_t length_bytes_ = 0;
};

// One-shot digest of `bytes`.
[[nodiscard]] constexpr sha1::digest_type sha1_digest(std::string_view bytes) noexcept {
    sha1 h;
    h.update(bytes);
    return h.finish();
}

}  // namespace tether::core
