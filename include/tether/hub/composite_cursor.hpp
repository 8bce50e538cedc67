#pragma once
// Positions in several topics as one string: what a stream carrying many topics (`/sse?topics=a,b`,
// `/poll?topics=a,b`) hands its client as an SSE id or a poll's `since`, and takes back on reconnect.
//
//   a:00c0ffee12345678-42,b:00c0ffee12345678-0
//
// Each entry names its topic. The set of topics a client asks for changes (a page subscribes to one
// more), and a positional list would then hand topic c the cursor of topic b; by name, an entry for a
// topic no longer asked for is ignored and a new topic simply has none (it starts live). Realtime
// topic names are RFC 3986 §2.3 unreserved characters (server/realtime.hpp checks it), so ':' and
// ',' never occur inside one, and no escaping is needed.
//
// Parsing is lenient per entry and strict within one: the string is untrusted client input, so a
// malformed entry never throws or aborts the others. An entry whose cursor does not parse is kept
// with `valid == false`: the client had a position it cannot prove, which is "not recoverable"
// (event: reset / recovered:false), not "start fresh" (which would hide the gap).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <tether/hub/cursor.hpp>

namespace tether::hub {

struct named_cursor {
    std::string_view topic;
    cursor position{};
    bool valid = false;   // false: the entry was there but its cursor did not parse
};

// Calls f(named_cursor) for every entry of `text`, in order, at most `max_entries` of them (a
// bound on the work an attacker's header can cause); entries without a ':' or with an empty name
// are skipped. Views point into `text`.
template <class F>
void for_each_named_cursor(std::string_view text, std::size_t max_entries, F&& f) {
    std::size_t seen = 0;
    while (!text.empty() && seen < max_entries) {
        auto comma = text.find(',');
        std::string_view entry = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
        auto colon = entry.find(':');
        if (colon == std::string_view::npos || colon == 0) continue;
        ++seen;
        auto parsed = parse_cursor(entry.substr(colon + 1));
        f(named_cursor{entry.substr(0, colon), parsed.value_or(cursor{}), parsed.has_value()});
    }
}

// The entry for `topic` in `text`: nullopt when there is none (the first one wins if repeated).
inline std::optional<named_cursor> find_named_cursor(std::string_view text, std::string_view topic,
                                                     std::size_t max_entries) {
    std::optional<named_cursor> found;
    for_each_named_cursor(text, max_entries, [&](const named_cursor& c) {
        if (!found && c.topic == topic) found = c;
    });
    return found;
}

// Appends "topic:cursor", after a ',' unless it is the list's `first` entry.
inline void append_named_cursor(std::string& out, std::string_view topic, cursor c, bool first) {
    if (!first) out.push_back(',');
    out.append(topic);
    out.push_back(':');
    char text[cursor_max_chars];
    out.append(text, format_cursor(c, text));
}

}  // namespace tether::hub
