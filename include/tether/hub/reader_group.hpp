#pragma once
// One I/O thread's reading of one topic: the subscribers that thread owns, one cursor into the ring, and
// the drain that fans new messages out to them.
//
// Per-loop batching as in uWebSockets' TopicTree, but across threads: publishers wake the group at most
// once per batch (wake.hpp); a drain then reads each new ring slot once and hands the same payload_ptr to
// every local subscriber whose cursor is at that sequence - no per-subscriber copy or framing, and no lock:
// everything here runs on the owning thread. Subscribers that are out of budget are parked off the walk and
// caught up later from their own cursor, so a stalled connection costs the walk nothing.
//
// Integration contract (what a server does per I/O thread and topic):
//   1. Create the group on the I/O thread:
//        reader_group<my_delivery, backpressure::drop_oldest> group{
//            topic, [ex](hub::drain_request r) { asio::post(ex, std::move(r)); }, my_delivery{...}};
//      The wake callable runs on publisher threads, at most once per batch; it must only post. The posted
//      drain_request must run on the group's thread; it is a harmless no-op once the group is gone.
//   2. subscribe(s) for live messages, or subscribe(s, topic.resume(cursor).from) to replay.
//   3. Delivery::deliver(s, message): queue message->encoded(s.format()); when those bytes are written
//      (or dropped with the connection), call written(s, n). That is what frees budget. A Delivery that
//      also takes deliver(s, message, bytes) gets those bytes handed over, already looked up: the group
//      looks a message's encoding up once per format per message (its subscribers nearly always share
//      one format), not once per subscriber, and the transport need not look it up again.
//      A Delivery that also has deliver_run(s, first, joined, bytes, count, more_follow) may be handed a run
//      of new messages as one block: `bytes` (inside `joined`, a payload_ptr to keep) are `count` messages'
//      bytes in s's format back to back, the first of them `first`; written(s, n) as for single messages,
//      and may be called from inside deliver_run (a transport that wrote the bytes at once). Only
//      subscribers that said take_joined_runs(true) are handed runs so. `more_follow` is false when this
//      drain found nothing after the run: a transport that holds its writes until the end of the loop turn,
//      to send several runs with one write, may send this one now.
//   4. unsubscribe(s) (or destroy s) when the connection ends; destroy the group on its own thread.
#include "tether/hub/backpressure.hpp"
#include "tether/hub/joined_run.hpp"
#include "tether/hub/subscriber.hpp"
#include "tether/hub/topic.hpp"
#include "tether/hub/wake.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <utility>

namespace tether::hub {

template <class Delivery, class Policy = backpressure::drop_oldest>
class reader_group {
    static_assert(delivery<Delivery>,
                  "Delivery needs deliver(subscriber&, payload_ptr const&[, string_view]), missed(subscriber&, u64, u64) "
                  "and disconnect(subscriber&, disconnect_reason)");
    static_assert(backpressure::policy<Policy>,
                  "Policy must be backpressure::disconnect, backpressure::drop_oldest or backpressure::conflate");
    static constexpr bool conflating = std::is_same_v<Policy, backpressure::conflate>;
    static constexpr bool disconnecting = std::is_same_v<Policy, backpressure::disconnect>;

public:
    /// On the owning I/O thread. Registers with the topic; from now on publishes wake this group.
    reader_group(topic_handle source, wake_function wake, Delivery delivery = Delivery{})
        : topic_{std::move(source)}, delivery_{std::move(delivery)},
          wake_{make_ref<wake_target>(std::move(wake))}, next_{topic_->next_sequence()} {
        if constexpr (conflating) {
            // Start at the oldest retained message so the last-value table also covers the history a
            // resuming subscriber may ask for; what is older was never seen.
            next_ = topic_->oldest_retained();
            if (next_ > 1) cache_.lose(1, next_ - 1);
        }
        lists_.count_formats_in(topic_->subscribers_by_format());
        wake_->bind(this, &drain_thunk);
        topic_->attach(wake_);
        if (next_ < topic_->next_sequence()) wake_->request();
    }

    reader_group(reader_group const&) = delete;
    reader_group& operator=(reader_group const&) = delete;

    /// On the owning thread. Subscribers are detached without notice.
    ~reader_group() {
        wake_->close();
        topic_->detach(wake_.get());
        lists_.clear();
    }

    /// Live subscription: messages published from now on.
    void subscribe(subscriber& s) { subscribe(s, topic_->next_sequence()); }

    /// Subscription starting at sequence `from` (a topic::resume() result, for replay). If part of that
    /// history is overwritten before it is sent, the policy applies (drop_oldest reports it as missed).
    void subscribe(subscriber& s, std::uint64_t from) {
        if (s.format() >= topic_->format_count()) {
            throw std::invalid_argument("tether::hub::reader_group: subscriber format out of range");
        }
        if (s.subscribed()) throw std::logic_error("tether::hub::reader_group: already subscribed");
        s.next_sequence_ = std::max<std::uint64_t>(from, 1);
        s.gap_reported_through_ = s.next_sequence_ - 1;
        if (s.next_sequence_ < next_) {
            lists_.add(s, subscriber_state::ready);
            request_drain();
        } else {
            lists_.add(s, subscriber_state::live);
        }
    }

    void unsubscribe(subscriber& s) noexcept {
        if (s.lists_ == &lists_) lists_.remove(s);
    }

    /// The transport wrote (or discarded) `bytes` of what deliver() handed it for `s`. A parked subscriber
    /// is caught up once at least half its budget is free (hysteresis: not one drain per small write).
    void written(subscriber& s, std::size_t bytes) {
        assert(bytes <= s.pending_);
        s.pending_ -= std::min(bytes, s.pending_);
        if (s.lists_ == &lists_ && s.state_ == subscriber_state::parked && s.pending_ <= s.budget_ / 2) {
            lists_.move(s, subscriber_state::ready);
            request_drain();
        }
    }

    /// Serves parked subscribers that got budget back, then reads every new message once and hands it to
    /// the live subscribers. Normally run by a drain_request; callable directly on the owning thread.
    /// Reads at most one ring's worth per call, then re-posts itself so the I/O thread stays responsive.
    void drain() {
        if (draining_) {   // re-entered from a hook: let the current drain finish, and come back
            request_drain();
            return;
        }
        draining_ = true;
        struct finish {
            reader_group& group;
            ~finish() {
                if (auto* s = group.lists_.current; s != nullptr && s->state_ == subscriber_state::serving) {
                    group.lists_.remove(*s);   // a hook threw while this one was being caught up
                }
                group.lists_.current = nullptr;
                group.lists_.walk_next = nullptr;
                group.flush_counters();
                group.draining_ = false;
            }
        } guard{*this};
        // Clear the wake flag before reading the ring (wake.hpp explains why no message can slip by).
        wake_->clear_request();
        serve_ready();
        if (read_new_messages()) request_drain();
    }

    /// The next sequence this group will read from the ring.
    std::uint64_t position() const noexcept { return next_; }
    topic& source() const noexcept { return *topic_; }
    Delivery& delivery() noexcept { return delivery_; }
    /// Entries in the conflation table (always 0 for other policies).
    std::size_t conflated_keys() const noexcept {
        if constexpr (conflating) return cache_.size();
        return 0;
    }

private:
    enum class offer_result : std::uint8_t { delivered, skipped, no_room, gone };

    // One message's bytes in the format last asked for. A group's subscribers nearly always share one
    // format, so one memo per message offered to them all looks the encoding up once (and builds a lazy
    // one at most once), not once per subscriber. The bytes live as long as the message.
    struct encoding_memo {
        std::size_t format = static_cast<std::size_t>(-1);
        std::string_view bytes;
    };
    static constexpr bool takes_bytes =
        requires(Delivery& d, subscriber& s, payload_ptr const& m, std::string_view b) { d.deliver(s, m, b); };
    static constexpr bool takes_runs = requires(Delivery& d, subscriber& s, payload_ptr const& m, std::string_view b,
                                                std::size_t n) { d.deliver_run(s, m, m, b, n, false); };
    enum class catch_up_result : std::uint8_t { caught_up, parked, gone };

    static void drain_thunk(void* self) { static_cast<reader_group*>(self)->drain(); }

    void request_drain() { wake_->request(); }

    bool still_here(subscriber const& s) const noexcept { return lists_.current == &s; }

    // The one place that applies the byte budget. `s` must be lists_.current.
    offer_result offer(subscriber& s, payload_ptr const& message, encoding_memo& memo) {
        auto const sequence = message->sequence();
        if (message->format_count() == 0) {   // tombstone: its publisher's encoder threw
            return report_missed(s, sequence, sequence) ? offer_result::skipped : offer_result::gone;
        }
        if (memo.format != s.format_) {
            // Builds the subscriber's format now if the topic encodes it lazily and nobody has yet.
            memo.bytes = topic_->encoding(*message, s.format_);
            memo.format = s.format_;
        }
        auto const size = memo.bytes.size();
        if (size > s.budget_) {
            if constexpr (disconnecting) {
                cut_off(s, disconnect_reason::message_too_large);
                return offer_result::gone;
            } else {
                return report_missed(s, sequence, sequence) ? offer_result::skipped : offer_result::gone;
            }
        }
        if (s.pending_ + size > s.budget_) return offer_result::no_room;
        s.pending_ += size;
        s.next_sequence_ = sequence + 1;
        ++delivered_;
        if constexpr (takes_bytes) {
            delivery_.deliver(s, message, memo.bytes);
        } else {
            delivery_.deliver(s, message);
        }
        return still_here(s) ? offer_result::delivered : offer_result::gone;
    }

    // Tells `s` it will never get [first, last] and moves its cursor past them. False if it left.
    bool report_missed(subscriber& s, std::uint64_t first, std::uint64_t last) {
        s.next_sequence_ = std::max(s.next_sequence_, last + 1);
        dropped_ += last - first + 1;
        delivery_.missed(s, first, last);
        return still_here(s);
    }

    void cut_off(subscriber& s, disconnect_reason reason) {
        lists_.remove(s);
        ++disconnected_;
        delivery_.disconnect(s, reason);
    }

    void serve_ready() {
        while (subscriber* s = lists_.of(subscriber_state::ready).head) {
            lists_.move(*s, subscriber_state::serving);
            lists_.current = s;
            auto const result = catch_up(*s);
            if (!still_here(*s)) continue;   // unsubscribed (or cut off) during a hook
            lists_.current = nullptr;
            lists_.move(*s, result == catch_up_result::caught_up ? subscriber_state::live
                                                                 : subscriber_state::parked);
        }
    }

    catch_up_result catch_up(subscriber& s) {
        if constexpr (conflating) {
            return catch_up_from_cache(s);
        } else {
            return catch_up_from_ring(s);
        }
    }

    // disconnect and drop_oldest: the ring is the subscriber's queue.
    catch_up_result catch_up_from_ring(subscriber& s) {
        while (s.next_sequence_ < next_) {
            auto found = topic_->read(s.next_sequence_);
            // Not ready although this group is past it: overwritten (lapped), or - only where the group itself
            // skipped ahead after a lap - still not stored by a publisher that stalled for a whole lap.
            // Either way the sequence is older than the retained history.
            if (found.state != ring::slot_state::ready) {
                ++lapped_;
                if constexpr (disconnecting) {
                    cut_off(s, disconnect_reason::lapped);
                    return catch_up_result::gone;
                } else {
                    // Skip to the oldest message still retained; O(1) however far behind we were.
                    auto const resume_at = std::max(s.next_sequence_ + 1, topic_->oldest_retained());
                    if (!report_missed(s, s.next_sequence_, resume_at - 1)) return catch_up_result::gone;
                    continue;
                }
            }
            encoding_memo memo;
            switch (offer(s, found.message, memo)) {
            case offer_result::no_room: return catch_up_result::parked;
            case offer_result::gone: return catch_up_result::gone;
            default: break;
            }
        }
        return catch_up_result::caught_up;
    }

    // conflate: only the newest message per key among those `s` has not had, in sequence order.
    catch_up_result catch_up_from_cache(subscriber& s) {
        if constexpr (conflating) {
            if (auto lost = cache_.lost_from(std::max(s.next_sequence_, s.gap_reported_through_ + 1))) {
                s.gap_reported_through_ = lost->last;
                dropped_ += lost->last - lost->first + 1;
                delivery_.missed(s, lost->first, lost->last);
                if (!still_here(s)) return catch_up_result::gone;
            }
            // The table only changes in read_new_messages(), which cannot run inside this loop.
            for (auto it = cache_.first_from(s.next_sequence_); it != cache_.end(); ++it) {
                encoding_memo memo;
                switch (offer(s, *it, memo)) {
                case offer_result::no_room: return catch_up_result::parked;
                case offer_result::gone: return catch_up_result::gone;
                default: break;
                }
            }
            s.next_sequence_ = std::max(s.next_sequence_, next_);
        }
        return catch_up_result::caught_up;
    }

    // New messages are handed out in runs, subscriber by subscriber: each live subscriber takes the whole run
    // before the walk moves on. A subscriber's state (its cursor and budget, its connection, its write queue)
    // lives in three or four heap objects of its own; walked message by message, a 1,000-subscriber group
    // reloads all of them from beyond L1 for every message, and those loads were most of the walk's cost
    // (perf: the hottest instructions in deliver and append_shared sat right after their first touch of a
    // subscriber's objects). Per run they are loaded once for up to `max_run` messages.
    using run = detail::message_run;
    static constexpr std::size_t max_run = run::max_run;

    // Returns true when it stopped at the batch limit with more to read. `next_` moves past a run only once
    // the run was offered to everyone, so a hook that throws leaves it to be offered again (subscribers that
    // already had it skip it by their cursors).
    bool read_new_messages() {
        run pending;
        auto at = next_;
        bool more = true;
        for (std::size_t budget = topic_->capacity();; --budget) {
            if (budget == 0) break;
            auto found = topic_->read(at);
            if (found.state == ring::slot_state::pending) {
                more = false;
                break;
            }
            if (found.state == ring::slot_state::lapped) {
                offer_run(pending, true);   // the notices of what was lapped follow
                next_ = at;
                group_lapped();
                at = next_;
                continue;
            }
            // A full run is offered once the next message is in sight, so that the last run of a drain,
            // full or not, is the one offered with nothing to follow.
            if (pending.size == max_run) {
                offer_run(pending, true);
                next_ = at;
            }
            if constexpr (conflating) cache_.remember(found.message);
            pending.messages[pending.size++] = std::move(found.message);
            ++at;
        }
        offer_run(pending, more);
        next_ = at;
        return more;
    }

    void offer_run(run& r, bool more_follow) {
        if (r.size == 0) return;
        std::array<encoding_memo, max_run> memos{};   // per message, shared by the subscribers
        detail::joined_runs joins;                    // per format, shared by the subscribers
        for (auto* s = lists_.of(subscriber_state::live).head; s != nullptr; s = lists_.walk_next) {
            lists_.walk_next = s->link_next_;
            lists_.current = s;
            if constexpr (takes_runs) {
                if (s->takes_joined_runs_ && offer_joined(*s, r, joins, more_follow) != joined_result::not_joined) continue;
            }
            for (std::size_t i = 0; i < r.size; ++i) {
                if (s->next_sequence_ != r.messages[i]->sequence()) continue;   // joined later, or skipped ahead
                auto const result = offer(*s, r.messages[i], memos[i]);
                if (result == offer_result::gone) break;
                if (result == offer_result::no_room) {
                    if constexpr (disconnecting) {
                        cut_off(*s, disconnect_reason::budget_exceeded);
                    } else {
                        lists_.move(*s, subscriber_state::parked);
                    }
                    break;
                }
            }
        }
        lists_.current = nullptr;
        lists_.walk_next = nullptr;
        r.clear();
    }

    // A run of small messages leaves as one write per subscriber, too (joined_run.hpp says why and when):
    // the subscriber's rest of the run, joined in its format, if it has room for all of it; otherwise the
    // per-message path parks it exactly where its budget ends.
    enum class joined_result : std::uint8_t { not_joined, delivered, gone };

    joined_result offer_joined(subscriber& s, run const& r, detail::joined_runs& joins, bool more_follow) {
        auto const first = r.first_sequence();   // a run's sequences are consecutive
        if (s.next_sequence_ < first || s.next_sequence_ - first + detail::joined_runs::min_joined > r.size) {
            return joined_result::not_joined;
        }
        auto const k = static_cast<std::size_t>(s.next_sequence_ - first);
        auto const joined = joins.from(*topic_, r, s.format_, k);
        if (joined.block == nullptr || s.pending_ + joined.bytes.size() > s.budget_) return joined_result::not_joined;
        auto const count = r.size - k;
        s.pending_ += joined.bytes.size();
        s.next_sequence_ = first + r.size;
        delivered_ += count;
        delivery_.deliver_run(s, r.messages[k], *joined.block, joined.bytes, count, more_follow);
        return still_here(s) ? joined_result::delivered : joined_result::gone;
    }

    // This thread fell a whole ring behind (it was stalled): every live subscriber lost the same span.
    // Parked ones find out from the ring (or the conflation table) when they resume.
    void group_lapped() {
        auto const resume_at = std::max(next_ + 1, topic_->oldest_retained());
        for (auto* s = lists_.of(subscriber_state::live).head; s != nullptr; s = lists_.walk_next) {
            lists_.walk_next = s->link_next_;
            if (s->next_sequence_ >= resume_at) continue;
            lists_.current = s;
            ++lapped_;
            if constexpr (disconnecting) {
                cut_off(*s, disconnect_reason::lapped);
            } else {
                (void)report_missed(*s, s->next_sequence_, resume_at - 1);
            }
        }
        lists_.current = nullptr;
        lists_.walk_next = nullptr;
        if constexpr (conflating) cache_.lose(next_, resume_at - 1);
        next_ = resume_at;
    }

    void flush_counters() noexcept {
        // relaxed: statistics only; nothing is ordered by them.
        auto& counters = topic_->counters();
        if (delivered_ != 0) counters.delivered.fetch_add(std::exchange(delivered_, 0), std::memory_order_relaxed);
        if (dropped_ != 0) counters.dropped.fetch_add(std::exchange(dropped_, 0), std::memory_order_relaxed);
        if (disconnected_ != 0) {
            counters.disconnected.fetch_add(std::exchange(disconnected_, 0), std::memory_order_relaxed);
        }
        if (lapped_ != 0) counters.lapped.fetch_add(std::exchange(lapped_, 0), std::memory_order_relaxed);
    }

    struct no_cache {};

    topic_handle topic_;
    Delivery delivery_;
    ref_ptr<wake_target> wake_;
    detail::subscriber_lists lists_;
    std::uint64_t next_;
    std::uint64_t delivered_ = 0;
    std::uint64_t dropped_ = 0;
    std::uint64_t disconnected_ = 0;
    std::uint64_t lapped_ = 0;
    bool draining_ = false;
    [[no_unique_address]] std::conditional_t<conflating, conflation_cache, no_cache> cache_;
};

}  // namespace tether::hub
