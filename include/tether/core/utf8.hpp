#pragma once
// UTF-8 validation (RFC 3629 §4), two ways:
//  - is_valid_utf8(): a whole buffer at once, via simdjson's SIMD validator (GB/s; used for SSE text,
//    JSON and anything else that arrives complete);
//  - utf8_validator: an incremental check for text that arrives in pieces. RFC 6455 §8.1 asks an endpoint to
//    fail a WebSocket connection as soon as a text message is known to be invalid, and §5.4 allows a text
//    message to be split across frames at any byte, even inside a code point. So the state must survive a
//    fragment boundary, and failure must be reported for the fragment in which the bytes stop being a prefix
//    of any valid UTF-8 text (e.g. "\xED\xA0" fails at once: it can only become a surrogate).
//
// Rejected alternatives: validating the reassembled message at the end (late failure, and forces buffering
// a whole message before saying no); a decoder that produces code points (we only need yes/no, and the
// ASCII-heavy common case must not pay per-byte cost). The incremental validator runs a tiny byte-wise
// automaton only across fragment edges and hands every complete run in between to simdjson.
//
// Rules enforced (RFC 3629 §3-4, Unicode Table 3-7): no overlong forms (C0, C1, E0 80..9F, F0 80..8F), no
// surrogates (ED A0..BF), nothing above U+10FFFF (F4 90..BF, F5..FF), no stray continuation bytes.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <simdjson.h>

namespace tether::core {

[[nodiscard]] inline bool is_valid_utf8(std::string_view text) noexcept {
    return simdjson::validate_utf8(text.data(), text.size());
}

class utf8_validator {
public:
    // Feeds the next piece. Returns false once the text seen so far can no longer be valid UTF-8; the
    // failure is sticky until reset().
    bool feed(std::string_view piece) noexcept {
        if (failed_) return false;
        std::size_t i = 0;
        // Finish a code point left open by the previous piece, byte by byte.
        while (needed_ != 0 && i < piece.size())
            if (!step(static_cast<unsigned char>(piece[i++]))) return false;

        std::string_view rest = piece.substr(i);
        if (rest.size() >= simd_threshold) {
            // Hand simdjson everything up to the start of a trailing incomplete code point, if any.
            const std::size_t cut = rest.size() - incomplete_tail_size(rest);
            if (!is_valid_utf8(rest.substr(0, cut))) return fail();
            rest.remove_prefix(cut);
        }
        for (char c : rest)
            if (!step(static_cast<unsigned char>(c))) return false;
        return true;
    }

    // True when the text so far is valid and ends on a code point boundary: a text message may only end here.
    [[nodiscard]] bool is_complete() const noexcept { return !failed_ && needed_ == 0; }
    [[nodiscard]] bool failed() const noexcept { return failed_; }
    void reset() noexcept { *this = utf8_validator{}; }

private:
    // Below this, a simdjson call costs more than it saves.
    static constexpr std::size_t simd_threshold = 16;

    bool fail() noexcept {
        failed_ = true;
        return false;
    }

    // One transition of the automaton: the state is how many continuation bytes are still needed and the
    // range the next one must fall in (narrowed after E0, ED, F0 and F4, which is what rejects overlongs,
    // surrogates and code points above U+10FFFF at the earliest byte possible).
    bool step(unsigned char b) noexcept {
        if (needed_ == 0) {
            if (b < 0x80) return true;
            if (b >= 0xc2 && b <= 0xdf) {
                needed_ = 1;
            } else if (b >= 0xe0 && b <= 0xef) {
                needed_ = 2;
                if (b == 0xe0) lower_ = 0xa0;
                if (b == 0xed) upper_ = 0x9f;
            } else if (b >= 0xf0 && b <= 0xf4) {
                needed_ = 3;
                if (b == 0xf0) lower_ = 0x90;
                if (b == 0xf4) upper_ = 0x8f;
            } else {
                return fail();  // 80..BF stray continuation, C0/C1 overlong, F5..FF out of range
            }
            return true;
        }
        if (b < lower_ || b > upper_) return fail();
        lower_ = 0x80;
        upper_ = 0xbf;
        --needed_;
        return true;
    }

    // Length of a code point at the end of `s` that has started but not finished (0..3). Whatever else is
    // wrong near the end is left for the whole-buffer validator or the automaton to reject.
    static std::size_t incomplete_tail_size(std::string_view s) noexcept {
        for (std::size_t k = 1; k <= 3 && k <= s.size(); ++k) {
            const auto b = static_cast<unsigned char>(s[s.size() - k]);
            if ((b & 0xc0) == 0x80) continue;  // continuation byte: look further back
            const std::size_t length = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
            return length > k ? k : 0;
        }
        return 0;
    }

    std::uint8_t needed_ = 0;
    std::uint8_t lower_ = 0x80;
    std::uint8_t upper_ = 0xbf;
    bool failed_ = false;
};

}  // namespace tether::core
