#pragma once
// A run of consecutive new messages, as a reader group's drain hands them out (reader_group.hpp), and the
// same run's bytes joined into one block per wire format.
//
// Why join: a subscriber handed a run message by message queues one reference, one segment and one iovec
// per message and is charged its budget per message; the fan-out floor (benchmarks/peers/floor_fanout.cpp)
// sends each subscriber one contiguous buffer per batch. Joined, the run's bytes in one format are copied
// once, back to back, into one block (payload::make_joined) that every subscriber at the same position
// queues as one piece: one reference, one segment, one iovec, one budget charge for up to max_run messages.
// The copy is paid once per run and format on the group's thread, whatever the number of subscribers; a
// subscriber that joined mid-run gets the tail of the same block.
//
// Not joined: runs past max_joined_bytes (copying large messages costs more than the iovecs it saves; they
// go by reference, as before), runs holding a tombstone or an epoch change (each needs a notice at its own
// place in the stream), and, decided by the group, runs of fewer than min_joined messages for a subscriber.
#include "tether/hub/payload.hpp"
#include "tether/hub/topic.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tether::hub::detail {

/// Up to max_run consecutive messages read from the ring by one drain.
struct message_run {
    static constexpr std::size_t max_run = 64;
    std::array<payload_ptr, max_run> messages;
    std::size_t size = 0;

    std::uint64_t first_sequence() const noexcept { return messages[0]->sequence(); }
    void clear() noexcept {
        for (std::size_t i = 0; i < size; ++i) messages[i] = nullptr;
        size = 0;
    }
};

/// One drain's joined blocks for one run, built on first use per format. Lives for one offer of the run.
class joined_runs {
public:
    static constexpr std::size_t max_joined_bytes = 64 * 1024;
    static constexpr std::size_t min_joined = 2;

    /// Messages [from, run.size) in `format`, joined; `block` is null when this run is not joined in it.
    struct tail {
        payload_ptr const* block = nullptr;
        std::string_view bytes;
    };

    tail from(topic const& source, message_run const& run, std::size_t format, std::size_t from) {
        joined const* j = find_or_join(source, run, format);
        if (j == nullptr || !j->block) return {};
        return {&j->block, j->block->encoded(0).substr(j->starts[from])};
    }

private:
    struct joined {
        std::size_t format = static_cast<std::size_t>(-1);
        payload_ptr block;                                           // null: not joined in this format
        std::array<std::uint32_t, message_run::max_run + 1> starts;  // message i's bytes begin at starts[i]
    };

    // nullptr when this run already holds as many formats as it keeps (a group's subscribers nearly always
    // share one format, at most a few).
    joined const* find_or_join(topic const& source, message_run const& run, std::size_t format) {
        for (std::size_t i = 0; i < used_; ++i) {
            if (formats_[i].format == format) return &formats_[i];
        }
        if (used_ == formats_.size()) return nullptr;
        joined& j = formats_[used_++];
        j.format = format;
        std::array<std::string_view, message_run::max_run> parts;
        std::size_t total = 0;
        auto const epoch = run.messages[0]->epoch();
        for (std::size_t i = 0; i < run.size; ++i) {
            payload const& m = *run.messages[i];
            if (m.tombstone() || m.epoch() != epoch) return &j;
            parts[i] = source.encoding(m, format);   // builds a lazy format if nobody has yet
            j.starts[i] = static_cast<std::uint32_t>(total);
            total += parts[i].size();
            if (total > max_joined_bytes) return &j;
        }
        j.starts[run.size] = static_cast<std::uint32_t>(total);
        j.block = payload::make_joined(run.first_sequence(), epoch, {parts.data(), run.size}, total);
        return &j;
    }

    std::array<joined, 2> formats_;
    std::size_t used_ = 0;
};

}  // namespace tether::hub::detail
