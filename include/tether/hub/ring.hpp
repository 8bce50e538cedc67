#pragma once
// The topic's bounded history: a power-of-two ring of message slots, indexed by sequence id. It is both the
// fan-out queue (every reader group walks it once) and the replay history (SSE Last-Event-ID, long-poll
// `since`, WebSocket resume).
//
// Ideas taken, in our own words:
//   - From the LMAX Disruptor: publishers claim a sequence with one fetch_add on a shared counter, fill the
//     slot `sequence & (capacity - 1)`, then make it visible; readers track their own sequence and never
//     lock. Unlike the Disruptor we do not gate publishers on the slowest reader: this is a broadcast
//     history, and a reader that falls a whole ring behind loses messages instead of stalling the topic.
//   - From Aeron's broadcast transmitter/receiver: a reader detects in O(1) that it was lapped, because the
//     slot it expected to hold sequence s already holds a later one (s + k * capacity).
//
// The slot's "stamp" is the sequence stored inside the immutable message it points to, and the slot itself
// is an atomic_ref_ptr (split reference count, see ref_ptr.hpp). So a read is: take a reference to whatever
// the slot holds, then compare its sequence with the one expected. Because the reference is taken
// atomically with reading the pointer, there is no window in which a writer can free the message under the
// reader, and no seqlock retry is needed: the message we hold can never change.
//
// Several publishers may race for one slot only when one of them stalls for a full lap between claiming a
// sequence and storing it. Storing is a compare-and-swap that never moves a slot backwards: the slower
// publisher finds a later sequence there and gives up; readers see that later sequence and report the
// older one as lost (lapped), exactly as if it had been overwritten. Nobody ever waits for anybody.
#include "tether/hub/payload.hpp"

#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>

namespace tether::hub {

class ring {
public:
    /// What a reader finds in the slot of the sequence it expects.
    enum class slot_state : std::uint8_t {
        ready,     ///< the slot holds exactly that message
        pending,   ///< not published yet (never claimed, or claimed and still being encoded)
        lapped,    ///< already overwritten by a later message: the reader fell a whole ring behind
    };

    struct read_result {
        slot_state state;
        /// The message read when `ready`; the later message found when `lapped`; null when `pending`.
        payload_ptr message;
    };

    /// `capacity` must be a power of two, at least 2.
    explicit ring(std::size_t capacity)
        : mask_{checked(capacity) - 1},
          slots_{std::make_unique<atomic_ref_ptr<payload const>[]>(capacity)} {}

    std::size_t capacity() const noexcept { return mask_ + 1; }

    /// Any thread, lock-free, O(1).
    read_result read(std::uint64_t sequence) const noexcept {
        auto message = slot(sequence).load();
        if (!message || message->sequence() < sequence) return {slot_state::pending, {}};
        if (message->sequence() > sequence) return {slot_state::lapped, std::move(message)};
        return {slot_state::ready, std::move(message)};
    }

    /// Stores `message` in the slot of its sequence. Returns false, dropping it, when a publisher of a later
    /// lap already took the slot (ours stalled for a whole lap). `displaced` receives the older message the
    /// slot held, if any (it has just left the history). Any thread, lock-free.
    bool publish(payload_ptr message, payload_ptr* displaced = nullptr) noexcept {
        auto& target = slot(message->sequence());
        auto current = target.load();
        for (;;) {
            // Sequences are claimed once each, so equality cannot happen; ">" means we were lapped.
            if (current && current->sequence() >= message->sequence()) return false;
            if (target.compare_exchange(current, message)) {
                if (displaced) *displaced = std::move(current);
                return true;
            }
            // `current` now holds whatever replaced what we saw: re-check it.
        }
    }

    /// Empties the slot of `message` if it still holds exactly that message (eviction before the ring laps
    /// it). Returns true when this call removed it. Any thread, lock-free.
    bool remove(payload_ptr const& message) noexcept {
        auto expected = message;
        return slot(message->sequence()).compare_exchange(expected, payload_ptr{});
    }

private:
    static std::size_t checked(std::size_t capacity) {
        if (capacity < 2 || !std::has_single_bit(capacity)) {
            throw std::invalid_argument("tether::hub::ring: capacity must be a power of two >= 2");
        }
        return capacity;
    }

    atomic_ref_ptr<payload const>& slot(std::uint64_t sequence) const noexcept {
        return slots_[static_cast<std::size_t>(sequence) & mask_];
    }

    std::size_t mask_;
    std::unique_ptr<atomic_ref_ptr<payload const>[]> slots_;
};

}  // namespace tether::hub
