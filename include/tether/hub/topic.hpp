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
// Byte budget. History is bounded in messages (the ring) and in bytes: a topic's own budget and, shared
// by all topics of a server, a history_budget. Each message is charged what it holds (its block, plus any
// encoding built later); past a budget, publish() evicts the oldest messages of its own topic (never the
// one just published) by raising the topic's floor and emptying their slots. A reader asking for a
// sequence below the floor finds it lapped, exactly as if the ring had overwritten it, so every policy
// and every resume already handles it. Each message records its charge (payload::history_charge) and
// gives it back once, when it leaves the history, whoever removes it (eviction or a lapping publish).
//
// Lazy formats. With topic_options::lazy_formats, publish() encodes only the formats that have at
// least one subscriber (reader groups count theirs, per format); encoding() builds any other on first
// use, once, and charges it to the history like the rest.
//
// Text and binary. A message's body is bytes; each publish says whether they are text or binary (the
// topic's default_content unless the call says otherwise), and encoders write each kind in their own way.
// A topic with text_must_be_utf8 refuses text that is not UTF-8 before it claims a sequence: formats put
// text in WebSocket text frames and JSON strings, where invalid UTF-8 fails the connection (RFC 6455
// §8.1) or must be replaced, so the one faithful answer is to say no and let the caller publish bytes.
//
// (Longer than most headers: the sequencer's writer path below shares storing, eviction and the floor with
// publish(), and splitting them would expose the topic's internals to another header.)
//
// A topic can instead be ordered by a sequencer (sequencer.hpp: a backplane shared by several processes).
// publish() then hands the message over (submit), and one writer thread feeds the ring with ingest() and
// skip_to(), in the sequencer's order and with its epoch, which may change at run time. Three small things
// make that work without touching the local path:
//   - the epoch is an atomic, and every message carries the epoch it was given (payload::epoch()), which
//     transports and lazy encodings use;
//   - sequences only ever grow, also across an epoch change (the sequencer guarantees it), so the ring and
//     its lap detection are unchanged;
//   - a jump (history this node will never have: it started late, was cut off longer than the history, or
//     the epoch changed) raises the floor, as byte-budget eviction does: no cursor below it resumes, and a
//     reader finds the skipped sequences lapped, so subscribers are told through their policy.
#include "tether/hub/cursor.hpp"
#include "tether/hub/payload.hpp"
#include "tether/hub/ref_ptr.hpp"
#include "tether/hub/ring.hpp"
#include "tether/hub/sequencer.hpp"
#include "tether/hub/wake.hpp"
#include "tether/core/utf8.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tether::hub {

/// What an encoder sees: the message's position (for SSE `id:` lines), its body and key, and whether the
/// body is text or binary.
struct encode_input {
    cursor position;
    std::string_view body;
    std::string_view key;
    content type = content::text;
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

/// Bytes of history shared by several topics (a server's total), charged and given back by each.
struct history_budget {
    explicit history_budget(std::size_t limit_bytes) noexcept : limit{limit_bytes} {}
    std::size_t const limit;
    std::atomic<std::int64_t> used{0};
    bool exceeded() const noexcept { return used.load(std::memory_order_relaxed) > static_cast<std::int64_t>(limit); }
};

struct topic_options {
    std::size_t capacity = 1024;                  ///< messages of history; a power of two
    std::uint64_t epoch = 0;                      ///< 0: draw a random one (make_epoch())
    std::pmr::memory_resource* memory = nullptr;  ///< where messages live; nullptr: the default resource
    std::size_t max_bytes = 0;                    ///< bytes of history; 0: bounded by capacity only
    std::shared_ptr<history_budget> shared_budget{};   ///< a budget several topics draw on; may be null
    bool lazy_formats = false;                    ///< encode at publish only formats with subscribers
    content default_content = content::text;      ///< what publish(body, key) publishes
    bool text_must_be_utf8 = false;               ///< publish() refuses text that is not UTF-8
};

/// Relaxed counters that reader groups add to once per drain (not once per subscriber, which would make
/// every I/O thread write one shared cache line per delivery). Each is exact on its own; together they are
/// not a consistent snapshot.
struct topic_counters {
    std::atomic<std::uint64_t> delivered{0};     ///< (message, subscriber) hand-offs to a transport
    std::atomic<std::int64_t> subscribers{0};    ///< subscriptions open right now (kept by the transports)
    std::atomic<std::uint64_t> dropped{0};       ///< (message, subscriber) pairs reported as missed
    std::atomic<std::uint64_t> disconnected{0};  ///< subscribers cut off by the disconnect policy
    std::atomic<std::uint64_t> lapped{0};        ///< subscribers that fell a whole history behind (any policy)
};

/// A plain copy of the counters, for metrics.
struct topic_stats {
    std::uint64_t published = 0;   ///< messages given a sequence
    std::uint64_t delivered = 0;
    std::uint64_t dropped = 0;
    std::uint64_t disconnected = 0;
    std::uint64_t lapped = 0;
};

class topic {
public:
    explicit topic(std::string name, std::vector<wire_format> formats = {}, topic_options options = {})
        : name_{std::move(name)},
          formats_{formats.empty() ? std::vector<wire_format>{raw_format()} : std::move(formats)},
          epoch_{options.epoch != 0 ? options.epoch : make_epoch()},
          memory_{options.memory != nullptr ? options.memory : std::pmr::get_default_resource()},
          max_bytes_{options.max_bytes},
          shared_budget_{std::move(options.shared_budget)},
          lazy_formats_{options.lazy_formats},
          default_content_{options.default_content},
          text_must_be_utf8_{options.text_must_be_utf8},
          history_{options.capacity},
          wake_targets_{make_ref<target_list>()},
          subscribers_by_format_{std::make_unique<std::atomic<std::uint32_t>[]>(formats_.size())} {
        if (formats_.size() > payload::max_formats) throw std::invalid_argument("tether::hub::topic: too many wire formats");
    }

    ~topic() {
        // Give the shared budget back what this topic's history still holds.
        if (shared_budget_) shared_budget_->used.fetch_sub(history_bytes_.load(), std::memory_order_relaxed);
    }

    topic(topic const&) = delete;
    topic& operator=(topic const&) = delete;

    std::string_view name() const noexcept { return name_; }
    /// acquire: pairs with skip_to()'s release, for callers that then read the sequence counters.
    std::uint64_t epoch() const noexcept { return epoch_.load(std::memory_order_acquire); }
    std::size_t capacity() const noexcept { return history_.capacity(); }
    /// The topic's own byte budget for history (0: none); a backplane keeps the same in its store.
    std::size_t max_bytes() const noexcept { return max_bytes_; }
    std::size_t format_count() const noexcept { return formats_.size(); }
    std::optional<std::size_t> format_index(std::string_view format_name) const noexcept {
        for (std::size_t i = 0; i < formats_.size(); ++i) {
            if (formats_[i].name == format_name) return i;
        }
        return std::nullopt;
    }

    /// What publish(body, key) publishes: text unless the topic was opened for binary.
    content default_content() const noexcept { return default_content_; }

    /// Any thread; lock-free; O(formats + I/O threads), independent of the number of subscribers.
    /// Returns the message's sequence. Throws only what an encoder, the allocator or a wake callable throws,
    /// and std::logic_error on a topic ordered by a sequencer (use submit(): its answer comes later), and
    /// std::invalid_argument for text that is not UTF-8 on a topic that requires it (before a sequence is
    /// claimed: nothing was published).
    std::uint64_t publish(std::string_view body, std::string_view key = {}) { return publish(body, default_content_, key); }

    /// The same, saying whether `body` is text or binary.
    std::uint64_t publish(std::string_view body, content type, std::string_view key = {}) {
        if (sequencer_.load(std::memory_order_acquire) != nullptr) {
            throw std::logic_error("tether::hub::topic '" + name_ +
                                   "' is ordered by a backplane: publish with a completion (submit)");
        }
        check_content(body, type);
        // relaxed: the claim only has to be unique; the message's contents reach readers through the ring
        // slot's release/acquire, not through this counter. (It doubles as the "published" counter.)
        std::uint64_t const sequence = next_sequence_.fetch_add(1, std::memory_order_relaxed);
        std::uint64_t const epoch = epoch_.load(std::memory_order_relaxed);   // constant without a sequencer
        payload_ptr message;
        try {
            message = encode({epoch, sequence}, body, key, type);
        } catch (...) {
            // The sequence is claimed and readers stop at it: fill it with a tombstone (no encodings) that
            // reader groups report as missed, rather than stall every reader until the ring laps it.
            store(payload::make(sequence, {}, std::span<std::string_view const>{}, memory_, epoch));
            wake_reader_groups();
            throw;
        }
        store(std::move(message));
        enforce_byte_budget(sequence);
        wake_reader_groups();
        return sequence;
    }

    /// Any thread. On a local topic: publishes now and completes `request` before returning. On a topic
    /// ordered by a sequencer: hands it over; the sequencer completes it once the message is stored (or not).
    void submit(publish_request_ptr request) {
        if (auto* s = sequencer_.load(std::memory_order_acquire)) {
            // Checked here, where the publisher still hears of it: ingest() cannot refuse what was stored.
            if (!content_ok(request->body(), default_content_))
                return request->complete(std::make_error_code(std::errc::illegal_byte_sequence), {});
            return s->submit(*this, std::move(request));
        }
        std::uint64_t sequence = 0;
        try {
            sequence = publish(request->body(), request->key());
        } catch (std::invalid_argument const&) {
            return request->complete(std::make_error_code(std::errc::illegal_byte_sequence), {});
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
    /// with publish() on the same topic. The body is the topic's default content; text that is not UTF-8 on
    /// a topic that requires it (a node that did not check) is stored as binary: faithful, and it cannot
    /// break a text frame.
    bool ingest(cursor position, std::string_view body, std::string_view key = {}) {
        auto const next = next_sequence_.load(std::memory_order_relaxed);   // we are its only writer
        if (position.sequence < next || position.sequence == 0 || position.sequence == max_sequence) return false;
        if (position.epoch != epoch_.load(std::memory_order_relaxed) || position.sequence != next) {
            skip_to({position.epoch, position.sequence - 1});
        }
        payload_ptr message;
        try {
            message = encode(position, body, key, content_ok(body, default_content_) ? default_content_ : content::binary);
        } catch (...) {
            message = payload::make(position.sequence, {}, std::span<std::string_view const>{}, memory_, position.epoch);
        }
        store(std::move(message));
        // release: a reader that sees the new counter (batch reads, resume) finds the slot already stored.
        next_sequence_.store(position.sequence + 1, std::memory_order_release);
        enforce_byte_budget(position.sequence);
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
        if (floor_.load(std::memory_order_relaxed) < next) floor_.store(next, std::memory_order_release);
        epoch_.store(last.epoch, std::memory_order_release);
        next_sequence_.store(next, std::memory_order_release);
        wake_reader_groups();
        return true;
    }

    static constexpr std::uint64_t max_sequence = ~std::uint64_t{0};

    /// The lowest sequence the history can hold in the current stretch (raised by skip_to() and by
    /// byte-budget eviction).
    std::uint64_t history_floor() const noexcept { return floor_.load(std::memory_order_acquire); }

    /// The bytes of format `format` of `message` (a message of this topic), built now if nobody built them
    /// yet (a lazy format). Any thread. Empty for a tombstone.
    std::string_view encoding(payload const& message, std::size_t format) const {
        if (message.format_count() == 0) return {};
        if (message.has_encoding(format)) return message.encoded(format);
        thread_local std::string scratch;
        scratch.clear();
        formats_[format].encode(encode_input{{message.epoch(), message.sequence()}, message.body(), message.key(), message.type()},
                                scratch);
        std::size_t added = 0;
        auto const bytes = message.install(format, scratch, added);
        if (added != 0) charge_more(message, added);
        if (scratch.capacity() > 64 * 1024) std::string{}.swap(scratch);
        return bytes;
    }

    /// Subscribers of each format, over all reader groups (they keep it; publish() reads it).
    std::atomic<std::uint32_t>* subscribers_by_format() const noexcept { return subscribers_by_format_.get(); }
    /// Bytes the history holds now (messages and their encodings), as charged to its budgets.
    std::int64_t history_bytes() const noexcept { return history_bytes_.load(std::memory_order_relaxed); }

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

    /// The lowest sequence that the history can still hold, as of now (the ring's reach, raised by
    /// byte-budget eviction).
    std::uint64_t oldest_retained() const noexcept {
        auto const next = next_sequence();
        auto const by_ring = next > capacity() ? next - capacity() : 1;
        return std::max(by_ring, floor_.load(std::memory_order_acquire));
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

    /// Any thread, lock-free: the message with this sequence, if still (or already) in the history. An
    /// evicted message reads as lapped, like one the ring overwrote.
    ring::read_result read(std::uint64_t sequence) const noexcept {
        auto r = history_.read(sequence);
        // The evictor raises the floor before it empties the slot, so a reader that saw the empty slot
        // sees the raised floor too (the slot's acquire pairs with the eviction's release).
        if (r.state == ring::slot_state::pending && sequence < floor_.load(std::memory_order_acquire))
            r.state = ring::slot_state::lapped;
        return r;
    }

    /// The newest published message (short polling), or null if none is retained. A message still being
    /// encoded by a slow publisher is skipped in favour of the newest complete one before it.
    payload_ptr latest() const noexcept {
        auto const oldest = oldest_retained();
        for (auto s = next_sequence(); s-- > oldest;) {
            auto r = read(s);
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
                counters_.disconnected.load(std::memory_order_relaxed), counters_.lapped.load(std::memory_order_relaxed)};
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

    payload_ptr encode(cursor position, std::string_view body, std::string_view key, content type) const {
        // Per publisher thread scratch: after warm-up, encoding allocates nothing but the message itself.
        thread_local std::string scratch;
        thread_local std::vector<std::size_t> ends;
        thread_local std::vector<std::string_view> encodings;
        scratch.clear();
        ends.clear();
        encodings.clear();
        encode_input const input{position, body, key, type};
        std::uint32_t eager = 0;
        for (std::size_t i = 0; i < formats_.size(); ++i) {
            if (!lazy_formats_ || subscribers_by_format_[i].load(std::memory_order_relaxed) != 0) {
                formats_[i].encode(input, scratch);
                eager |= 1u << i;
            }
            ends.push_back(scratch.size());
        }
        std::size_t begin = 0;
        for (auto end : ends) {
            encodings.emplace_back(scratch.data() + begin, end - begin);
            begin = end;
        }
        // A lazy topic keeps the body to build other formats later; an eager one has them all already.
        return payload::make(position.sequence, key, lazy_formats_ ? body : std::string_view{}, encodings, eager, memory_,
                             position.epoch, type);
    }

    bool content_ok(std::string_view body, content type) const noexcept {
        return type != content::text || !text_must_be_utf8_ || core::is_valid_utf8(body);
    }
    void check_content(std::string_view body, content type) const {
        if (!content_ok(body, type))
            throw std::invalid_argument("tether::hub::topic '" + name_ + "': text is not valid UTF-8 (publish it as binary)");
    }

    // ---- byte budget ----------------------------------------------------------------------------------
    // Charges `message` to the budgets and puts it in its slot; whatever it displaced leaves the history.
    void store(payload_ptr message) {
        charge(static_cast<std::int64_t>(message->history_charge().load(std::memory_order_relaxed)));
        payload_ptr displaced;
        // A false return means a publisher one lap ahead already took the slot (we stalled a whole lap);
        // readers report this sequence as missed through their lap detection. Ours never entered history.
        if (!history_.publish(message, &displaced)) return leave_history(*message);
        if (displaced) leave_history(*displaced);
        // Evicted while we were storing it (the floor passed it): take it back out ourselves.
        if (message->sequence() < floor_.load(std::memory_order_acquire) && history_.remove(message))
            leave_history(*message);
    }

    bool over_budget() const noexcept {
        return (max_bytes_ != 0 && history_bytes_.load(std::memory_order_relaxed) > static_cast<std::int64_t>(max_bytes_)) ||
               (shared_budget_ && shared_budget_->exceeded());
    }

    // Evicts the oldest messages until the budgets hold, never `newest` (the message just published) or
    // anything after it. Each sequence is evicted once: the floor's compare-and-swap decides who.
    void enforce_byte_budget(std::uint64_t newest) {
        while (over_budget()) {
            auto floor = floor_.load(std::memory_order_acquire);
            auto const next = next_sequence();
            auto const candidate = std::max(floor, next > capacity() ? next - capacity() : std::uint64_t{1});
            if (candidate >= newest) return;
            if (!floor_.compare_exchange_weak(floor, candidate + 1, std::memory_order_acq_rel)) continue;
            auto found = history_.read(candidate);
            if (found.state == ring::slot_state::ready && history_.remove(found.message)) leave_history(*found.message);
        }
    }

    void charge(std::int64_t bytes) noexcept {
        history_bytes_.fetch_add(bytes, std::memory_order_relaxed);
        if (shared_budget_) shared_budget_->used.fetch_add(bytes, std::memory_order_relaxed);
    }

    // A lazy encoding built for `message`: charged to the history unless the message already left it.
    void charge_more(payload const& message, std::size_t added) const noexcept {
        auto& charge_word = message.history_charge();
        auto current = charge_word.load(std::memory_order_relaxed);
        do {
            if (current & payload::left_history) return;
        } while (!charge_word.compare_exchange_weak(current, current + added, std::memory_order_relaxed));
        const_cast<topic*>(this)->charge(static_cast<std::int64_t>(added));
    }

    // Gives back what `message` was charged, once, whichever path removes it first.
    void leave_history(payload const& message) noexcept {
        auto const charged = message.history_charge().exchange(payload::left_history, std::memory_order_relaxed);
        if (!(charged & payload::left_history)) charge(-static_cast<std::int64_t>(charged));
    }

    void wake_reader_groups() {
        auto const list = wake_targets_.load();
        for (auto const& target : list->targets) target->request();
    }

    std::string const name_;
    std::vector<wire_format> const formats_;
    // Constant unless a sequencer's writer changes it (skip_to); read-mostly either way.
    std::atomic<std::uint64_t> epoch_;
    std::atomic<sequencer*> sequencer_{nullptr};
    std::pmr::memory_resource* const memory_;
    std::size_t const max_bytes_;
    std::shared_ptr<history_budget> const shared_budget_;
    bool const lazy_formats_;
    content const default_content_;
    bool const text_must_be_utf8_;
    ring history_;
    // The claim counter is the one line every publisher writes: keep it away from read-mostly fields.
    alignas(64) std::atomic<std::uint64_t> next_sequence_{1};
    alignas(64) atomic_ref_ptr<target_list> wake_targets_;
    topic_counters counters_;
    std::mutex registration_;
    std::unique_ptr<std::atomic<std::uint32_t>[]> subscribers_by_format_;
    alignas(64) std::atomic<std::uint64_t> floor_{1};        // sequences below it were evicted by bytes
    std::atomic<std::int64_t> history_bytes_{0};             // charged for messages in history
};

/// Stable, shareable handle to a topic (what the registry hands out and reader groups hold).
using topic_handle = std::shared_ptr<topic>;

}  // namespace tether::hub
