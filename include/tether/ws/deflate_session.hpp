#pragma once
// One endpoint's permessage-deflate state for one connection (RFC 7692 §7.2): which zlib objects it holds,
// for how long, and the rules that keep its compressor in step with the peer's window. Shared by the server
// connection and the client, which differ only in which side of the agreed parameters is "ours".
//
// Memory is the point of this class. A zlib deflate state with a 32 KiB window costs about 256 KiB and an
// inflate state about 40 KiB; a server with 10,000 idle connections cannot hold those per connection. So:
//  - Without context takeover in a direction, nothing is held between messages: a message is compressed
//    with a per-thread shared compressor (reset after each use), and inflated with an inflater borrowed from
//    a small per-thread pool for the duration of the message (a message split across reads keeps it until
//    its last frame).
//  - With context takeover, the window must survive between messages, so the connection owns its zlib
//    object; but release_if_idle(), called from a periodic timer, keeps only the window's bytes (at most
//    2^window_bits) after a quiet period and rebuilds the state from them on the next message.
// A compressed frame built elsewhere and shared (a broadcast) changes the peer's window without passing
// through our compressor, so shared_frame_sent() makes the next message start from an empty window, which
// any peer can decode.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tether/ws/deflate_codec.hpp>
#include <tether/ws/frame.hpp>
#include <tether/ws/permessage_deflate.hpp>

namespace tether::ws {

namespace detail {

// A few inflaters per thread, reset and ready, so a connection without context takeover borrows one per
// compressed message instead of allocating zlib's state (and its 32 KiB window) every time. 15-bit windows
// decode any peer's stream: a window size only bounds the distances a sender may use.
class inflater_pool {
public:
    static std::unique_ptr<inflater> take() {
        auto& spare = instance().spare_;
        if (spare.empty()) return std::make_unique<inflater>(max_window_bits);
        auto z = std::move(spare.back());
        spare.pop_back();
        return z;
    }
    static void give_back(std::unique_ptr<inflater> z) noexcept {
        if (!z) return;
        auto& spare = instance().spare_;
        if (spare.size() >= kept || z->window_bits() != max_window_bits) return;  // freed
        z->reset();
        try {
            spare.push_back(std::move(z));
        } catch (...) {  // out of memory: the inflater is simply freed
        }
    }

private:
    static constexpr std::size_t kept = 4;
    static inflater_pool& instance() {
        thread_local inflater_pool pool;
        return pool;
    }
    std::vector<std::unique_ptr<inflater>> spare_;
};

// Per-thread compressors for messages that stand alone (no context takeover, broadcasts), one per setting
// in use; each is reset after every message.
class shared_deflaters {
public:
    static void compress(std::string_view message, std::string& out, std::uint8_t window_bits, int level,
                         std::uint8_t mem_level) {
        auto& self = instance();
        const int window = zlib_deflate_window(window_bits);
        for (auto& e : self.entries_)
            if (e.z && e.window == window && e.level == level && e.mem_level == mem_level) return run(*e.z, message, out);
        auto& slot = self.entries_[self.next_++ % self.entries_.size()];  // evict round-robin past four
        slot = {std::make_unique<deflater>(static_cast<std::uint8_t>(window), level, mem_level), window, level,
                mem_level};
        run(*slot.z, message, out);
    }

private:
    static void run(deflater& z, std::string_view message, std::string& out) {
        try {
            z.compress(message, out);
        } catch (...) {
            z.reset();
            throw;
        }
        z.reset();
    }
    struct entry {
        std::unique_ptr<deflater> z;
        int window = 0, level = 0;
        std::uint8_t mem_level = 0;
    };
    static shared_deflaters& instance() {
        thread_local shared_deflaters d;
        return d;
    }
    std::array<entry, 4> entries_{};
    std::size_t next_ = 0;
};

}  // namespace detail

// Compresses a message that stands alone (an empty window at both ends), as a broadcast frame must be:
// appends the compressed payload to `out`. Thread-safe (per-thread compressors).
inline void compress_standalone(std::string_view message, std::string& out, std::uint8_t window_bits, int level = 6,
                                std::uint8_t mem_level = 8) {
    detail::shared_deflaters::compress(message, out, window_bits, level, mem_level);
}

class deflate_session {
public:
    deflate_session(role endpoint, const deflate_params& agreed, const deflate_options& settings) noexcept
        : params_(agreed),
          threshold_(settings.threshold > UINT32_MAX ? UINT32_MAX : static_cast<std::uint32_t>(settings.threshold)),
          level_(static_cast<std::int8_t>(settings.level)), mem_level_(settings.mem_level), endpoint_(endpoint) {}
    deflate_session(const deflate_session&) = delete;
    deflate_session& operator=(const deflate_session&) = delete;
    ~deflate_session() { detail::inflater_pool::give_back(std::move(borrowed_)); }

    [[nodiscard]] const deflate_params& params() const noexcept { return params_; }
    [[nodiscard]] std::size_t threshold() const noexcept { return threshold_; }

    // Whether each side keeps its window between messages (§7.1.1): ours is the compressor's, theirs the
    // inflater's.
    [[nodiscard]] bool our_context_takeover() const noexcept {
        return endpoint_ == role::server ? !params_.server_no_context_takeover : !params_.client_no_context_takeover;
    }
    [[nodiscard]] bool peer_context_takeover() const noexcept {
        return endpoint_ == role::server ? !params_.client_no_context_takeover : !params_.server_no_context_takeover;
    }
    // The window our compressor may use, and the one the peer's may (§7.1.2).
    [[nodiscard]] std::uint8_t our_window_bits() const noexcept {
        return endpoint_ == role::server ? params_.server_max_window_bits : params_.client_max_window_bits;
    }
    [[nodiscard]] std::uint8_t peer_window_bits() const noexcept {
        return endpoint_ == role::server ? params_.client_max_window_bits : params_.server_max_window_bits;
    }

    // ---- receiving (§7.2.2) ----------------------------------------------------------------------------

    // A compressed message begins (its first frame had RSV1).
    void begin_message() {
        active_ = inflating_ = true;
        if (!peer_context_takeover()) {
            if (!borrowed_) borrowed_ = detail::inflater_pool::take();
            return;
        }
        if (!inflater_) {
            inflater_ = std::make_unique<inflater>(peer_window_bits());
            if (saved_inflate_window_) inflater_->set_dictionary(*saved_inflate_window_);
            saved_inflate_window_.reset();
        }
    }
    // A piece of its payload; the output is appended to `out`, which must not grow past `limit`.
    [[nodiscard]] inflate_status inflate(std::string_view piece, std::string& out, std::size_t limit) {
        return current_inflater().inflate(piece, out, limit);
    }
    // Its last frame has been inflated: flushes the rest. A borrowed inflater goes back to the pool.
    [[nodiscard]] inflate_status end_message(std::string& out, std::size_t limit) {
        const inflate_status s = current_inflater().finish(out, limit);
        detail::inflater_pool::give_back(std::move(borrowed_));
        inflating_ = false;
        return s;
    }

    // ---- sending (§7.2.1) --------------------------------------------------------------------------------

    // Whether a message of this size is worth compressing at all.
    [[nodiscard]] bool wants_to_compress(std::size_t size) const noexcept { return size >= threshold_; }

    // Appends the compressed payload of `message` to `out` and returns true, or leaves `out` as it was and
    // returns false when the message should go uncompressed (below the threshold, or deflate did not make it
    // smaller). Either way the peer's window and ours stay in step.
    bool compress(std::string_view message, std::string& out) {
        // An empty message is smaller plain (0 bytes) than compressed (the one byte 0x00, §7.2.3.6).
        if (message.empty() || !wants_to_compress(message.size())) return false;
        active_ = true;
        const std::size_t start = out.size();
        if (!our_context_takeover()) {
            compress_standalone(message, out, our_window_bits(), level_, mem_level_);
        } else {
            deflater& z = own_deflater();
            if (stale_) {
                z.reset();
                stale_ = false;
            }
            try {
                z.compress(message, out);
            } catch (...) {
                out.resize(start);
                stale_ = true;
                throw;
            }
        }
        if (out.size() - start < message.size()) return true;
        // Deflate did not pay (already compressed data): send it as is. Our compressor has the message in its
        // window and the peer will not, so its next message starts afresh.
        out.resize(start);
        stale_ = true;
        return false;
    }

    // A compressed frame that did not come from our compressor (a shared broadcast frame) was queued.
    void shared_frame_sent() noexcept { stale_ = true; }

    // ---- memory ------------------------------------------------------------------------------------------

    // Called periodically (the keep-alive timer): state held for context takeover by a connection that has
    // not compressed or inflated anything since the last call is reduced to its window's bytes.
    void release_if_idle() {
        if (active_ || inflating_) {
            active_ = false;
            return;
        }
        if (deflater_) {
            if (!stale_) saved_deflate_window_ = std::make_unique<std::string>(deflater_->dictionary());
            deflater_.reset();
        }
        if (inflater_) {
            saved_inflate_window_ = std::make_unique<std::string>(inflater_->dictionary());
            inflater_.reset();
        }
    }

    // zlib objects this connection holds now (not counting per-thread shared ones), for tests and metrics.
    [[nodiscard]] int zlib_streams_held() const noexcept {
        return (deflater_ ? 1 : 0) + (inflater_ ? 1 : 0) + (borrowed_ ? 1 : 0);
    }

private:
    inflater& current_inflater() {
        if (!inflating_) begin_message();
        return borrowed_ ? *borrowed_ : *inflater_;
    }

    deflater& own_deflater() {
        if (!deflater_) {
            deflater_ = std::make_unique<deflater>(our_window_bits(), level_, mem_level_);
            if (!stale_ && saved_deflate_window_) deflater_->set_dictionary(*saved_deflate_window_);
            saved_deflate_window_.reset();
        }
        return *deflater_;
    }

    // Compact on purpose: one of these per connection that agreed to deflate, idle or not.
    deflate_params params_;
    std::uint32_t threshold_;
    std::int8_t level_;
    std::uint8_t mem_level_;
    role endpoint_;
    bool stale_ = false;   // our compressor's window no longer matches the peer's: reset before use
    bool active_ = false;  // compressed or inflated something since the last release_if_idle()
    bool inflating_ = false;  // between begin_message() and end_message()
    std::unique_ptr<deflater> deflater_;   // context takeover only
    std::unique_ptr<inflater> inflater_;   // context takeover only
    std::unique_ptr<inflater> borrowed_;   // from the thread's pool, for one message
    std::unique_ptr<std::string> saved_deflate_window_, saved_inflate_window_;   // released contexts
};

}  // namespace tether::ws
