#pragma once
// Long and short polling over several topics in one request: what tether.js uses when a page has
// many topics and no WebSocket, since a browser allows six HTTP/1.1 connections per origin and a
// poll per topic would stall the seventh. app.realtime registers them (routes.longpoll_many,
// routes.shortpoll_many).
//
//   GET /poll?topics=a,b&since=a:<cursor>,b:<cursor>          (hub/composite_cursor.hpp)
//   {"topics":{"a":<batch>,"b":<batch>},"refused":{"x":{"status":404,"message":"no such topic: x"}}}
//
// Each <batch> is exactly what /poll/{topic} (or /status/{topic}) answers for that topic alone
// (poll/batch.hpp), read the same way from the topic's history, so the rules a client already
// follows per topic hold per entry here: `next` to send back, recovered=false after a gap. A topic
// without an entry in `since` is new to the client: it gets its position (no messages). A topic
// that does not exist or that the application refuses is named under "refused" and fails alone:
// the others are answered as if it had not been asked for.
//
// A long poll answers at once when some topic has news, is new to the client, or lost its
// history; otherwise it is held (net/many_topics_waiter.hpp) until a message on any of them, and
// then every topic's batch is read at once, so a page hears of all its topics in one answer.
// Budgets are those of one poll: the byte bound is shared among the topics (each still gets at
// least one message, so none starves), the number of topics is capped (400 past it), and a held
// poll counts against the client's held-poll cap and the stream admission like any other.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <tether/core/json_writer.hpp>
#include <tether/http/error.hpp>
#include <tether/http/query.hpp>
#include <tether/http/request.hpp>
#include <tether/http/response.hpp>
#include <tether/hub/composite_cursor.hpp>
#include <tether/hub/topic.hpp>
#include <tether/net/many_topics_waiter.hpp>
#include <tether/poll/batch.hpp>
#include <tether/poll/long_poll.hpp>
#include <tether/poll/short_poll.hpp>

namespace tether::poll {

// One topic of a many-topic poll, as admitted for this request: the server's registry entry (which
// outlives every request, held ones included) and the client's position in it.
template <class Entry>
struct polled_topic {
    const Entry* entry;
    std::optional<hub::named_cursor> since;   // nullopt: the client has no position in it yet

    const hub::topic& topic() const { return *entry->handle; }
    std::string_view name() const { return entry->handle->name(); }
};

template <class Entry>
struct polled_topics {
    std::vector<polled_topic<Entry>> topics;
    std::string refused;   // members of the "refused" object, comma-separated
};

// Reads ?topics= and ?since=, and admits each topic: `admit(name)` throws http::error(403, ...)
// to refuse one. nullopt, with the 400 written, when the list itself is unusable.
template <class Server, class Admit>
auto admit_polled_topics(Server& server, const http::request& req, std::size_t max_topics,
                         Admit&& admit, http::response& res) {
    using entry_type = std::remove_cvref_t<decltype(*server.find_topic(std::string_view{}))>;
    auto list = http::find_query_param(req.query_string(), "topics").value_or(std::string{});
    auto names = http::split_list(list, max_topics);
    if (!names || names->empty()) {
        http::write_error(res, 400, "topics: 1 to " + std::to_string(max_topics) + " names, comma-separated");
        return std::optional<polled_topics<entry_type>>{};
    }
    auto since = http::find_query_param(req.query_string(), "since").value_or(std::string{});
    polled_topics<entry_type> out;
    auto refuse = [&](std::string_view name, int status, std::string_view message) {
        if (!out.refused.empty()) out.refused.push_back(',');
        json::escape_quoted(out.refused, name);
        out.refused.push_back(':');
        json::writer(out.refused).begin_object().member("status", status).member("message", message).end_object();
    };
    for (auto name : *names) {
        auto* entry = server.find_topic(name);
        if (!entry) {
            refuse(name, 404, "no such topic: " + std::string(name));
            continue;
        }
        try {
            admit(name);
        } catch (const http::error& e) {
            refuse(name, e.status(), e.what());
            continue;
        }
        out.topics.push_back({entry, hub::find_named_cursor(since, name, max_topics * 2)});
    }
    return std::optional{std::move(out)};
}

// What a topic's cursor means now: replay from `resume.from`, or not recoverable.
template <class Entry>
hub::resumption resumption_of(const polled_topic<Entry>& p) {
    const hub::topic& t = p.topic();
    if (!p.since || !p.since->valid) return {false, t.next_sequence()};
    return t.resume(p.since->position);
}

// A long poll must answer now: the client is new to the topic, lost its place, or has news.
template <class Entry>
bool answer_now(const polled_topic<Entry>& p) {
    if (!p.since) return true;
    auto r = resumption_of(p);
    return !r.recovered || r.from < p.topic().next_sequence();
}

// One topic's entry, as /poll/{topic} would answer it alone (long_poll.hpp).
template <class Entry>
void append_long_poll_batch(std::string& out, const polled_topic<Entry>& p, batch_limits limits) {
    const hub::topic& t = p.topic();
    if (!p.since) {   // its position only
        append_batch(out, t, t.next_sequence(), true, {0, 0}, 0);
        return;
    }
    auto resume = resumption_of(p);
    if (resume.recovered) append_batch(out, t, resume.from, true, limits, 0, p.since->position.epoch);
    else if (p.entry->conflating) append_latest_per_key(out, t, false, limits, 0);   // the state: every key's latest
    else append_batch(out, t, t.next_sequence(), false, limits, 0);
}

// One topic's entry, as /status/{topic} would answer it alone (short_poll.hpp); `tag` gains what
// the entry depends on, for the answer's ETag.
template <class Entry>
void append_short_poll_batch(std::string& out, std::string& tag, const polled_topic<Entry>& p, batch_limits limits) {
    const hub::topic& t = p.topic();
    hub::resumption resume{false, t.next_sequence()};
    if (p.since) resume = resumption_of(p);
    std::uint64_t from = resume.recovered ? resume.from : t.next_sequence();
    if (!resume.recovered && t.next_sequence() > t.oldest_retained()) from = t.next_sequence() - 1;   // the latest
    bool recovered = resume.recovered || !p.since;
    bool whole_state = p.entry->conflating && !resume.recovered;
    tag.append(p.name()).push_back('@');
    tag.append(hub::to_string(t.position())).append(whole_state ? ".state" : "." + std::to_string(from));
    tag.append(recovered ? ";" : ".r;");
    if (whole_state) append_latest_per_key(out, t, recovered, limits, 0);
    else append_batch(out, t, from, recovered, limits, 0, resume.recovered ? p.since->position.epoch : 0);
}

// A short name for a long tag: FNV-1a 64 of it, and its length. A collision would answer 304 to a
// changed state once, until either changes again; at 2^-64 per pair, a risk taken for a header
// that stays short however many topics a poll names.
inline std::string digest_tag(std::string_view tag) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : tag) h = (h ^ c) * 0x100000001b3ULL;
    char text[40];
    auto* end = std::to_chars(text, text + 20, h, 16).ptr;
    *end++ = '.';
    end = std::to_chars(end, text + sizeof text, tag.size(), 16).ptr;
    return {text, end};
}

// The byte bound of one answer shared by its topics; each still takes its first message whole.
inline batch_limits per_topic_limits(std::size_t max_messages, std::size_t max_bytes, std::size_t topics) {
    return {max_messages, topics > 1 ? max_bytes / topics : max_bytes};
}

// {"topics":{...},"refused":{...}} with `entry(out, topic)` writing each topic's batch.
template <class Entry, class Write>
std::string many_answer(const polled_topics<Entry>& r, Write&& entry) {
    std::string body = "{\"topics\":{";
    for (std::size_t i = 0; i < r.topics.size(); ++i) {
        if (i) body.push_back(',');
        json::escape_quoted(body, r.topics[i].name());
        body.push_back(':');
        entry(body, r.topics[i]);
    }
    body.append("},\"refused\":{").append(r.refused).append("}}");
    return body;
}

template <class Entry>
std::string long_poll_answer(const polled_topics<Entry>& r, const long_poll_options& o) {
    auto limits = per_topic_limits(o.max_batch, o.max_batch_bytes, r.topics.size());
    return many_answer(r, [&](std::string& out, const auto& p) { append_long_poll_batch(out, p, limits); });
}

// `admit(request) -> Admit`: authorizes the whole request (throw http::error(401/403)) and returns
// the per-topic check admit_polled_topics() takes.
template <class Server, class AdmitRequest>
auto long_poll_many_handler(Server& server, long_poll_options o, std::size_t max_topics, AdmitRequest admit_request) {
    return [&server, o, max_topics, admit_request](http::request& req, http::response& res) {
        if (o.authorize) o.authorize(req);
        auto polled = admit_polled_topics(server, req, max_topics, admit_request(req), res);
        if (!polled) return;
        bool now = polled->topics.empty();
        for (const auto& p : polled->topics) now = now || answer_now(p);
        if (now) {
            res.header("Cache-Control", "no-store").json(long_poll_answer(*polled, o));
            return;
        }
        auto& thread = server.current_thread();
        std::vector<net::many_topics_waiter::watch> watches;
        for (const auto& p : polled->topics) {
            watches.push_back({&p.entry->group_for(thread, p.entry->handle), resumption_of(p).from});
        }
        hold_long_poll(server, req, res, o.max_held_per_client, [&](std::function<void()> on_done) {
            return std::make_unique<net::many_topics_waiter>(
                std::move(watches), o.timeout,
                [polled = std::move(*polled), o](http::response& out) {
                    out.header("Cache-Control", "no-store").json(long_poll_answer(polled, o));
                },
                std::move(on_done));
        });
    };
}

template <class Server, class AdmitRequest>
auto short_poll_many_handler(Server& server, short_poll_options o, std::size_t max_topics, AdmitRequest admit_request) {
    return [&server, o, max_topics, admit_request](http::request& req, http::response& res) {
        if (o.authorize) o.authorize(req);
        server.current_thread().stats.short_polls.add();
        auto polled = admit_polled_topics(server, req, max_topics, admit_request(req), res);
        if (!polled) return;
        auto limits = per_topic_limits(o.max_batch, o.max_batch_bytes, polled->topics.size());
        std::string tag = polled->refused;
        std::string body = many_answer(*polled, [&](std::string& out, const auto& p) {
            append_short_poll_batch(out, tag, p, limits);
        });
        // The answer depends only on what `tag` gathered: a digest of it names this answer.
        std::string etag = "\"" + digest_tag(tag) + "\"";
        if (not_modified(req, res, etag, o.interval)) return;
        res.json(std::move(body));
    };
}

} // namespace tether::poll
