#pragma once
// How one node keeps one topic's ring in step with Redis: the decisions, with no I/O in them (the backplane
// sends what this asks for and hands back the answers), so that every case below is unit-tested without a
// server (tests/unit/redis_topic_sync_test.cpp).
//
// Two inputs arrive on two connections that are not ordered with each other: the topic's channel (every
// message, pushed as Redis stores it) and the answers to our fetch requests (a snapshot: epoch, last offset,
// the newest entries). The rules:
//   - A channel message of the epoch we follow at exactly our next sequence is ingested: the steady state,
//     one message in, one ingest, no round trip.
//   - Below it: a duplicate (a fetch already brought it), dropped.
//   - Above it, of another epoch, or while we follow none: we are missing something. Fetch from our next
//     sequence and hold further channel messages until the answer comes.
//   - A fetch answer covers every channel message that arrived before the fetch was sent: Redis ran the
//     script that published it before it ran our fetch. So when the answer comes, held messages that arrived
//     before the request are dropped, the answer is applied, and the later ones are replayed through the
//     rules above. That is what makes the loop end: a stale message can trigger at most one more fetch.
//   - Applying an answer of our epoch: ingest the entries from our next sequence on; if the first of them is
//     further on (Redis trimmed the rest), skip to it: subscribers are told through their policy.
//   - An answer of another epoch (or the first one we see) is adopted: skip to where we can start in it.
//   - No epoch in Redis (a new topic, or Redis lost it): ask Redis to start one after our position (if
//     nobody did meanwhile), then fetch again.
//   - Redis behind us (its epoch has fewer messages than we delivered): Redis lost data we already handed
//     out. Likewise a new epoch after our position. Clients then get recovered:false instead of two different messages
//     under one id. Sequences keep growing, so the hub never sees them go back.
//   - Held messages are bounded (count and bytes); past that they are dropped and a fresh fetch, sent after
//     all of them arrived, covers them.
//   - A run of messages one script stored (a "b" payload) is one arrival: its messages go through the rules
//     in order, and a fetch one of them sends covers the others.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include <tether/hub/topic.hpp>
#include <tether/redis/wire.hpp>

namespace tether::redis {

class topic_sync {
public:
    /// What the owner sends to Redis for this topic.
    class requests {
    public:
        /// The fetch script from sequence `from` on; answer with on_history() (or on_session_end()).
        virtual void fetch(topic_sync& t, std::uint64_t from) = 0;
        /// The new-epoch script (expected: the epoch Redis should still have, or none); then on_epoch_answer().
        virtual void start_epoch(topic_sync& t, std::optional<std::uint64_t> expected, std::uint64_t last) = 0;

    protected:
        ~requests() = default;
    };

    /// What channel messages may be held while a fetch is out (they are dropped, and fetched again, past it).
    struct limits {
        std::size_t held_messages;
        std::size_t held_bytes;
    };
    static constexpr limits default_limits{65536, std::size_t{32} << 20};

    topic_sync(hub::topic_handle topic, requests& out, limits l = default_limits)
        : topic_{std::move(topic)}, out_{out}, limits_{l} {}

    hub::topic& topic() const noexcept { return *topic_; }
    hub::topic_handle const& handle() const noexcept { return topic_; }
    /// True once this node follows an epoch it learned from Redis (and since then, across reconnects).
    bool follows_redis() const noexcept { return following_; }
    /// True once Redis answered in this session and nothing is outstanding: the ring is as current as the
    /// channel (or Redis has nothing for the topic yet).
    bool in_step() const noexcept { return answered_ && !waiting_ && held_.empty(); }
    std::uint64_t fetches() const noexcept { return fetches_; }

    /// The channel is subscribed (again): whatever happened meanwhile, fetch.
    void on_session_start() {
        reset_waits();
        request_fetch();
    }
    /// Both connections are gone: what was asked will not be answered.
    void on_session_end() { reset_waits(); }

    /// A message of the topic's channel (the raw payload: one message, or a run one script stored). Malformed
    /// ones are counted and ignored. A run's messages are taken one by one by the rules above; once one of
    /// them sends a fetch, the rest are dropped, since Redis stored them before it runs the fetch.
    void on_channel_message(std::string_view payload) {
        ++arrivals_;
        bool fetched = false;
        bool const parsed = wire::for_each_channel_message(payload, [&](wire::channel_message const& m) {
            if (fetched) return;
            if (waiting_) return hold(m);
            fetched = !apply(m);
        });
        if (!parsed) ++malformed_;
    }

    /// The answer to fetch(); nullopt: it did not parse (treated as a lost answer: fetch again).
    void on_history(std::optional<wire::history> const& answer) {
        if (!waiting_ || waiting_for_ != waiting::history) return;
        waiting_ = false;
        if (!answer) {
            ++malformed_;
            return request_fetch();
        }
        if (!adopt(*answer)) return;   // asked for a new epoch first
        answered_ = true;
        replay_held();
    }

    /// The new-epoch script answered (started one or not): read again.
    void on_epoch_answer() {
        if (!waiting_ || waiting_for_ != waiting::epoch) return;
        waiting_ = false;
        request_fetch();
    }

    std::uint64_t malformed() const noexcept { return malformed_; }

private:
    enum class waiting : std::uint8_t { history, epoch };

    struct held_message {
        std::uint64_t arrival;
        wire::channel_message::kind type;
        hub::cursor position;
        std::string key, body;
    };

    void reset_waits() {
        waiting_ = false;
        answered_ = false;
        held_.clear();
        held_bytes_ = 0;
    }

    void request_fetch() {
        waiting_ = true;
        waiting_for_ = waiting::history;
        fetch_sent_at_ = arrivals_;
        ++fetches_;
        out_.fetch(*this, topic_->next_sequence());
    }

    void request_epoch(std::optional<std::uint64_t> expected) {
        waiting_ = true;
        waiting_for_ = waiting::epoch;
        fetch_sent_at_ = arrivals_;
        out_.start_epoch(*this, expected, topic_->next_sequence() - 1);
    }

    void hold(wire::channel_message const& m) {
        if (held_.size() >= limits_.held_messages || held_bytes_ + m.body.size() + m.key.size() > limits_.held_bytes) {
            // Too much to hold: drop it all; the answer we wait for is followed by a fresh fetch.
            held_.clear();
            held_bytes_ = 0;
            overflowed_ = true;
            return;
        }
        held_bytes_ += m.body.size() + m.key.size();
        held_.push_back({arrivals_, m.type, m.position, std::string(m.key), std::string(m.body)});
    }

    // The rules for one channel message (see the opening comment). Returns false if it sent a fetch (which
    // covers this message: it arrived before the request went out).
    bool apply(wire::channel_message const& m) {
        auto& t = *topic_;
        auto const next = t.next_sequence();
        bool const ours = following_ && m.position.epoch == t.epoch();
        if (m.type == wire::channel_message::kind::epoch) {
            if (ours) return true;   // the epoch we already follow
        } else if (ours) {
            if (m.position.sequence < next) return true;   // a duplicate
            if (m.position.sequence == next) {
                t.ingest(m.position, m.body, m.key);
                return true;
            }
        }
        request_fetch();
        return false;
    }

    // Applies a fetch answer; false if it asked Redis for a new epoch instead.
    bool adopt(wire::history const& h) {
        auto& t = *topic_;
        auto const next = t.next_sequence();
        if (!h.exists) {
            // Redis has no epoch for the topic: a new topic, or Redis lost it (then after our position).
            // Start one now rather than at the first publish, so that every node follows Redis' epoch
            // from the start and a client subscribed before the first message is not told "reset" by it.
            request_epoch(std::nullopt);
            return false;
        }
        bool const same = following_ && h.last.epoch == t.epoch();
        if (following_ && h.last.sequence + 1 < next) {
            // Redis is behind what we delivered (an AOF that lost its last second, a new epoch started below
            // us): never reuse those ids for other messages.
            request_epoch(h.last.epoch);
            return false;
        }
        std::uint64_t const first_available = h.entries.empty() ? h.last.sequence + 1 : h.entries.front().offset;
        if (!same || first_available > next) {
            // Adopt the epoch, or jump a trimmed stretch: everything before where we can start is not here.
            t.skip_to({h.last.epoch, std::max(next, first_available) - 1});
        }
        for (auto const& e : h.entries) {
            if (e.offset >= t.next_sequence()) t.ingest({h.last.epoch, e.offset}, e.body, e.key);
        }
        if (t.next_sequence() <= h.last.sequence) t.skip_to(h.last);   // its tail was trimmed away entirely
        following_ = true;
        return true;
    }

    void replay_held() {
        auto const covered = fetch_sent_at_;
        if (overflowed_) {
            overflowed_ = false;
            held_.clear();
            held_bytes_ = 0;
            return request_fetch();
        }
        while (!held_.empty()) {
            auto m = std::move(held_.front());
            held_.pop_front();
            held_bytes_ -= m.key.size() + m.body.size();
            if (m.arrival <= covered) continue;   // the answer already covers it
            if (!apply({m.type, m.position, m.key, m.body})) {
                // A new fetch went out after everything still held arrived: it covers all of it.
                held_.clear();
                held_bytes_ = 0;
                return;
            }
        }
    }

    hub::topic_handle topic_;
    requests& out_;
    limits limits_;
    std::deque<held_message> held_;
    std::size_t held_bytes_ = 0;
    std::uint64_t arrivals_ = 0;        // channel messages received so far
    std::uint64_t fetch_sent_at_ = 0;   // arrivals_ when the outstanding request was sent
    std::uint64_t fetches_ = 0;
    std::uint64_t malformed_ = 0;
    waiting waiting_for_ = waiting::history;
    bool waiting_ = false;
    bool following_ = false;
    bool answered_ = false;
    bool overflowed_ = false;
};

}  // namespace tether::redis
