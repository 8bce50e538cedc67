#pragma once
// The bytes a connection has yet to write: its own (frames, pongs, chunk headers) and messages
// shared with every other subscriber of a topic, written together with one gather write.
//
// Shared messages are queued as a reference to the published payload plus a view of its bytes
// in this connection's wire format, so a broadcast to N connections copies the payload zero
// times (a message shared by N subscribers is never copied N times). Owned bytes
// coalesce into the last owned segment, so a burst of small frames is still one buffer.
// Each shared segment may carry a tag the connection gets back once the segment is fully
// written: that is how a topic's per-subscriber byte budget is given back.
//
// An empty queue holds no memory (a vector with no capacity), which matters for idle
// connections; segments are popped from the front by index and the vector is released when
// it drains.
#include <array>
#include <asio.hpp>
#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <tether/hub/payload.hpp>

namespace tether::net {

class output_queue {
public:
    std::size_t size() const noexcept { return bytes_; }
    bool empty() const noexcept { return bytes_ == 0; }

    void append(std::string_view bytes) {
        owned_tail().append(bytes);
        bytes_ += bytes.size();
    }

    // Lets an encoder append into the owned tail directly, e.g. ws::append_frame(out, ...).
    template <class Encoder>
    void append_with(Encoder&& encode) {
        std::string& tail = owned_tail();
        std::size_t before = tail.size();
        encode(tail);
        bytes_ += tail.size() - before;
    }

    // Queues `bytes`, which live inside `message`, without copying them.
    void append_shared(hub::payload_ptr message, std::string_view bytes, void* tag = nullptr) {
        if (bytes.empty()) return;
        segments_.push_back(segment{std::move(message), bytes, {}, tag});
        bytes_ += bytes.size();
    }

    // Writes what the socket accepts now. Calls on_written(tag, size) for each tagged segment
    // that got fully written. Returns the transport's error (would_block when the socket is full).
    template <class Transport, class Socket, class OnWritten>
    std::error_code write(Socket& socket, OnWritten&& on_written) {
        while (bytes_ != 0) {
            std::array<asio::const_buffer, max_gather> buffers;
            std::size_t count = 0;
            for (std::size_t i = head_; i < segments_.size() && count < max_gather; ++i) {
                std::string_view v = segments_[i].view();
                if (i == head_) v.remove_prefix(head_offset_);
                buffers[count++] = asio::const_buffer(v.data(), v.size());
            }
            std::error_code ec;
            std::size_t n = Transport::write_some(socket, std::span<const asio::const_buffer>(buffers.data(), count), ec);
            if (ec) return ec;
            consume(n, on_written);
        }
        return {};
    }

    // Drops everything (the connection is closing); tagged segments are reported as written.
    template <class OnWritten>
    void clear(OnWritten&& on_written) {
        consume(bytes_, on_written);
    }

private:
    static constexpr std::size_t max_gather = 16;   // iovecs per write: enough to batch a burst

    struct segment {
        hub::payload_ptr shared;   // keeps the bytes alive; null for owned segments
        std::string_view shared_bytes;
        std::string owned;
        void* tag = nullptr;
        std::string_view view() const noexcept { return shared ? shared_bytes : std::string_view(owned); }
    };

    std::string& owned_tail() {
        if (segments_.size() == head_ || segments_.back().shared) segments_.push_back(segment{});
        return segments_.back().owned;
    }

    template <class OnWritten>
    void consume(std::size_t n, OnWritten& on_written) {
        bytes_ -= n;
        while (n != 0 || (head_ < segments_.size() && segments_[head_].view().size() == head_offset_)) {
            segment& s = segments_[head_];
            std::size_t left = s.view().size() - head_offset_;
            if (n < left) {
                head_offset_ += n;
                return;
            }
            n -= left;
            if (s.tag) on_written(s.tag, s.view().size());
            s = segment{};
            ++head_;
            head_offset_ = 0;
            if (head_ == segments_.size()) {   // drained: give the memory back
                std::vector<segment>{}.swap(segments_);
                head_ = 0;
                return;
            }
        }
    }

    std::vector<segment> segments_;
    std::size_t head_ = 0;
    std::size_t head_offset_ = 0;
    std::size_t bytes_ = 0;
};

} // namespace tether::net
