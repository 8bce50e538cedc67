#pragma once
// The JSON batch long polling and short polling answer with, read straight from a topic's
// history ring (no per-client queue: the ring is the queue, so a poller costs nothing between
// requests and any connection presenting the same cursor gets the same answer).
//
//   {"messages":[{"topic":"t","id":"<cursor>","data":"..."}, ...], "next":"<cursor>", "recovered":true}
//
// `next` is what the client sends back as ?since=. recovered=false means the history no longer
// covered the client's cursor: the batch starts at the oldest retained message (or is empty)
// and the client must refresh its state, because something is missing that cannot be replayed.
//
// A conflating topic's state is the latest value of each key, so where a poller needs the state
// (its cursor fell out of the history, or it has none) it gets append_latest_per_key's batch:
// the newest message of every key still in the history, not just the newest message overall.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <tether/core/json_writer.hpp>
#include <tether/hub/cursor.hpp>
#include <tether/hub/topic.hpp>

namespace tether::poll {

struct batch_result {
    std::size_t count = 0;
    hub::cursor next;
};

// Messages from sequence `from` on, at most `max_messages`, in the pre-encoded polling format.
inline batch_result append_batch(std::string& out, const hub::topic& t, std::uint64_t from, bool recovered,
                                 std::size_t max_messages, std::size_t format) {
    batch_result r{0, {t.epoch(), from == 0 ? 0 : from - 1}};
    out.append("{\"messages\":[");
    for (std::uint64_t seq = from; seq < t.next_sequence() && r.count < max_messages; ++seq) {
        auto slot = t.read(seq);
        // pending: a publisher is still writing this slot, so stop before it (next time);
        // lapped: overwritten while we read; what we have is contiguous, and the next poll will
        // report recovered=false. Never skip silently.
        if (slot.state != hub::ring::slot_state::ready) break;
        if (r.count) out.push_back(',');
        out.append(slot.message->encoded(format));
        r.next.sequence = seq;
        ++r.count;
    }
    out.append("],\"next\":");
    json::escape_quoted(out, hub::to_string(r.next));
    out.append(recovered ? ",\"recovered\":true}" : ",\"recovered\":false}");
    return r;
}

// The newest message of every key the history still holds, oldest first, for at most
// `max_messages` keys (the most recently changed). `next` is the newest message read, so polling
// on from it misses nothing. A slot a publisher is still filling at the top is left for the next
// poll; one lapped or unfilled further down ends the walk (what is older is gone anyway).
// O(history) reads: this answers the exception (a stale or first poll), not every poll.
inline batch_result append_latest_per_key(std::string& out, const hub::topic& t, bool recovered,
                                          std::size_t max_messages, std::size_t format) {
    std::vector<hub::payload_ptr> newest_first;
    std::unordered_set<std::string_view> keys;   // views into the payloads held above
    const std::uint64_t oldest = t.oldest_retained();
    std::uint64_t top = 0;
    for (std::uint64_t seq = t.next_sequence(); seq-- > oldest && newest_first.size() < max_messages;) {
        auto slot = t.read(seq);
        if (slot.state != hub::ring::slot_state::ready) {
            if (top == 0 && slot.state == hub::ring::slot_state::pending) continue;   // still being published
            break;
        }
        if (top == 0) top = seq;
        if (slot.message->format_count() == 0) continue;   // tombstone: its encoder threw
        if (keys.insert(slot.message->key()).second) newest_first.push_back(std::move(slot.message));
    }
    batch_result r{0, {t.epoch(), top != 0 ? top : t.next_sequence() - 1}};
    out.append("{\"messages\":[");
    for (auto it = newest_first.rbegin(); it != newest_first.rend(); ++it) {
        if (r.count++) out.push_back(',');
        out.append((*it)->encoded(format));
    }
    out.append("],\"next\":");
    json::escape_quoted(out, hub::to_string(r.next));
    out.append(recovered ? ",\"recovered\":true}" : ",\"recovered\":false}");
    return r;
}

} // namespace tether::poll
