#pragma once
// What happens to a subscriber that cannot keep up. The policy is a type (chosen in the server config), so
// the choice costs nothing at run time and a wrong policy fails to compile with one readable error.
//
// Every policy starts from the same two facts: a subscriber never holds more than its byte budget in
// pending writes, and the topic's ring is the only queue. A subscriber whose budget is full simply stops
// being served (it is "parked") and resumes from its own cursor when the transport reports bytes written;
// nothing is copied for it meanwhile. The policies differ in what happens next:
//
//   disconnect  - a live message that does not fit, or a lap (the ring overwrote what the subscriber still
//                 needed), ends the subscription: the transport closes (WebSocket 1008/1013, end of SSE
//                 stream). Nothing is ever skipped silently. A replay that runs out of budget just waits.
//   drop_oldest - when lapped, the subscriber skips to the oldest message still retained and is told the
//                 exact sequence range it missed (Aeron's receivers do the same when lapped: detect, count,
//                 jump to the transmitter's tail). Until it is lapped it loses nothing.
//   conflate    - for tickers and dashboards: a parked subscriber, when it resumes, gets only the latest
//                 message per key among those it missed (from the group's last-value table, not the ring),
//                 in sequence order. History lost to a lap of the whole group is reported as a gap.
//
// A message larger than the whole budget can never be sent under a strict budget: `disconnect` closes,
// the others report it missed.
#include "tether/hub/payload.hpp"
#include "tether/hub/subscriber.hpp"

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <iterator>
#include <list>
#include <optional>
#include <string_view>
#include <unordered_map>

namespace tether::hub {

namespace backpressure {
struct disconnect {};
struct drop_oldest {};
struct conflate {};

template <class P>
concept policy = std::same_as<P, disconnect> || std::same_as<P, drop_oldest> || std::same_as<P, conflate>;
}  // namespace backpressure

/// Why the disconnect policy ended a subscription (a transport maps it to a close code or end of stream).
enum class disconnect_reason : std::uint8_t {
    budget_exceeded,    ///< a live message did not fit in the byte budget (WebSocket: 1013 Try Again Later)
    lapped,             ///< the ring overwrote messages not yet sent (WebSocket: 1008 Policy Violation)
    message_too_large,  ///< one message exceeds the whole budget (WebSocket: 1009 Message Too Big)
};

/// The transport's side of a reader group. All three hooks run on the group's I/O thread, from drain().
///  - deliver: queue `message->encoded(s.format())` for writing (keep the payload_ptr until written), and
///    later call reader_group::written(s, n). The group has already added those bytes to s.pending_bytes().
///    Either deliver(s, message) or deliver(s, message, bytes), which is handed those bytes already looked
///    up (once per format per message for the whole group); a delivery with both gets the second.
///  - missed: sequences [first, last] will never reach `s` (tell the client it must re-sync or carry on).
///  - disconnect: the group has already unsubscribed `s`; close the connection or end the stream.
/// Hooks may unsubscribe any subscriber, subscribe others, and call written(); destroy a subscriber only
/// after unsubscribing it (its destructor does that).
template <class D>
concept delivery = requires(D& d, subscriber& s, payload_ptr const& message, std::uint64_t first,
                            disconnect_reason reason) {
    requires requires { d.deliver(s, message); } || requires(std::string_view bytes) { d.deliver(s, message, bytes); };
    d.missed(s, first, first);
    d.disconnect(s, reason);
};

/// The conflate policy's last-value table: the newest message per key that a reader group has seen, kept in
/// sequence order so that a resuming subscriber's catch-up visits only the keys that changed since its
/// cursor (walking back from the newest), never the whole table. One table per group, owned by its thread.
/// Its size is bounded by the number of distinct keys the application publishes.
class conflation_cache {
public:
    using iterator = std::list<payload_ptr>::const_iterator;

    conflation_cache() = default;
    conflation_cache(conflation_cache const&) = delete;
    conflation_cache& operator=(conflation_cache const&) = delete;

    /// Records `message` as its key's latest value. Messages arrive in sequence order. O(1), and no
    /// allocation when the key was already known.
    void remember(payload_ptr const& message) {
        auto found = by_key_.find(message->key());
        if (found == by_key_.end()) {
            by_sequence_.push_back(message);
            by_key_.emplace(by_sequence_.back()->key(), std::prev(by_sequence_.end()));
            return;
        }
        // The map's key views the old message's bytes: re-point it at the new one before that one goes.
        auto node = by_key_.extract(found);
        auto entry = node.mapped();
        by_sequence_.splice(by_sequence_.end(), by_sequence_, entry);
        *entry = message;
        node.key() = (*entry)->key();
        by_key_.insert(std::move(node));
    }

    /// First entry with sequence >= `from`; entries from there to end() are in ascending sequence order.
    iterator first_from(std::uint64_t from) const noexcept {
        auto it = by_sequence_.end();
        while (it != by_sequence_.begin() && (*std::prev(it))->sequence() >= from) --it;
        return it;
    }
    iterator end() const noexcept { return by_sequence_.end(); }
    std::size_t size() const noexcept { return by_key_.size(); }

    /// Records that the group never saw [first, last] (it was lapped, or it started after them).
    /// Successive losses are merged into one span, which may over-report what lies between them.
    void lose(std::uint64_t first, std::uint64_t last) noexcept {
        if (!lost_) {
            lost_ = span{first, last};
        } else {
            lost_->first = std::min(lost_->first, first);
            lost_->last = std::max(lost_->last, last);
        }
    }

    struct span {
        std::uint64_t first;
        std::uint64_t last;
    };
    /// The part of the lost span at or after `from`, if any.
    std::optional<span> lost_from(std::uint64_t from) const noexcept {
        if (!lost_ || lost_->last < from) return std::nullopt;
        return span{std::max(lost_->first, from), lost_->last};
    }

private:
    std::list<payload_ptr> by_sequence_;
    std::unordered_map<std::string_view, std::list<payload_ptr>::iterator> by_key_;
    std::optional<span> lost_;
};

}  // namespace tether::hub
