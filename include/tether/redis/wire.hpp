#pragma once
// What the backplane reads back from Redis beyond what hiredis parses: the messages our Lua scripts PUBLISH
// (hiredis hands them over as one opaque string each) and the shapes of our scripts' replies (hiredis gives a
// tree of redisReply; which element means what is ours to check).
//
// Channel messages, built by the publish and epoch scripts (scripts.hpp):
//   m <epoch> <offset> <key length> <key><body>    a message stored at offset <offset> of epoch <epoch>
//   b <epoch> <first> <count> then <count> times <key length> <body length> <key><body>
//                                                   messages stored at offsets first .. first+count-1 (count
//                                                   >= 2) by one script: a node's publishes, batched
//   e <epoch> <last>                                the topic's history restarts: epoch <epoch>, next is last+1
// <epoch> is 16 lowercase hex digits (hub/cursor.hpp's form) and numbers are decimal without leading zeros:
// one spelling per value, so there is no second way to say the same thing. Offsets are below 2^53 (Lua's
// exact integers), which also keeps every sequence + 1 from wrapping. Key and body are raw bytes (the
// key's length prefix makes any byte legal in both).
//
// Why not JSON or a Redis hash per message: the message crosses Redis once per node, is parsed once per node,
// and its body is the application's bytes; a length-prefixed header of ~40 bytes in front of them is the
// least work at both ends, and Lua builds it with one concatenation.
//
// Everything here treats its input as untrusted (a wrong Redis, another program on the channel, a bug in a
// script): malformed input gives nullopt, never undefined behaviour. tests/fuzz/redis_wire_fuzz.cpp feeds it
// arbitrary bytes, both directly and through hiredis' own reply reader.
#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <tether/hub/cursor.hpp>

namespace tether::redis::wire {

/// A message of a topic channel, viewing the bytes it was parsed from.
struct channel_message {
    enum class kind : std::uint8_t { message, epoch } type = kind::message;
    hub::cursor position;   ///< message: its id; epoch: the new epoch and the last sequence before it
    std::string_view key;
    std::string_view body;
};

namespace detail {

/// A decimal without sign, leading zeros or overflow; `text` must be all of it.
inline std::optional<std::uint64_t> decimal(std::string_view text) noexcept {
    if (text.empty() || text.size() > 20 || (text.size() > 1 && text.front() == '0')) return std::nullopt;
    if (text.front() < '0' || text.front() > '9') return std::nullopt;
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return value;
}

/// Offsets are Lua numbers in our scripts, exact below 2^53: anything larger is not one of ours.
inline constexpr std::uint64_t max_offset = std::uint64_t{1} << 53;

inline std::optional<std::uint64_t> offset(std::string_view text) noexcept {
    auto const value = decimal(text);
    if (!value || *value >= max_offset) return std::nullopt;
    return value;
}

/// 16 lowercase hex digits, not all zero (epoch 0 means "none").
inline std::optional<std::uint64_t> epoch(std::string_view text) noexcept {
    if (text.size() != 16) return std::nullopt;
    std::uint64_t value = 0;
    for (char c : text) {
        unsigned digit;
        if (c >= '0' && c <= '9') digit = static_cast<unsigned>(c - '0');
        else if (c >= 'a' && c <= 'f') digit = static_cast<unsigned>(c - 'a' + 10);
        else return std::nullopt;
        value = (value << 4) | digit;
    }
    if (value == 0) return std::nullopt;
    return value;
}

/// Splits off the text up to the next space; false when there is none.
inline bool field(std::string_view& rest, std::string_view& out) noexcept {
    auto const space = rest.find(' ');
    if (space == std::string_view::npos) return false;
    out = rest.substr(0, space);
    rest.remove_prefix(space + 1);
    return true;
}

inline std::string_view str(redisReply const* r) noexcept { return {r->str, r->len}; }

inline bool is_string(redisReply const* r) noexcept {
    return r != nullptr && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) &&
           (r->str != nullptr || r->len == 0);
}

/// An offset sent either as an integer reply or as a decimal string (Lua turns hash fields into strings).
inline std::optional<std::uint64_t> number(redisReply const* r) noexcept {
    if (r == nullptr) return std::nullopt;
    if (r->type == REDIS_REPLY_INTEGER) {
        if (r->integer < 0 || static_cast<std::uint64_t>(r->integer) >= max_offset) return std::nullopt;
        return static_cast<std::uint64_t>(r->integer);
    }
    if (is_string(r)) return offset(str(r));
    return std::nullopt;
}

}  // namespace detail

/// The 16-hex form of an epoch, as the scripts store it.
inline std::string epoch_text(std::uint64_t epoch) {
    std::string out = hub::to_string({epoch, 0});
    out.resize(16);
    return out;
}

inline std::optional<channel_message> parse_channel_message(std::string_view text) noexcept {
    channel_message m;
    std::string_view kind, epoch, number;
    if (!detail::field(text, kind) || kind.size() != 1) return std::nullopt;
    if (!detail::field(text, epoch)) return std::nullopt;
    auto const e = detail::epoch(epoch);
    if (!e) return std::nullopt;
    m.position.epoch = *e;
    if (kind == "e") {
        auto const last = detail::offset(text);
        if (!last) return std::nullopt;
        m.type = channel_message::kind::epoch;
        m.position.sequence = *last;
        return m;
    }
    if (kind != "m") return std::nullopt;
    if (!detail::field(text, number)) return std::nullopt;
    auto const offset = detail::offset(number);
    if (!offset || *offset == 0) return std::nullopt;
    m.position.sequence = *offset;
    std::string_view key_length;
    if (!detail::field(text, key_length)) return std::nullopt;
    auto const length = detail::decimal(key_length);
    if (!length || *length > text.size()) return std::nullopt;
    m.key = text.substr(0, static_cast<std::size_t>(*length));
    m.body = text.substr(static_cast<std::size_t>(*length));
    return m;
}

/// Calls `each(channel_message const&)` for every message of a channel payload: the one of an `m` or `e`
/// payload, or each of a `b` batch in offset order. The whole payload is checked before the first call, so
/// a malformed one (false) delivers nothing: a batch is applied whole or not at all, as Redis stored it.
template <class Each>
bool for_each_channel_message(std::string_view text, Each&& each) {
    if (!text.starts_with("b ")) {
        auto const m = parse_channel_message(text);
        if (m) each(*m);
        return m.has_value();
    }
    std::string_view rest = text.substr(2), epoch, first_text, count_text;
    if (!detail::field(rest, epoch) || !detail::field(rest, first_text) || !detail::field(rest, count_text)) return false;
    auto const e = detail::epoch(epoch);
    auto const first = detail::offset(first_text);
    auto const count = detail::decimal(count_text);
    if (!e || !first || *first == 0 || !count || *count < 2 || *count >= detail::max_offset - *first) return false;
    // One message: "<key length> <body length> <key><body>"; `split` advances `at` past it.
    auto const split = [](std::string_view& at, std::string_view& key, std::string_view& body) {
        std::string_view key_length, body_length;
        if (!detail::field(at, key_length) || !detail::field(at, body_length)) return false;
        auto const k = detail::decimal(key_length);
        auto const b = detail::decimal(body_length);
        if (!k || !b || *k > at.size() || *b > at.size() - *k) return false;
        key = at.substr(0, static_cast<std::size_t>(*k));
        body = at.substr(static_cast<std::size_t>(*k), static_cast<std::size_t>(*b));
        at.remove_prefix(static_cast<std::size_t>(*k + *b));
        return true;
    };
    std::string_view check = rest, key, body;
    for (std::uint64_t i = 0; i < *count; ++i) {
        if (!split(check, key, body)) return false;   // also bounds the count: each message takes 4 bytes
    }
    if (!check.empty()) return false;
    for (std::uint64_t i = 0; i < *count; ++i) {
        split(rest, key, body);
        each(channel_message{channel_message::kind::message, {*e, *first + i}, key, body});
    }
    return true;
}

/// The publish script's answer: {epoch, offset}.
inline std::optional<hub::cursor> parse_stored_as(redisReply const* r) noexcept {
    if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != 2) return std::nullopt;
    if (!detail::is_string(r->element[0])) return std::nullopt;
    auto const e = detail::epoch(detail::str(r->element[0]));
    auto const offset = detail::number(r->element[1]);
    if (!e || !offset || *offset == 0) return std::nullopt;
    return hub::cursor{*e, *offset};
}

/// One entry of a topic's stream: XADD id "<offset>-0", fields d (body) and k (key).
struct stream_entry {
    std::uint64_t offset = 0;
    std::string_view key;
    std::string_view body;
};

/// The fetch script's answer: nothing (Redis holds no history for the topic) or the epoch, the last offset
/// and the newest entries from the asked-for offset on, in order.
struct history {
    bool exists = false;
    hub::cursor last;   ///< the epoch and its last offset
    std::vector<stream_entry> entries;
};

inline std::optional<stream_entry> parse_stream_entry(redisReply const* r) noexcept {
    if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != 2) return std::nullopt;
    if (!detail::is_string(r->element[0])) return std::nullopt;
    auto id = detail::str(r->element[0]);
    if (!id.ends_with("-0")) return std::nullopt;
    auto const offset = detail::offset(id.substr(0, id.size() - 2));
    if (!offset || *offset == 0) return std::nullopt;
    stream_entry entry{*offset, {}, {}};
    auto const* fields = r->element[1];
    if (fields == nullptr || fields->type != REDIS_REPLY_ARRAY || fields->elements % 2 != 0) return std::nullopt;
    bool has_body = false;
    for (std::size_t i = 0; i < fields->elements; i += 2) {
        auto const* name = fields->element[i];
        auto const* value = fields->element[i + 1];
        if (!detail::is_string(name) || !detail::is_string(value)) return std::nullopt;
        if (detail::str(name) == "d") {
            entry.body = detail::str(value);
            has_body = true;
        } else if (detail::str(name) == "k") {
            entry.key = detail::str(value);
        }
    }
    if (!has_body) return std::nullopt;
    return entry;
}

inline std::optional<history> parse_history(redisReply const* r) {
    if (r == nullptr || r->type != REDIS_REPLY_ARRAY) return std::nullopt;
    history h;
    if (r->elements == 0) return h;   // no such topic in Redis
    if (r->elements != 3 || !detail::is_string(r->element[0])) return std::nullopt;
    auto const e = detail::epoch(detail::str(r->element[0]));
    auto const last = detail::number(r->element[1]);
    auto const* entries = r->element[2];
    if (!e || !last || entries == nullptr || entries->type != REDIS_REPLY_ARRAY) return std::nullopt;
    h.exists = true;
    h.last = {*e, *last};
    h.entries.reserve(entries->elements);
    for (std::size_t i = 0; i < entries->elements; ++i) {
        auto entry = parse_stream_entry(entries->element[i]);
        // Entries are consecutive and end at the last offset; anything else is not our stream.
        if (!entry || entry->offset > *last) return std::nullopt;
        if (!h.entries.empty() && entry->offset != h.entries.back().offset + 1) return std::nullopt;
        h.entries.push_back(*entry);
    }
    return h;
}

/// One value of a conflating topic's latest-value hash: "<offset> <body>" under its key.
struct latest_entry {
    std::uint64_t offset = 0;
    std::string_view key;
    std::string_view body;
};

/// The latest script's answer: the epoch (0: the topic has none) and the entries, in offset order.
struct latest_values {
    std::uint64_t epoch = 0;
    std::vector<latest_entry> entries;
};

inline std::optional<latest_values> parse_latest(redisReply const* r) {
    if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 1) return std::nullopt;
    if (!detail::is_string(r->element[0])) return std::nullopt;
    latest_values out;
    if (auto const e = detail::str(r->element[0]); !e.empty()) {
        auto const epoch = detail::epoch(e);
        if (!epoch) return std::nullopt;
        out.epoch = *epoch;
    }
    for (std::size_t i = 1; i + 1 < r->elements; i += 2) {
        if (!detail::is_string(r->element[i]) || !detail::is_string(r->element[i + 1])) return std::nullopt;
        auto value = detail::str(r->element[i + 1]);
        auto const space = value.find(' ');
        if (space == std::string_view::npos) return std::nullopt;
        auto const offset = detail::offset(value.substr(0, space));
        if (!offset || *offset == 0) return std::nullopt;
        out.entries.push_back({*offset, detail::str(r->element[i]), value.substr(space + 1)});
    }
    std::sort(out.entries.begin(), out.entries.end(), [](auto const& a, auto const& b) { return a.offset < b.offset; });
    return out;
}

/// A presence entry written by a node: "<subscriptions>" then "\n<user id>" per distinct user.
struct node_presence {
    std::uint64_t subscriptions = 0;
    std::vector<std::string_view> users;
};

inline std::optional<node_presence> parse_node_presence(std::string_view text) {
    node_presence p;
    auto const newline = text.find('\n');
    auto const count = detail::decimal(text.substr(0, newline));
    if (!count) return std::nullopt;
    p.subscriptions = *count;
    if (newline == std::string_view::npos) return p;
    for (auto rest = text.substr(newline + 1);;) {
        auto const end = rest.find('\n');
        auto user = rest.substr(0, end);
        if (user.empty()) return std::nullopt;
        p.users.push_back(user);
        if (end == std::string_view::npos) break;
        rest = rest.substr(end + 1);
    }
    return p;
}

}  // namespace tether::redis::wire
