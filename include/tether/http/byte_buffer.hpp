#pragma once
// A growable run of bytes that can make room without filling it: for buffers that are written piece by piece
// into room made once (a response head, a response's field lines). std::string can only make such room with
// resize(), which zero-fills it first, and both that and append() are out-of-line calls into the library that
// check for aliasing and overflow on every use: callgrind put them at ~180 instructions of a pipelined
// /plaintext request (~1,400 in all). Here making room within the capacity is a compare and an add, inline;
// only growing the storage is a call.
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>

#include <tether/http/short_bytes.hpp>

namespace tether::http {

class byte_buffer {
public:
    byte_buffer() noexcept = default;
    byte_buffer(const byte_buffer& other) { append(other.view()); }
    byte_buffer(byte_buffer&& other) noexcept { swap(other); }
    byte_buffer& operator=(const byte_buffer& other) {
        if (this != &other) {
            clear();
            append(other.view());
        }
        return *this;
    }
    byte_buffer& operator=(byte_buffer&& other) noexcept {
        byte_buffer taken(std::move(other));
        swap(taken);
        return *this;
    }

    const char* data() const noexcept { return bytes_.get(); }
    char* data() noexcept { return bytes_.get(); }
    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return capacity_; }
    bool empty() const noexcept { return size_ == 0; }
    std::string_view view() const noexcept { return {bytes_.get(), size_}; }
    operator std::string_view() const noexcept { return view(); }

    // Makes n more bytes at the end and returns where they start; the caller writes all of them.
    char* extend(std::size_t n) {
        if (n > capacity_ - size_) grow(n);
        char* at = bytes_.get() + size_;
        size_ += n;
        return at;
    }

    byte_buffer& append(std::string_view bytes) {
        if (bytes.empty()) return *this;   // data() may be null: memcpy's arguments must not be
        detail::copy_short(extend(bytes.size()), bytes.data(), bytes.size());   // hands long runs to memcpy
        return *this;
    }

    // Empties the buffer and keeps its storage for the next use.
    void clear() noexcept { size_ = 0; }
    // Empties the buffer and frees its storage.
    void release() noexcept {
        bytes_.reset();
        size_ = capacity_ = 0;
    }
    void swap(byte_buffer& other) noexcept {
        std::swap(bytes_, other.bytes_);
        std::swap(size_, other.size_);
        std::swap(capacity_, other.capacity_);
    }

private:
    // Out of line and rare: at least doubles, so appending n bytes one piece at a time copies O(n) in all.
    [[gnu::noinline]] void grow(std::size_t n) {
        std::size_t capacity = capacity_ < 64 ? 64 : capacity_ * 2;
        if (capacity - size_ < n) capacity = size_ + n;
        std::unique_ptr<char[]> bytes(new char[capacity]);   // not value-initialized: it is written before read
        if (size_) std::memcpy(bytes.get(), bytes_.get(), size_);
        bytes_ = std::move(bytes);
        capacity_ = capacity;
    }

    std::unique_ptr<char[]> bytes_;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
};

} // namespace tether::http
