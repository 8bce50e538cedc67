#pragma once
// The hub's view of one connection's interest in one topic: which wire format it speaks, the sequence it
// expects next (its cursor), and a strict budget of bytes handed to the transport but not yet written.
//
// A subscriber belongs to one I/O thread and is only touched there: no atomics, no locks. The transport
// embeds it (as a member or a base of its connection object), so subscribing allocates nothing, and an idle
// subscriber costs a few dozen bytes. It is linked intrusively into one of its reader group's lists:
//   live   - caught up; served by the group's single walk over new messages;
//   parked - out of budget (or replaying) and waiting for the transport to report written bytes; the
//            ring itself is its queue, so parking costs nothing per message;
//   ready  - budget freed while parked; to be caught up at the next drain.
// Rejected: a per-subscriber message queue (unbounded, or a copy of the ring per connection) and
// std::list/std::set of subscribers (an allocation per subscription, and no O(1) self-removal).
#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <initializer_list>

namespace tether::hub {

namespace detail {
class subscriber_lists;
}
template <class Delivery, class Policy>
class reader_group;

enum class subscriber_state : std::uint8_t { detached, live, parked, ready, serving };

class subscriber {
public:
    /// `format`: index of the topic wire format this subscriber is sent. `byte_budget`: the most bytes
    /// that may be handed to the transport and not yet reported written.
    subscriber(std::size_t format, std::size_t byte_budget) noexcept : format_{format}, budget_{byte_budget} {}
    subscriber(subscriber const&) = delete;
    subscriber& operator=(subscriber const&) = delete;
    /// Leaves its reader group (same thread) if still subscribed.
    inline ~subscriber();

    std::size_t format() const noexcept { return format_; }
    std::size_t byte_budget() const noexcept { return budget_; }
    std::size_t pending_bytes() const noexcept { return pending_; }
    /// The sequence this subscriber is to receive next; what it has received is everything before it,
    /// minus what was reported missed.
    std::uint64_t next_sequence() const noexcept { return next_sequence_; }
    bool subscribed() const noexcept { return state_ != subscriber_state::detached; }
    subscriber_state state() const noexcept { return state_; }
    /// Whether this subscriber's transport takes a run of messages as one joined block (a Delivery with
    /// deliver_run, see reader_group.hpp): set before subscribing, by a transport that queues those bytes
    /// as they are and needs nothing per message (a compressing one, for one, does).
    bool takes_joined_runs() const noexcept { return takes_joined_runs_; }
    void take_joined_runs(bool yes) noexcept { takes_joined_runs_ = yes; }

private:
    friend class detail::subscriber_lists;
    template <class Delivery, class Policy>
    friend class reader_group;

    subscriber* link_prev_ = nullptr;
    subscriber* link_next_ = nullptr;
    detail::subscriber_lists* lists_ = nullptr;
    std::uint64_t next_sequence_ = 0;
    std::uint64_t gap_reported_through_ = 0;   // conflation: last lost sequence already reported
    std::size_t pending_ = 0;
    std::size_t format_;
    std::size_t budget_;
    subscriber_state state_ = subscriber_state::detached;
    bool takes_joined_runs_ = false;
};

namespace detail {

/// A reader group's three intrusive lists, plus the bookkeeping that lets delivery hooks unsubscribe any
/// subscriber (or destroy one, after unsubscribing) while the group is iterating.
class subscriber_lists {
public:
    struct list {
        subscriber* head = nullptr;
        subscriber* tail = nullptr;
    };

    subscriber_lists() = default;
    subscriber_lists(subscriber_lists const&) = delete;
    subscriber_lists& operator=(subscriber_lists const&) = delete;
    ~subscriber_lists() { clear(); }

    list& of(subscriber_state state) noexcept {
        switch (state) {
        case subscriber_state::live: return live_;
        case subscriber_state::parked: return parked_;
        default: assert(state == subscriber_state::ready); return ready_;
        }
    }

    /// Where to count subscribers per wire format (the topic's table, read by publishers); may be null.
    void count_formats_in(std::atomic<std::uint32_t>* counts) noexcept { format_counts_ = counts; }

    /// Links a detached subscriber at the tail of the list for `state` (or into none, for `serving`).
    void add(subscriber& s, subscriber_state state) noexcept {
        assert(s.state_ == subscriber_state::detached);
        s.lists_ = this;
        if (format_counts_) format_counts_[s.format_].fetch_add(1, std::memory_order_relaxed);
        place(s, state);
    }

    /// Moves a subscriber of this group to another state's list.
    void move(subscriber& s, subscriber_state state) noexcept {
        assert(s.lists_ == this);
        unlink(s);
        place(s, state);
    }

    /// Unlinks a subscriber for good; safe while the group iterates (see walk_next and current).
    void remove(subscriber& s) noexcept {
        assert(s.lists_ == this);
        unlink(s);
        if (current == &s) current = nullptr;
        if (format_counts_) format_counts_[s.format_].fetch_sub(1, std::memory_order_relaxed);
        s.lists_ = nullptr;
        s.state_ = subscriber_state::detached;
    }

    /// Detaches everyone without notice (the group is going away).
    void clear() noexcept {
        for (auto* l : {&live_, &parked_, &ready_}) {
            while (l->head != nullptr) remove(*l->head);
        }
        walk_next = nullptr;
        current = nullptr;
    }

    /// The subscriber a walk will visit next; advanced by unlink() if that one leaves.
    subscriber* walk_next = nullptr;
    /// The subscriber a hook is being called for; cleared by remove() so the group knows it left.
    subscriber* current = nullptr;

private:
    void place(subscriber& s, subscriber_state state) noexcept {
        s.state_ = state;
        if (state == subscriber_state::serving) return;
        auto& l = of(state);
        s.link_prev_ = l.tail;
        s.link_next_ = nullptr;
        (l.tail != nullptr ? l.tail->link_next_ : l.head) = &s;
        l.tail = &s;
    }

    void unlink(subscriber& s) noexcept {
        if (s.state_ == subscriber_state::serving || s.state_ == subscriber_state::detached) return;
        if (walk_next == &s) walk_next = s.link_next_;
        auto& l = of(s.state_);
        (s.link_prev_ != nullptr ? s.link_prev_->link_next_ : l.head) = s.link_next_;
        (s.link_next_ != nullptr ? s.link_next_->link_prev_ : l.tail) = s.link_prev_;
        s.link_prev_ = s.link_next_ = nullptr;
    }

    list live_;
    list parked_;
    list ready_;
    std::atomic<std::uint32_t>* format_counts_ = nullptr;
};

}  // namespace detail

inline subscriber::~subscriber() {
    if (lists_ != nullptr) lists_->remove(*this);
}

}  // namespace tether::hub
