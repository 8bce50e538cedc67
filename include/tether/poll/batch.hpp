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
// A batch is bounded in messages and in bytes (the first message always fits, so one larger than
// the byte bound still goes out alone): a client presenting an old cursor on a long history gets
// a page and its `next`, never the whole history in one body.
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

struct batch_limits {
    std::size_t max_messages = 100;
    std::size_t max_bytes = 1024 * 1024;   // of message bytes in one answer
};

// Messages from sequence `from` on, within `limits`, in the pre-encoded polling format.
// `epoch` is the epoch `from` belongs to (the one resume() was asked about); 0: the topic's current one.
inline batch_result append_batch(std::string& out, const hub::topic& t, std::uint64_t from, bool recovered,
                                 batch_limits limits, std::size_t format, std::uint64_t epoch = 0) {
    batch_result r{0, {epoch != 0 ? epoch : t.epoch(), from == 0 ? 0 : from - 1}};
    out.append("{\"messages\":[");
    std::size_t bytes = 0;
    for (std::uint64_t seq = from; seq < t.next_sequence() && r.count < limits.max_messages; ++seq) {
        auto slot = t.read(seq);
        // pending: a publisher is still writing this slot, so stop before it (next time);
        // lapped: overwritten while we read; what we have is contiguous, and the next poll will
        // report recovered=false. Never skip silently. A message of another epoch (a backplane's
        // epoch changed meanwhile) ends the batch too: `next` names one epoch, and the next poll,
        // from a cursor of the old one, is told recovered=false.
        if (slot.state != hub::ring::slot_state::ready || slot.message->epoch() != r.next.epoch) break;
        // A tombstone (its encoder threw) has no bytes: step over it. Polling has no "missed" notice, so
        // the batch says recovered=false rather than skip it silently.
        if (slot.message->tombstone()) {
            recovered = false;
            r.next.sequence = seq;
            continue;
        }
        auto encoded = t.encoding(*slot.message, format);
        if (r.count && bytes + encoded.size() > limits.max_bytes) break;
        bytes += encoded.size();
        if (r.count) out.push_back(',');
        out.append(encoded);
        r.next.sequence = seq;
        ++r.count;
    }
    out.append("],\"next\":");
    json::escape_quoted(out, hub::to_string(r.next));
    out.append(recovered ? ",\"recovered\":true}" : ",\"recovered\":false}");
    return r;
}

// The newest message of every key the history still holds, oldest first, within `limits` (the
// most recently changed keys first in, so a cut drops the stalest). `next` is the newest message
// read, so polling on from it misses nothing. A slot a publisher is still filling at the top is
// left for the next poll; one lapped or unfilled further down ends the walk (what is older is
// gone anyway). O(history) reads: this answers the exception (a stale or first poll), not every poll.
inline batch_result append_latest_per_key(std::string& out, const hub::topic& t, bool recovered,
                                          batch_limits limits, std::size_t format) {
    std::vector<hub::payload_ptr> newest_first;
    std::unordered_set<std::string_view> keys;   // views into the payloads held above
    const std::uint64_t oldest = t.oldest_retained();
    std::uint64_t top = 0;
    std::size_t bytes = 0;
    for (std::uint64_t seq = t.next_sequence(); seq-- > oldest && newest_first.size() < limits.max_messages;) {
        auto slot = t.read(seq);
        if (slot.state != hub::ring::slot_state::ready) {
            if (top == 0 && slot.state == hub::ring::slot_state::pending) continue;   // still being published
            break;
        }
        if (top == 0) top = seq;
        if (slot.message->format_count() == 0) continue;   // tombstone: its encoder threw
        if (!keys.insert(slot.message->key()).second) continue;
        auto size = t.encoding(*slot.message, format).size();
        if (!newest_first.empty() && bytes + size > limits.max_bytes) break;
        bytes += size;
        newest_first.push_back(std::move(slot.message));
    }
    batch_result r{0, {t.epoch(), top != 0 ? top : t.next_sequence() - 1}};
    out.append("{\"messages\":[");
    for (auto it = newest_first.rbegin(); it != newest_first.rend(); ++it) {
        if (r.count++) out.push_back(',');
        out.append(t.encoding(**it, format));
    }
    out.append("],\"next\":");
    json::escape_quoted(out, hub::to_string(r.next));
    out.append(recovered ? ",\"recovered\":true}" : ",\"recovered\":false}");
    return r;
}

} // namespace tether::poll
