#pragma once
// A topic: a name, an epoch, a history ring, the wire formats every message is encoded into, and the reader
// groups (one per I/O thread) to wake when something is published.
//
// publish() is the hot path and is callable from any thread. It never takes a lock and costs O(1) in the
// number of subscribers: claim a sequence (one fetch_add), encode once per wire format into one shared
// buffer, store it in the ring, and wake each registered reader group at most once per batch. The cost
// grows with the number of I/O threads, never with the number of subscribers: fanning out to subscribers
// is the reader groups' job, on their own threads.
//
// Registration of reader groups is rare (an I/O thread starting or stopping), so it takes a mutex and
// publishes a fresh immutable list through an atomic_ref_ptr; publishers only ever read that list.
// Rejected: a mutex-protected vector (publish would lock), and a fixed array of raw pointers (a publisher
// could call into a group that is being destroyed).
//
// A topic can instead be ordered by a sequencer (sequencer.hpp: a backplane shared by several processes).
// publish() then hands the message over (submit), and one writer thread feeds the ring with ingest() and
// skip_to(), in the sequencer's order and with its epoch, which may change at run time. Three small things
// make that work without touching the local path:
//   - the epoch is an atomic, and every message carries the epoch it was given (payload::epoch());
//   - sequences only ever grow, also across an epoch change (the sequencer guarantees it), so the ring and
//     its lap detection are unchanged;
//   - a jump (history this node will never have: it started late, was cut off longer than the history, or
//     the epoch changed) raises a floor: no cursor below it resumes, and a reader group that finds an empty
//     slot below it treats the gap exactly like a lap (reader_group.hpp), so subscribers are told.
#include "tether/hub/cursor.hpp"
#include "tether/hub/payload.hpp"
#include "tether/hub/ref_ptr.hpp"
#include "tether/hub/ring.hpp"
#include "tether/hub/sequencer.hpp"
#include "tether/hub/wake.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tether::hub {

/// What an encoder sees: the message's position (for SSE `id:` lines), its body and key.
struct encode_input {
    cursor position;
    std::string_view body;
    std::string_view key;
};

/// One wire format: a name transports look it up by, and an encoder that appends the message's bytes in
/// that format to `out`. Encoders run on publisher threads, concurrently: they must be thread-safe.
struct wire_format {
    std::string name;
    std::function<void(encode_input const&, std::string& out)> encode;
};

/// The identity format: the body, as published (what polling endpoints send).
inline wire_format raw_format(std::string name = "raw") {
    return {std::move(name), [](encode_input const& in, std::string& out) { out.append(in.body); }};
}

struct topic_options {
    std::size_t capacity = 1024;                  ///< messages of history; a power of two
    std::uint64_t epoch = 0;                      ///< 0: draw a random one (make_epoch())
    std::pmr::memory_resource* memory = nullptr;  ///< where messages live; nullptr: the default resource
};

/// Relaxed counters that reader groups add to once per drain (not once per subscriber, which would make
/// every I/O thread write one shared cache line per delivery). Each is exact on its own; together they are
/// not a consistent snapshot.
struct topic_counters {
    std::atomic<std::uint64_t> delivered{0};     ///< (message, subscriber) hand-offs to a transport
    std::atomic<std::int64_t> subscribers{0};    ///< subscriptions open right now (kept by the transports)
    std::atomic<std::uint64_t> dropped{0};       ///< (message, subscriber) pairs reported as missed
    std::atomic<std::uint64_t> disconnected{0};  ///< subscribers cut off by the disconnect policy
};

/// A plain copy of the counters, for metrics.
struct topic_stats {
    std::uint64_t published = 0;   ///< messages given a sequence
    std::uint64_t delivered = 0;
    std::uint64_t dropped = 0;
    std::uint64_t disconnected = 0;
};

class topic {
public:
    explicit topic(std::string name, std::vector<wire_format> formats = {}, topic_options options = {})
        : name_{std::move(name)},
          formats_{formats.empty() ? std::vector<wire_format>{raw_format()} : std::move(formats)},
          epoch_{options.epoch != 0 ? options.epoch : make_epoch()},
          memory_{options.memory != nullptr ? options.memory : std::pmr::get_default_resource()},
          history_{options.capacity},
          wake_targets_{make_ref<target_list>()} {}

    topic(topic const&) = delete;
    topic& operator=(topic const&) = delete;

    std::string_view name() const noexcept { return name_; }
    /// acquire: pairs with skip_to()'s release, for callers that then read the sequence counters.
    std::uint64_t epoch() const noexcept { return epoch_.load(std::memory_order_acquire); }
    std::size_t capacity() const noexcept { return history_.capacity(); }
    std::size_t format_count() const noexcept { return formats_.size(); }
    std::optional<std::size_t> format_index(std::string_view format_name) const noexcept {
        for (std::size_t i = 0; i < formats_.size(); ++i) {
            if (formats_[i].name == format_name) return i;
        }
        return std::nullopt;
    }

    /// Any thread; lock-free; O(formats + I/O threads), independent of the number of subscribers.
    /// Returns the message's sequence. Throws only what an encoder, the allocator or a wake callable throws,
    /// and std::logic_error on a topic ordered by a sequencer (use submit(): its answer comes later).
    std::uint64_t publish(std::string_view body, std::string_view key = {}) {
        if (sequencer_.load(std::memory_order_acquire) != nullptr) {
            throw std::logic_error("tether::hub::topic '" + name_ +
                                   "' is ordered by a backplane: publish with a completion (submit)");
        }
        // relaxed: the claim only has to be unique; the message's contents reach readers through the ring
        // slot's release/acquire, not through this counter. (It doubles as the "published" counter.)
        std::uint64_t const sequence = next_sequence_.fetch_add(1, std::memory_order_relaxed);
        std::uint64_t const epoch = epoch_.load(std::memory_order_relaxed);   // constant without a sequencer
        payload_ptr message;
        try {
            message = encode({epoch, sequence}, body, key);
        } catch (...) {
            // The sequence is claimed and readers stop at it: fill it with a tombstone (no encodings) that
            // reader groups report as missed, rather than stall every reader until the ring laps it.
            (void)history_.publish(payload::make(sequence, {}, {}, memory_, epoch));
            wake_reader_groups();
            throw;
        }
        // A false return means a publisher one lap ahead already took the slot (we stalled a whole lap);
        // readers report this sequence as missed through their lap detection: nothing else to do.
        (void)history_.publish(std::move(message));
        wake_reader_groups();
        return sequence;
    }

    /// Any thread. On a local topic: publishes now and completes `request` before returning. On a topic
    /// ordered by a sequencer: hands it over; the sequencer completes it once the message is stored (or not).
    void submit(publish_request_ptr request) {
        if (auto* s = sequencer_.load(std::memory_order_acquire)) return s->submit(*this, std::move(request));
        std::uint64_t sequence = 0;
        try {
            sequence = publish(request->body(), request->key());
        } catch (std::exception const&) {
            return request->complete(std::make_error_code(std::errc::not_enough_memory), {});
        }
        request->complete({}, {epoch(), sequence});
    }

    /// Hands the topic's order to `s` (nullptr: back to local). Call before anyone publishes.
    void set_sequencer(sequencer* s) noexcept { sequencer_.store(s, std::memory_order_release); }
    bool sequenced_externally() const noexcept { return sequencer_.load(std::memory_order_acquire) != nullptr; }

    /// The sequencer's single writer: stores the message it ordered at `position`. Positions must grow; one
    /// that is not the next sequence of the current epoch first skips what lies between (skip_to()).
    /// Returns false, storing nothing, for a position not after the last one (a duplicate). Not to be mixed
    /// with publish() on the same topic.
    bool ingest(cursor position, std::string_view body, std::string_view key = {}) {
        auto const next = next_sequence_.load(std::memory_order_relaxed);   // we are its only writer
        if (position.sequence < next || position.sequence == 0 || position.sequence == max_sequence) return false;
        if (position.epoch != epoch_.load(std::memory_order_relaxed) || position.sequence != next) {
            skip_to({position.epoch, position.sequence - 1});
        }
        payload_ptr message;
        try {
            message = encode(position, body, key);
        } catch (...) {
            message = payload::make(position.sequence, {}, {}, memory_, position.epoch);   // see publish()
        }
        (void)history_.publish(std::move(message));
        // release: a reader that sees the new counter (batch reads, resume) finds the slot already stored.
        next_sequence_.store(position.sequence + 1, std::memory_order_release);
        wake_reader_groups();
        return true;
    }

    /// The sequencer's single writer: this node will never have the messages up to and including `last`
    /// (it starts late, was cut off for longer than the history, or the epoch changed to `last.epoch`). The
    /// next message is last.sequence + 1. Subscribers waiting for skipped messages are told through their
    /// policy (missed, or cut off), as if lapped. Returns false for a position behind the topic's.
    bool skip_to(cursor last) {
        if (last.sequence == max_sequence) return false;   // its successor would wrap to 0
        auto const next = last.sequence + 1;
        if (next < next_sequence_.load(std::memory_order_relaxed)) return false;
        // Floor first: a reader that finds an empty slot below it must already be able to see it (the
        // wake below, and next_sequence_'s release, order it before any later read of the ring).
        floor_.store(next, std::memory_order_release);
        epoch_.store(last.epoch, std::memory_order_release);
        next_sequence_.store(next, std::memory_order_release);
        wake_reader_groups();
        return true;
    }

    static constexpr std::uint64_t max_sequence = ~std::uint64_t{0};

    /// The lowest sequence this node's history can hold in the current stretch (raised by skip_to()).
    std::uint64_t history_floor() const noexcept { return floor_.load(std::memory_order_acquire); }

    /// The sequence the next publish() will claim; everything below it has been claimed.
    std::uint64_t next_sequence() const noexcept {
        // relaxed: a snapshot for positioning; callers cope with it moving on (see resume()).
        return next_sequence_.load(std::memory_order_relaxed);
    }
    /// Cursor naming the last claimed message: a client holding it gets everything published after now.
    cursor position() const noexcept {
        auto const e = epoch();
        return {e, next_sequence() - 1};
    }

    /// The lowest sequence that the ring can still hold, as of now.
    std::uint64_t oldest_retained() const noexcept {
        auto const floor = history_floor();
        auto const next = next_sequence();
        return std::max(next > capacity() ? next - capacity() : 1, floor);
    }

    /// Decides whether a client's cursor can be served from history, all of it, or not at all.
    resumption resume(cursor const& c) const noexcept {
        auto const e = epoch();
        auto const next = next_sequence();
        if (c.epoch != e) return {false, next};   // from another epoch (a restart, lost history)
        if (c.sequence >= next) {
            // A message never published; except that with a sequencer another node may simply be ahead of
            // this one: the cursor is then good, and the subscriber waits for what follows it. Bounded, so
            // that a forged cursor far ahead is refused rather than waiting for ever.
            if (!sequenced_externally() || c.sequence - next >= capacity()) return {false, next};
            return {true, c.sequence + 1};
        }
        // The first missing message has already left the ring. (If more is published before the replay
        // reaches it, the reader group reports the lap through the backpressure policy: still no silent
        // partial replay.)
        if (c.sequence + 1 < oldest_retained()) return {false, next};
        return {true, c.sequence + 1};
    }
    /// Same, from the wire form; unparseable input is simply not recoverable.
    resumption resume(std::string_view wire_cursor) const noexcept {
        if (auto c = parse_cursor(wire_cursor)) return resume(*c);
        return {false, next_sequence()};
    }

    /// Any thread, lock-free: the message with this sequence, if still (or already) in the ring.
    ring::read_result read(std::uint64_t sequence) const noexcept { return history_.read(sequence); }

    /// The newest published message (short polling), or null if none is retained. A message still being
    /// encoded by a slow publisher is skipped in favour of the newest complete one before it.
    payload_ptr latest() const noexcept {
        auto const oldest = oldest_retained();
        for (auto s = next_sequence(); s-- > oldest;) {
            auto r = history_.read(s);
            if (r.state == ring::slot_state::ready && !r.message->tombstone()) return std::move(r.message);
            if (r.state == ring::slot_state::lapped) return {};
        }
        return {};
    }

    /// For reader groups, which add to these once per drain.
    topic_counters& counters() noexcept { return counters_; }

    topic_stats stats() const noexcept {
        return {next_sequence() - 1, counters_.delivered.load(std::memory_order_relaxed),
                counters_.dropped.load(std::memory_order_relaxed),
                counters_.disconnected.load(std::memory_order_relaxed)};
    }

    /// Registers a reader group's wake target (reader_group does this). Takes a mutex: rare.
    void attach(ref_ptr<wake_target> target) {
        std::lock_guard lock{registration_};
        auto list = make_ref<target_list>(*wake_targets_.load());
        list->targets.push_back(std::move(target));
        wake_targets_.store(std::move(list));
    }
    /// Unregisters it; publishers holding the previous list may still call request() on it, which is why
    /// wake_target::close() exists.
    void detach(wake_target const* target) {
        std::lock_guard lock{registration_};
        auto list = make_ref<target_list>(*wake_targets_.load());
        std::erase_if(list->targets, [&](auto const& t) { return t.get() == target; });
        wake_targets_.store(std::move(list));
    }

private:
    struct target_list final : ref_counted<target_list> {
        target_list() = default;
        target_list(target_list const& other) : ref_counted<target_list>{}, targets{other.targets} {}
        std::vector<ref_ptr<wake_target>> targets;
    };

    payload_ptr encode(cursor position, std::string_view body, std::string_view key) const {
        // Per publisher thread scratch: after warm-up, encoding allocates nothing but the message itself.
        thread_local std::string scratch;
        thread_local std::vector<std::size_t> ends;
        thread_local std::vector<std::string_view> encodings;
        scratch.clear();
        ends.clear();
        encodings.clear();
        encode_input const input{position, body, key};
        for (auto const& format : formats_) {
            format.encode(input, scratch);
            ends.push_back(scratch.size());
        }
        std::size_t begin = 0;
        for (auto end : ends) {
            encodings.emplace_back(scratch.data() + begin, end - begin);
            begin = end;
        }
        return payload::make(position.sequence, key, encodings, memory_, position.epoch);
    }

    void wake_reader_groups() {
        auto const list = wake_targets_.load();
        for (auto const& target : list->targets) target->request();
    }

    std::string const name_;
    std::vector<wire_format> const formats_;
    // Constant unless a sequencer's writer changes it (skip_to); read-mostly either way.
    std::atomic<std::uint64_t> epoch_;
    std::atomic<std::uint64_t> floor_{1};
    std::atomic<sequencer*> sequencer_{nullptr};
    std::pmr::memory_resource* const memory_;
    ring history_;
    // The claim counter is the one line every publisher writes: keep it away from read-mostly fields.
    alignas(64) std::atomic<std::uint64_t> next_sequence_{1};
    alignas(64) atomic_ref_ptr<target_list> wake_targets_;
    topic_counters counters_;
    std::mutex registration_;
};

/// Stable, shareable handle to a topic (what the registry hands out and reader groups hold).
using topic_handle = std::shared_ptr<topic>;

}  // namespace tether::hub
