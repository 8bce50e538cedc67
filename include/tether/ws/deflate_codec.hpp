#pragma once
// The permessage-deflate codec (RFC 7692 §7.2) on zlib's raw deflate: a compressor that turns one message
// into one compressed payload, and an inflater that takes a compressed message in pieces, as frames and
// reads deliver it, with its output bounded.
//
// Why these shapes:
//  - compress() takes a whole message: a sender always has it (send(), a published message), and a whole
//    message is what lets the caller fall back to sending it uncompressed when deflate does not pay.
//  - inflate() takes pieces and appends to the caller's string, stopping one byte past the caller's limit,
//    so a decompression bomb costs at most max_message_size + 1 bytes before it is refused (1009), never
//    the size it claims to expand to. The limit is measured after decompression, as the application sees it.
//  - Each object is one z_stream. Whether it lives for a message or for the connection (context takeover)
//    is the caller's decision (deflate_session.hpp); this header knows nothing of negotiation.
// Rejected: zlib's compress()/uncompress() helpers (zlib format with a header and checksum, not raw
// deflate, and no bounded output) and a streaming compressor fed by the output queue (a message would be
// compressed in the I/O path of every connection instead of once).
//
// zlib is optional: the CMake target defines TETHER_WITH_DEFLATE=1 and links ZLIB::ZLIB when zlib is found
// (or required with -DTETHER_WITH_DEFLATE=ON). Without it deflate_available is false, negotiation declines
// every offer (the server) or refuses to offer (the client), and these classes are never constructed.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#if defined(TETHER_WITH_DEFLATE) && TETHER_WITH_DEFLATE
#include <zlib.h>
#define TETHER_DEFLATE_ENABLED 1
#else
#define TETHER_DEFLATE_ENABLED 0
#endif

namespace tether::ws {

inline constexpr bool deflate_available = TETHER_DEFLATE_ENABLED != 0;

// §7.2.1: a compressed payload is a DEFLATE stream flushed to a byte boundary with its trailing empty stored
// block's last four octets removed; §7.2.2: the receiver appends them again before inflating.
inline constexpr std::string_view deflate_tail{"\x00\x00\xff\xff", 4};

enum class inflate_status : std::uint8_t {
    ok,
    too_big,  // the output passed the caller's limit: close with 1009
    invalid,  // not a valid DEFLATE stream (or a distance past the negotiated window): close with 1007
};

// zlib's raw deflate refuses a 256-byte window; with 512 bytes its longest distance is 512 - 262 = 250
// (MIN_LOOKAHEAD), which a peer's 256-byte window still holds. See permessage_deflate.hpp.
[[nodiscard]] constexpr int zlib_deflate_window(std::uint8_t window_bits) noexcept {
    return window_bits < 9 ? 9 : window_bits;
}

#if TETHER_DEFLATE_ENABLED

class deflater {
public:
    // Throws std::bad_alloc when zlib cannot allocate its state, std::invalid_argument for settings zlib
    // refuses (window 8..15, level 0..9, mem_level 1..9).
    deflater(std::uint8_t window_bits, int level, std::uint8_t mem_level) {
        const int rc = deflateInit2(&z_, level, Z_DEFLATED, -zlib_deflate_window(window_bits), mem_level,
                                    Z_DEFAULT_STRATEGY);
        if (rc == Z_MEM_ERROR) throw std::bad_alloc();
        if (rc != Z_OK) throw std::invalid_argument("tether::ws::deflater: zlib refused the settings");
    }
    deflater(const deflater&) = delete;
    deflater& operator=(const deflater&) = delete;
    ~deflater() { deflateEnd(&z_); }

    // Appends the permessage-deflate payload of `message` to `out` (§7.2.1). The LZ77 window carries over
    // to the next message unless reset() is called.
    void compress(std::string_view message, std::string& out) {
        if (message.empty()) {
            // zlib emits nothing for a flush with no new input; an empty stored block minus its last four
            // octets is the one byte 0x00 (§7.2.3.6), valid whatever the window holds.
            out.push_back('\0');
            return;
        }
        const std::size_t start = out.size();
        // Room for the worst case (stored blocks) plus the flush marker; grown below if zlib wants more.
        std::size_t used = start;
        out.resize(start + deflateBound(&z_, static_cast<uLong>(message.size())) + 16);
        const char* in = message.data();
        std::size_t left = message.size();
        for (;;) {
            const std::size_t piece = left < max_piece ? left : max_piece;
            z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in));
            z_.avail_in = static_cast<uInt>(piece);
            in += piece;
            left -= piece;
            const int flush = left == 0 ? Z_SYNC_FLUSH : Z_NO_FLUSH;
            for (;;) {
                if (out.size() - used < 64) out.resize(out.size() + out.size() / 2 + 64);
                z_.next_out = reinterpret_cast<Bytef*>(out.data() + used);
                const std::size_t room = std::min<std::size_t>(out.size() - used, max_piece);
                z_.avail_out = static_cast<uInt>(room);
                const int rc = ::deflate(&z_, flush);
                used += room - z_.avail_out;
                if (rc == Z_STREAM_ERROR) throw std::logic_error("tether::ws::deflater: zlib stream error");
                // Done with this piece once zlib took all input and did not fill the output (nothing pending).
                if (z_.avail_in == 0 && z_.avail_out != 0) break;
            }
            if (left == 0) break;
        }
        // Z_SYNC_FLUSH ends with an empty stored block: 00 00 ff ff is always the last four octets.
        if (used - start < deflate_tail.size() ||
            std::string_view(out).substr(used - deflate_tail.size(), deflate_tail.size()) != deflate_tail)
            throw std::logic_error("tether::ws::deflater: a sync flush did not end with 00 00 ff ff");
        out.resize(used - deflate_tail.size());
    }

    // Forgets the LZ77 window: the next message is compressed on its own.
    void reset() noexcept { deflateReset(&z_); }

    // The window's contents (at most 2^window_bits bytes), so a connection that goes idle can free the state
    // and resume later with set_dictionary() instead of losing its context.
    [[nodiscard]] std::string dictionary() {
        std::string out(std::size_t{1} << 15, '\0');
        uInt length = 0;
        deflateGetDictionary(&z_, reinterpret_cast<Bytef*>(out.data()), &length);
        out.resize(length);
        return out;
    }
    void set_dictionary(std::string_view d) {
        if (!d.empty())
            deflateSetDictionary(&z_, reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size()));
    }

private:
    static constexpr std::size_t max_piece = std::size_t{1} << 30;  // zlib counts in 32-bit uInt
    z_stream z_{};
};

class inflater {
public:
    // `window_bits` 8..15: the window the peer's compressor was limited to. Throws std::bad_alloc.
    // A distance past that window is refused (1007) when it reaches across zlib calls; zlib does not check
    // it inside one call, where that call's output is at hand, so such a stream may also decode, depending
    // on how it was split: leniency towards a broken sender, never a wrong result or more memory than the
    // window.
    explicit inflater(std::uint8_t window_bits) : window_bits_(window_bits) {
        const int rc = inflateInit2(&z_, -static_cast<int>(window_bits));
        if (rc == Z_MEM_ERROR) throw std::bad_alloc();
        if (rc != Z_OK) throw std::invalid_argument("tether::ws::inflater: zlib refused the window size");
    }
    inflater(const inflater&) = delete;
    inflater& operator=(const inflater&) = delete;
    ~inflater() { inflateEnd(&z_); }

    // Inflates a piece of a compressed message's payload, appending to `out`. Stops with too_big as soon as
    // `out` would hold more than `limit` bytes (it then holds at most limit + 1).
    [[nodiscard]] inflate_status inflate(std::string_view piece, std::string& out, std::size_t limit) {
        while (!piece.empty()) {
            const std::size_t n = piece.size() < max_piece ? piece.size() : max_piece;
            const inflate_status s = run(piece.substr(0, n), out, limit, false);
            if (s != inflate_status::ok) return s;
            piece.remove_prefix(n);
        }
        return inflate_status::ok;
    }

    // The end of the message: appends the four octets the sender removed (§7.2.2) and inflates them, which
    // flushes the rest of the message. The window stays for the next message unless reset() is called.
    [[nodiscard]] inflate_status finish(std::string& out, std::size_t limit) {
        if (ended_) {
            // The sender closed its DEFLATE stream with a final block (BFINAL, §7.2.3.3) and sent nothing
            // after it: the tail belongs to no stream. Start the next message's stream on the same window.
            restart_keeping_window();
            return inflate_status::ok;
        }
        return run(deflate_tail, out, limit, true);
    }

    // Forgets the window (no context takeover) and any half-read message.
    void reset() noexcept {
        inflateReset(&z_);
        ended_ = false;
    }

    [[nodiscard]] std::uint8_t window_bits() const noexcept { return window_bits_; }

    // The window's contents, for an idle connection that frees its state (see deflater::dictionary()).
    [[nodiscard]] std::string dictionary() {
        std::string out(std::size_t{1} << 15, '\0');
        uInt length = 0;
        inflateGetDictionary(&z_, reinterpret_cast<Bytef*>(out.data()), &length);
        out.resize(length);
        return out;
    }
    void set_dictionary(std::string_view d) {
        // Raw inflate accepts a dictionary at any time (zlib.h, inflateSetDictionary).
        if (!d.empty())
            inflateSetDictionary(&z_, reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size()));
    }

private:
    static constexpr std::size_t max_piece = std::size_t{1} << 30;

    void restart_keeping_window() {
        std::string window = dictionary();
        inflateReset(&z_);
        set_dictionary(window);
        ended_ = false;
    }

    inflate_status run(std::string_view in, std::string& out, std::size_t limit, bool tail) {
        z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
        z_.avail_in = static_cast<uInt>(in.size());
        for (;;) {
            if (ended_) {
                if (z_.avail_in == 0) return inflate_status::ok;
                // Bytes after a final block: §7.2.3.3's own example leaves one (the remnant of the empty
                // stored block a sender appends); read them as a new stream on the same window, so padding
                // inflates to nothing and garbage is still refused.
                const Bytef* next = z_.next_in;
                const uInt avail = z_.avail_in;
                restart_keeping_window();
                z_.next_in = const_cast<Bytef*>(next);
                z_.avail_in = avail;
            }
            const std::size_t used = out.size();
            if (used > limit) return inflate_status::too_big;
            // Grow geometrically, never past limit + 1: one byte over is how we learn the limit was passed.
            std::size_t room = used < 4096 ? 4096 : used;
            if (room > max_piece) room = max_piece;
            if (limit - used < room) room = limit - used + 1;  // limit >= used here, and no overflow
            out.resize(used + room);
            z_.next_out = reinterpret_cast<Bytef*>(out.data() + used);
            z_.avail_out = static_cast<uInt>(room);
            const int rc = ::inflate(&z_, Z_SYNC_FLUSH);
            out.resize(used + room - z_.avail_out);
            if (rc == Z_MEM_ERROR) throw std::bad_alloc();
            // Too big first: output past the limit is refused whatever follows it, so the answer does not
            // depend on how the input was split (the fuzzer holds us to that).
            if (out.size() > limit) return inflate_status::too_big;
            if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_STREAM_ERROR) return inflate_status::invalid;
            if (rc == Z_STREAM_END) {
                // The tail completed a final block's stream (a sender may end with BFINAL, §7.2.3.3):
                // whatever is left of the tail is padding, and the next message starts a new stream.
                if (tail) {
                    restart_keeping_window();
                    return inflate_status::ok;
                }
                ended_ = true;
                continue;
            }
            if (z_.avail_out == 0) continue;             // out of room: grow and go on
            if (z_.avail_in == 0) return inflate_status::ok;  // all input taken, nothing pending
            return inflate_status::invalid;              // zlib stopped with input and room left
        }
    }

    z_stream z_{};
    std::uint8_t window_bits_;
    bool ended_ = false;  // the last piece ended the sender's DEFLATE stream (BFINAL) exactly
};

#else  // no zlib: never constructed (negotiation never agrees), present so callers compile unchanged

class deflater {
public:
    deflater(std::uint8_t, int, std::uint8_t) { unavailable(); }
    void compress(std::string_view, std::string&) { unavailable(); }
    void reset() noexcept {}
    std::string dictionary() { return {}; }
    void set_dictionary(std::string_view) {}

private:
    [[noreturn]] static void unavailable() {
        throw std::logic_error("tether::ws: permessage-deflate needs zlib (build with TETHER_WITH_DEFLATE)");
    }
};

class inflater {
public:
    explicit inflater(std::uint8_t) { unavailable(); }
    inflate_status inflate(std::string_view, std::string&, std::size_t) { return inflate_status::invalid; }
    inflate_status finish(std::string&, std::size_t) { return inflate_status::invalid; }
    void reset() noexcept {}
    std::uint8_t window_bits() const noexcept { return 15; }
    std::string dictionary() { return {}; }
    void set_dictionary(std::string_view) {}

private:
    [[noreturn]] static void unavailable() {
        throw std::logic_error("tether::ws: permessage-deflate needs zlib (build with TETHER_WITH_DEFLATE)");
    }
};

#endif

}  // namespace tether::ws
