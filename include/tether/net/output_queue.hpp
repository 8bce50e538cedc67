#pragma once
// The bytes a connection has yet to write: its own (frames, pongs, chunk headers) and messages
// shared with every other subscriber of a topic, written together with one gather write.
//
// Shared messages are queued as a reference to the published payload plus a view of its bytes
// in this connection's wire format, so a broadcast to N connections copies the payload zero
// times (a message shared by N subscribers is never copied N times). Each shared segment may
// carry a tag the connection gets back once the segment is fully written: that is how a topic's
// per-subscriber byte budget is given back.
//
// A segment is four words (payload reference, pointer, size, tag) and nothing else: queuing a
// shared message is one reference count increment and a store, the cost a fan-out pays per
// (message, subscriber). Owned bytes do not live in their segments (an inline std::string made
// every segment twice as large and cost a string construction per shared message): they go to
// one buffer, in queue order, and an owned segment records only how many of them it covers, so
// the owned segments' bytes follow one another in that buffer. Owned bytes coalesce into the
// last segment when it is owned, so a burst of small frames is still one buffer.
//
// Memory: a queue that drains keeps its arrays for the next write if they are small (keep_segments,
// keep_owned_bytes) and gives larger ones back at once. A subscriber written to every loop turn would
// otherwise regrow them from nothing every turn: seven allocations for a window of 64 messages, and,
// across a thousand subscribers that each write one joined run (reader_group.hpp), half a megabyte
// of small arrays allocated and freed per turn, which glibc returned to the kernel (brk) and faulted
// back in every time: 30,000 page faults for 20 million frames. release_memory() gives the arrays
// back with the rest of the queue, and connections call it from their keep-alive tick, so an idle
// connection (which only ever writes the odd pong or notice) holds one null pointer again after one
// tick. A queue that never quite drains drops its written front once that is most of what it holds.
//
// One write hands the socket up to max_gather segments: 64, what epoll_socket (max_iov) and
// asio (max_buffers) pass to one sendmsg anyway, so a flow-controlled window of 64 messages
// leaves in one call; IOV_MAX (1024) would allow more, but each iovec costs the kernel the same
// copy, and a larger array only lengthens the stack frame of every write.
#include <algorithm>
#include <array>
#include <asio.hpp>
#include <cstddef>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <tether/hub/payload.hpp>

namespace tether::net {

namespace detail {

// The queue itself; output_queue below holds it only while it has something to do.
class output_queue_state {
public:
    static constexpr std::size_t max_gather = 64;          // segments per write (see above)
    static constexpr std::size_t keep_segments = 128;      // kept through a drain: 4 KiB
    static constexpr std::size_t keep_owned_bytes = 4096;  // kept through a drain

    std::size_t size() const noexcept { return bytes_; }
    bool empty() const noexcept { return bytes_ == 0; }

    void append(std::string_view bytes) {
        if (bytes.empty()) return;
        owned_tail() += bytes.size();
        owned().bytes.append(bytes);
        bytes_ += bytes.size();
    }

    // Lets an encoder append into the owned bytes directly, e.g. ws::append_frame(out, ...).
    template <class Encoder>
    void append_with(Encoder&& encode) {
        std::string& buffer = owned().bytes;
        std::size_t const before = buffer.size();
        encode(buffer);
        std::size_t const added = buffer.size() - before;
        if (added == 0) return;
        owned_tail() += added;
        bytes_ += added;
    }

    // Queues `bytes`, which live inside `message`, without copying them.
    void append_shared(hub::payload_ptr message, std::string_view bytes, void* tag = nullptr) {
        if (bytes.empty()) return;
        if (segments_.capacity() == 0) segments_.reserve(initial_segments);
        segments_.push_back(segment{std::move(message), bytes.data(), bytes.size(), tag});
        bytes_ += bytes.size();
    }

    // Writes what the socket accepts now. Calls on_written(tag, size) for the tagged segments
    // that got fully written (once per run of consecutive segments with the same tag, with their
    // total size). Returns the transport's error (would_block when the socket is full).
    template <class Transport, class Socket, class OnWritten>
    std::error_code write(Socket& socket, OnWritten&& on_written) {
        while (bytes_ != 0) {
            // Only the iovecs used are constructed: asio::const_buffer zeroes itself by default, and a
            // fan-out write of one joined run would otherwise clear 64 of them (1 KiB) to use one.
            static_assert(std::is_trivially_destructible_v<asio::const_buffer>);
            alignas(asio::const_buffer) std::byte storage[max_gather * sizeof(asio::const_buffer)];
            auto* buffers = reinterpret_cast<asio::const_buffer*>(storage);
            std::size_t count = 0;
            char const* owned = nullptr;   // loaded at the first owned segment: a subscriber's write may have none
            std::size_t const end = std::min(segments_.size(), head_ + max_gather);
            for (std::size_t i = head_; i < end; ++i) {
                segment const& s = segments_[i];
                char const* data = s.data;
                if (!s.shared) {
                    if (owned == nullptr) owned = owned_->bytes.data() + owned_->read;
                    data = owned;
                    owned += s.size;
                }
                // The head segment's first head_offset_ bytes were written already.
                std::size_t const skip = i == head_ ? head_offset_ : 0;
                ::new (static_cast<void*>(buffers + count++)) asio::const_buffer(data + skip, s.size - skip);
            }
            std::error_code ec;
            std::size_t n = Transport::write_some(socket, std::span<const asio::const_buffer>(buffers, count), ec);
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
    static constexpr std::size_t initial_segments = 16;   // skips the 1, 2, 4, 8 steps of a burst

    // Shared: `shared` keeps [data, data + size) alive. Owned: `shared` is null and the bytes are
    // the next `size` of owned_->bytes after those of the owned segments before this one.
    struct segment {
        hub::payload_ptr shared;
        char const* data;
        std::size_t size;
        void* tag;
    };

    // The byte count of the owned segment at the tail, made if the tail is shared (or none).
    std::size_t& owned_tail() {
        if (segments_.size() == head_ || segments_.back().shared) {
            segments_.push_back(segment{{}, nullptr, 0, nullptr});
        }
        return segments_.back().size;
    }

    template <class OnWritten>
    void consume(std::size_t n, OnWritten& on_written) {
        bytes_ -= n;
        n += head_offset_;   // counted from the start of the head segment
        // A run of written segments with one tag (a subscriber's window of messages) is reported
        // once, with its total: the same bytes given back, one call instead of one per message.
        void* run_tag = nullptr;
        std::size_t run_bytes = 0;
        while (head_ < segments_.size()) {
            segment& s = segments_[head_];
            if (n < s.size) break;
            n -= s.size;
            if (s.shared) {
                if (s.tag != run_tag) {
                    if (run_tag) on_written(run_tag, run_bytes);
                    run_tag = s.tag;
                    run_bytes = 0;
                }
                run_bytes += s.size;
                s.shared = nullptr;
            } else {
                owned_->read += s.size;
            }
            ++head_;
        }
        head_offset_ = n;
        if (run_tag) on_written(run_tag, run_bytes);
        if (head_ == segments_.size()) return drained();
        // A queue that never quite drains (a subscriber always a little behind) must not keep every
        // segment and owned byte it ever held: drop the written front once it is most of the array.
        if (head_ >= keep_segments && head_ * 2 >= segments_.size()) {
            segments_.erase(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(head_));
            head_ = 0;
        }
        if (owned_ && owned_->read >= keep_owned_bytes && owned_->read * 2 >= owned_->bytes.size()) {
            owned_->bytes.erase(0, owned_->read);
            owned_->read = 0;
        }
    }

    // Keeps small arrays for the next write (see above); the keep-alive tick takes them back.
    void drained() noexcept {
        head_ = 0;
        head_offset_ = 0;
        if (segments_.capacity() > keep_segments) std::vector<segment>{}.swap(segments_);
        else segments_.clear();
        if (!owned_) return;
        if (owned_->bytes.capacity() > keep_owned_bytes) {
            owned_.reset();
        } else {
            owned_->bytes.clear();
            owned_->read = 0;
        }
    }

    std::vector<segment> segments_;
    // The owned segments' bytes, in queue order, from `read` on (where the head-most owned segment's
    // bytes start). Behind a pointer: most connections are idle, and an idle one pays 8 bytes for it.
    struct owned_bytes {
        std::string bytes;
        std::size_t read = 0;
    };
    std::unique_ptr<owned_bytes> owned_;
    owned_bytes& owned() {
        if (!owned_) owned_ = std::make_unique<owned_bytes>();
        return *owned_;
    }
    std::size_t head_ = 0;          // first segment not yet fully written
    std::size_t head_offset_ = 0;   // bytes of it already written
    std::size_t bytes_ = 0;
};

} // namespace detail

// The queue a connection holds: one pointer until it first queues something, and again from the
// keep-alive tick that finds it empty (release_memory). Most connections of a realtime server are
// idle most of the time, so the queue's 56 bytes of arrays and counters are paid only by those
// writing; one that writes keeps them from burst to burst, at one pointer load per call.
class output_queue {
public:
    static constexpr std::size_t max_gather = detail::output_queue_state::max_gather;

    std::size_t size() const noexcept { return q_ ? q_->size() : 0; }
    bool empty() const noexcept { return !q_ || q_->empty(); }

    void append(std::string_view bytes) {
        if (!bytes.empty()) queue().append(bytes);
    }
    // Lets an encoder append into the owned bytes directly, e.g. ws::append_frame(out, ...).
    template <class Encoder>
    void append_with(Encoder&& encode) {
        queue().append_with(std::forward<Encoder>(encode));
    }
    // Queues `bytes`, which live inside `message`, without copying them.
    void append_shared(hub::payload_ptr message, std::string_view bytes, void* tag = nullptr) {
        if (!bytes.empty()) queue().append_shared(std::move(message), bytes, tag);
    }
    // Writes what the socket accepts now; on_written(tag, size) as output_queue_state::write says.
    template <class Transport, class Socket, class OnWritten>
    std::error_code write(Socket& socket, OnWritten&& on_written) {
        return q_ ? q_->template write<Transport>(socket, std::forward<OnWritten>(on_written)) : std::error_code{};
    }
    // Drops everything (the connection is closing); tagged segments are reported as written.
    template <class OnWritten>
    void clear(OnWritten&& on_written) {
        if (q_) q_->clear(std::forward<OnWritten>(on_written));
    }
    // An empty queue gives back everything, itself included.
    void release_memory() noexcept {
        if (q_ && q_->empty()) q_.reset();
    }

private:
    detail::output_queue_state& queue() {
        if (!q_) q_ = std::make_unique<detail::output_queue_state>();
        return *q_;
    }
    std::unique_ptr<detail::output_queue_state> q_;
};

} // namespace tether::net
