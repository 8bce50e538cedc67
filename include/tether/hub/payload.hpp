#pragma once
// One published message, immutable and shared: its id (epoch and sequence), its conflation key, and its bytes
// already encoded once per wire format (say: raw JSON for polling, an unmasked WebSocket frame, an SSE event block).
//
// Why encode at publish time: a message reaching N subscribers over three transports is framed three times,
// not N times (uWebSockets' TopicTree frames per subscriber; we do not). The hub does not know the formats;
// it stores N byte strings that the topic's encoders produced, and a transport picks its own by index.
//
// Why one allocation: header, format boundaries, key and bytes live in a single block, so a message costs
// one allocation (from a caller-chosen std::pmr::memory_resource, e.g. a pool) and one reference count,
// and a subscriber's queued write is one pointer. Rejected: std::vector<std::string> per message (N+2
// allocations) and std::shared_ptr (a second control block, fat handles).
#include "tether/hub/ref_ptr.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory_resource>
#include <new>
#include <span>
#include <stdexcept>
#include <string_view>

namespace tether::hub {

class payload;
/// The handle every transport queues: copying it shares the message, never its bytes.
using payload_ptr = ref_ptr<payload const>;

class payload final : public ref_counted<payload> {
public:
    /// Builds a message holding `key` and one encoding per wire format, in one allocation from `memory`
    /// (nullptr: the default resource). Throws std::length_error past 4 GiB, std::bad_alloc on exhaustion.
    /// `epoch` is the topic's epoch when the message got its sequence (see cursor.hpp): it can change at run
    /// time on a topic ordered by a backplane, and a transport writing ids takes it from the message.
    static payload_ptr make(std::uint64_t sequence, std::string_view key,
                            std::span<std::string_view const> encodings,
                            std::pmr::memory_resource* memory = nullptr, std::uint64_t epoch = 0) {
        if (memory == nullptr) memory = std::pmr::get_default_resource();
        std::size_t bytes = key.size();
        for (auto e : encodings) bytes += e.size();
        std::size_t const header = sizeof(payload) + encodings.size() * sizeof(std::uint32_t);
        if (bytes > std::numeric_limits<std::uint32_t>::max() ||
            encodings.size() > std::numeric_limits<std::uint32_t>::max() - 1) {
            throw std::length_error("tether::hub::payload: message larger than 4 GiB");
        }
        std::size_t const total = header + bytes;
        void* block = memory->allocate(total, alignof(payload));
        auto* self = ::new (block) payload(memory, epoch, sequence, total, encodings.size(), key.size());
        char* out = self->trailing();
        // Format i spans [ends[i-1], ends[i]) of the byte area; ends are copied with memcpy so no uint32
        // object lifetime has to be started inside the raw block.
        std::uint32_t end = 0;
        for (std::size_t i = 0; i < encodings.size(); ++i) {
            end += static_cast<std::uint32_t>(encodings[i].size());
            std::memcpy(out + i * sizeof(std::uint32_t), &end, sizeof end);
        }
        out += encodings.size() * sizeof(std::uint32_t);
        if (!key.empty()) std::memcpy(out, key.data(), key.size());
        out += key.size();
        for (auto e : encodings) {
            if (!e.empty()) std::memcpy(out, e.data(), e.size());
            out += e.size();
        }
        return payload_ptr::adopt(self);
    }

    /// The topic-wide, monotonically increasing id (the first message of a local topic is 1).
    std::uint64_t sequence() const noexcept { return sequence_; }
    /// The epoch the sequence belongs to.
    std::uint64_t epoch() const noexcept { return epoch_; }
    /// A tombstone holds no encodings: its sequence was claimed but will never be delivered (reported missed).
    bool tombstone() const noexcept { return format_count_ == 0; }
    /// Conflation key; empty when the publisher gave none (all key-less messages then share one key).
    std::string_view key() const noexcept { return {trailing() + ends_bytes(), key_size_}; }
    std::size_t format_count() const noexcept { return format_count_; }
    /// The bytes of wire format `format` (an index into the topic's format list).
    std::string_view encoded(std::size_t format) const noexcept {
        std::uint32_t const begin = format == 0 ? 0 : end_of(format - 1);
        return {bytes_area() + begin, end_of(format) - begin};
    }
    /// Size of the whole allocation: what holding this message costs.
    std::size_t allocated_bytes() const noexcept { return allocated_; }

    static void destroy(payload const* self) noexcept {
        auto* memory = self->memory_;
        auto const size = self->allocated_;
        self->~payload();
        memory->deallocate(const_cast<payload*>(self), size, alignof(payload));
    }

private:
    payload(std::pmr::memory_resource* memory, std::uint64_t epoch, std::uint64_t sequence, std::size_t allocated,
            std::size_t format_count, std::size_t key_size) noexcept
        : memory_{memory},
          epoch_{epoch},
          sequence_{sequence},
          allocated_{allocated},
          format_count_{static_cast<std::uint32_t>(format_count)},
          key_size_{static_cast<std::uint32_t>(key_size)} {}
    ~payload() = default;
    friend class ref_counted<payload>;

    char* trailing() noexcept { return reinterpret_cast<char*>(this + 1); }
    char const* trailing() const noexcept { return reinterpret_cast<char const*>(this + 1); }
    std::size_t ends_bytes() const noexcept { return format_count_ * sizeof(std::uint32_t); }
    char const* bytes_area() const noexcept { return trailing() + ends_bytes() + key_size_; }
    std::uint32_t end_of(std::size_t format) const noexcept {
        std::uint32_t end;
        std::memcpy(&end, trailing() + format * sizeof(std::uint32_t), sizeof end);
        return end;
    }

    std::pmr::memory_resource* memory_;
    std::uint64_t epoch_;
    std::uint64_t sequence_;
    std::size_t allocated_;
    std::uint32_t format_count_;
    std::uint32_t key_size_;
};

}  // namespace tether::hub
