#pragma once
// One published message, immutable and shared: its id (epoch and sequence), its conflation key, its body, and
// its bytes encoded once per wire format (say: raw JSON for polling, an unmasked WebSocket frame, an SSE event block).
//
// Why encode at publish time: a message reaching N subscribers over three transports is framed three times,
// not N times (uWebSockets' TopicTree frames per subscriber; we do not). The hub does not know the formats;
// it stores byte strings that the topic's encoders produced, and a transport picks its own by index.
//
// Why not every format at publish time: most topics are read in one or two formats, and an encoding can be
// several times the body (JSON escaping). So a topic may encode at publish only the formats that have
// subscribers (the "eager" ones, in this block) and build any other the first time a reader asks for it
// (a replay, a poll): built once, installed with a compare-and-swap, shared from then on. Those lazy
// encodings are separate allocations that live as long as the message.
//
// Why one allocation for the rest: header, format boundaries, key, body and eager bytes live in a single
// block, so a message costs one allocation (from a caller-chosen std::pmr::memory_resource, e.g. a pool) and
// one reference count, and a subscriber's queued write is one pointer. Rejected: std::vector<std::string>
// per message (N+2 allocations) and std::shared_ptr (a second control block, fat handles).
//
// The message also carries the count its topic's history charged for it (history_charge), so the topic can
// give back exactly what it charged when the message leaves the history, whichever thread evicts it and
// whenever a lazy encoding is added (see topic.hpp, "byte budget").
//
// And whether its body is text or binary (content): the body is bytes either way, but the wire formats
// differ (a WebSocket text or binary frame, JSON text or base64), so every encoder needs to know, including
// one that runs long after the publish (a lazy format).
#include "tether/hub/ref_ptr.hpp"

#include <atomic>
#include <cassert>
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

/// What a message's body is. Text is UTF-8 (a topic may insist: hub::topic_options::text_must_be_utf8) and
/// travels as text (WebSocket text frames, JSON strings, SSE data); binary is any bytes, carried byte-exact
/// where the transport can (WebSocket binary frames) and as base64 where it cannot (JSON, SSE).
enum class content : std::uint8_t { text, binary };

class payload;
/// The handle every transport queues: copying it shares the message, never its bytes.
using payload_ptr = ref_ptr<payload const>;

class payload final : public ref_counted<payload> {
public:
    static constexpr std::size_t max_formats = 32;

    /// Builds a message holding `key`, `body` and, for each format whose bit is set in `eager`, its encoding
    /// (encodings[i]; the others are built later with install()), in one allocation from `memory` (nullptr:
    /// the default resource). Throws std::length_error past 4 GiB or max_formats, std::bad_alloc on
    /// exhaustion. `epoch` is the topic's epoch when the message got its sequence (see cursor.hpp): it can
    /// change at run time on a topic ordered by a backplane, so transports and lazy encodings take it from
    /// the message. `type` says whether the body is text or binary.
    static payload_ptr make(std::uint64_t sequence, std::string_view key, std::string_view body,
                            std::span<std::string_view const> encodings, std::uint32_t eager,
                            std::pmr::memory_resource* memory = nullptr, std::uint64_t epoch = 0,
                            content type = content::text) {
        if (memory == nullptr) memory = std::pmr::get_default_resource();
        if (encodings.size() > max_formats) throw std::length_error("tether::hub::payload: too many wire formats");
        std::size_t bytes = key.size() + body.size();
        for (std::size_t i = 0; i < encodings.size(); ++i)
            if (eager & (1u << i)) bytes += encodings[i].size();
        std::size_t const n = encodings.size();
        std::size_t const header = sizeof(payload) + n * (sizeof(lazy_slot) + sizeof(std::uint32_t));
        if (bytes > std::numeric_limits<std::uint32_t>::max()) {
            throw std::length_error("tether::hub::payload: message larger than 4 GiB");
        }
        std::size_t const total = header + bytes;
        void* block = memory->allocate(total, alignof(payload));
        auto* self = ::new (block) payload(memory, epoch, sequence, total, n, key.size(), body.size(), eager, type);
        for (std::size_t i = 0; i < n; ++i) ::new (static_cast<void*>(self->lazy_slots() + i)) lazy_slot(nullptr);
        char* out = self->ends_area();
        // Format i's eager bytes span [ends[i-1], ends[i]) of the encoding area; ends are copied with memcpy so
        // no uint32 object lifetime has to be started inside the raw block.
        std::uint32_t end = 0;
        for (std::size_t i = 0; i < n; ++i) {
            if (eager & (1u << i)) end += static_cast<std::uint32_t>(encodings[i].size());
            std::memcpy(out + i * sizeof(std::uint32_t), &end, sizeof end);
        }
        out += n * sizeof(std::uint32_t);
        if (!key.empty()) std::memcpy(out, key.data(), key.size());
        out += key.size();
        if (!body.empty()) std::memcpy(out, body.data(), body.size());
        out += body.size();
        for (std::size_t i = 0; i < n; ++i) {
            if (!(eager & (1u << i)) || encodings[i].empty()) continue;
            std::memcpy(out, encodings[i].data(), encodings[i].size());
            out += encodings[i].size();
        }
        return payload_ptr::adopt(self);
    }

    /// Every encoding given now, no body kept (the hub's own tests and tools build messages so).
    static payload_ptr make(std::uint64_t sequence, std::string_view key, std::span<std::string_view const> encodings,
                            std::pmr::memory_resource* memory = nullptr, std::uint64_t epoch = 0) {
        auto const all = encodings.size() >= 32 ? ~0u : (1u << encodings.size()) - 1;
        return make(sequence, key, {}, encodings, all, memory, epoch);
    }

    /// A block whose one format (encoded(0)) is `parts` back to back, `total` bytes: a run of messages' frames
    /// joined so that a reader group can queue them to each subscriber as one write (reader_group.hpp). It is
    /// never published; `sequence` and `epoch` are those of the run's first message.
    static payload_ptr make_joined(std::uint64_t sequence, std::uint64_t epoch, std::span<std::string_view const> parts,
                                   std::size_t total, std::pmr::memory_resource* memory = nullptr) {
        if (memory == nullptr) memory = std::pmr::get_default_resource();
        if (total > std::numeric_limits<std::uint32_t>::max()) {
            throw std::length_error("tether::hub::payload: joined run larger than 4 GiB");
        }
        std::size_t const allocated = sizeof(payload) + sizeof(lazy_slot) + sizeof(std::uint32_t) + total;
        void* block = memory->allocate(allocated, alignof(payload));
        auto* self = ::new (block) payload(memory, epoch, sequence, allocated, 1, 0, 0, 1u, content::binary);
        ::new (static_cast<void*>(self->lazy_slots())) lazy_slot(nullptr);
        auto const end = static_cast<std::uint32_t>(total);
        char* out = self->ends_area();
        std::memcpy(out, &end, sizeof end);
        out += sizeof end;
        for (auto part : parts) {
            if (part.empty()) continue;
            std::memcpy(out, part.data(), part.size());
            out += part.size();
        }
        assert(out == self->ends_area() + sizeof end + total);
        return payload_ptr::adopt(self);
    }

    /// The topic-wide, monotonically increasing id (the first message of a local topic is 1).
    std::uint64_t sequence() const noexcept { return sequence_; }
    /// The epoch the sequence belongs to.
    std::uint64_t epoch() const noexcept { return epoch_; }
    /// A tombstone holds no formats: its sequence was claimed but will never be delivered (reported missed).
    bool tombstone() const noexcept { return format_count_ == 0; }
    /// Conflation key; empty when the publisher gave none (all key-less messages then share one key).
    std::string_view key() const noexcept { return {ends_area() + ends_bytes(), key_size_}; }
    /// The body as published (kept by topics with lazy formats; empty otherwise).
    std::string_view body() const noexcept { return {ends_area() + ends_bytes() + key_size_, body_size_}; }
    /// Whether the body is text or binary.
    content type() const noexcept { return type_; }
    bool binary() const noexcept { return type_ == content::binary; }
    std::size_t format_count() const noexcept { return format_count_; }

    /// Whether wire format `format` is encoded yet (at publish, or installed since).
    bool has_encoding(std::size_t format) const noexcept {
        return (eager_ & (1u << format)) != 0 || lazy_slots()[format].load(std::memory_order_acquire) != nullptr;
    }
    /// The bytes of wire format `format` (an index into the topic's format list); empty while that format
    /// has not been built (see topic::encoding(), which builds it).
    std::string_view encoded(std::size_t format) const noexcept {
        if (eager_ & (1u << format)) {
            std::uint32_t const begin = format == 0 ? 0 : end_of(format - 1);
            return {encoding_area() + begin, end_of(format) - begin};
        }
        if (auto const* lazy = lazy_slots()[format].load(std::memory_order_acquire)) return lazy->bytes();
        return {};
    }

    /// Installs `bytes` as format `format`'s encoding unless another thread did first; returns the
    /// encoding that won, and through `added` the bytes this call allocated (0 when it lost the race).
    std::string_view install(std::size_t format, std::string_view bytes, std::size_t& added) const {
        added = 0;
        if (eager_ & (1u << format)) return encoded(format);
        auto& slot = lazy_slots()[format];
        if (auto const* existing = slot.load(std::memory_order_acquire)) return existing->bytes();
        auto* fresh = lazy_block::make(bytes, memory_);
        lazy_block* expected = nullptr;
        if (!slot.compare_exchange_strong(expected, fresh, std::memory_order_acq_rel, std::memory_order_acquire)) {
            lazy_block::destroy(fresh, memory_);
            return expected->bytes();
        }
        added = fresh->allocated();
        lazy_bytes_.fetch_add(added, std::memory_order_relaxed);
        return fresh->bytes();
    }

    /// What holding this message costs: its block plus the encodings built since.
    std::size_t allocated_bytes() const noexcept { return allocated_ + lazy_bytes_.load(std::memory_order_relaxed); }

    /// The bytes a topic's history counts for this message, and whether it has left that history (see
    /// topic.hpp). Set once before the message is published; changed only through these atomics after.
    std::atomic<std::uint64_t>& history_charge() const noexcept { return history_charge_; }
    static constexpr std::uint64_t left_history = std::uint64_t{1} << 63;

    static void destroy(payload const* self) noexcept {
        auto* memory = self->memory_;
        auto const size = self->allocated_;
        for (std::size_t i = 0; i < self->format_count_; ++i)
            if (auto* lazy = self->lazy_slots()[i].load(std::memory_order_acquire)) lazy_block::destroy(lazy, memory);
        self->~payload();
        memory->deallocate(const_cast<payload*>(self), size, alignof(payload));
    }

private:
    // An encoding built after publish: its size, then its bytes, in one allocation.
    struct lazy_block {
        std::uint32_t size;
        static lazy_block* make(std::string_view bytes, std::pmr::memory_resource* memory) {
            void* raw = memory->allocate(sizeof(lazy_block) + bytes.size(), alignof(lazy_block));
            auto* b = ::new (raw) lazy_block{static_cast<std::uint32_t>(bytes.size())};
            if (!bytes.empty()) std::memcpy(reinterpret_cast<char*>(b + 1), bytes.data(), bytes.size());
            return b;
        }
        static void destroy(lazy_block* b, std::pmr::memory_resource* memory) noexcept {
            memory->deallocate(b, sizeof(lazy_block) + b->size, alignof(lazy_block));
        }
        std::size_t allocated() const noexcept { return sizeof(lazy_block) + size; }
        std::string_view bytes() const noexcept { return {reinterpret_cast<char const*>(this + 1), size}; }
    };
    using lazy_slot = std::atomic<lazy_block*>;

    payload(std::pmr::memory_resource* memory, std::uint64_t epoch, std::uint64_t sequence, std::size_t allocated,
            std::size_t format_count, std::size_t key_size, std::size_t body_size, std::uint32_t eager,
            content type) noexcept
        : memory_{memory},
          epoch_{epoch},
          sequence_{sequence},
          allocated_{allocated},
          format_count_{static_cast<std::uint16_t>(format_count)},
          type_{type},
          key_size_{static_cast<std::uint32_t>(key_size)},
          body_size_{static_cast<std::uint32_t>(body_size)},
          eager_{eager},
          history_charge_{allocated} {}
    ~payload() = default;
    friend class ref_counted<payload>;

    lazy_slot* lazy_slots() const noexcept {
        return reinterpret_cast<lazy_slot*>(const_cast<payload*>(this) + 1);   // alignof(payload) >= 8
    }
    char* ends_area() noexcept { return reinterpret_cast<char*>(lazy_slots() + format_count_); }
    char const* ends_area() const noexcept { return reinterpret_cast<char const*>(lazy_slots() + format_count_); }
    std::size_t ends_bytes() const noexcept { return format_count_ * sizeof(std::uint32_t); }
    char const* encoding_area() const noexcept { return ends_area() + ends_bytes() + key_size_ + body_size_; }
    std::uint32_t end_of(std::size_t format) const noexcept {
        std::uint32_t end;
        std::memcpy(&end, ends_area() + format * sizeof(std::uint32_t), sizeof end);
        return end;
    }

    std::pmr::memory_resource* memory_;
    std::uint64_t epoch_;
    std::uint64_t sequence_;
    std::size_t allocated_;
    std::uint16_t format_count_;   // at most max_formats; 16 bits leave room for type_ at no cost
    content type_;
    std::uint32_t key_size_;
    std::uint32_t body_size_;
    std::uint32_t eager_;   // bit i: format i was encoded at publish
    mutable std::atomic<std::uint64_t> lazy_bytes_{0};
    mutable std::atomic<std::uint64_t> history_charge_;
};

}  // namespace tether::hub
