#pragma once
// Short polling over a topic (app.short_poll): GET answers at once with what is newer than
// ?since= (or, without it, the latest message as the current state), with a strong ETag, 304
// for If-None-Match (RFC 9110 §13.1.2), and a poll interval hint (X-Poll-Interval-Ms).
//
// When the history no longer covers ?since= (a slow poller on a busy topic) the answer is the
// current state with recovered=false: the newest message, or for a conflating topic the newest
// message of every key, since there the state is one value per key (a dashboard's gauges).
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>

#include <tether/http/etag.hpp>
#include <tether/http/query.hpp>
#include <tether/http/request.hpp>
#include <tether/http/response.hpp>
#include <tether/hub/backpressure.hpp>
#include <tether/hub/topic.hpp>
#include <tether/poll/batch.hpp>

namespace tether {

struct short_poll_options {
    // Runs first on every poll: throw http::error(401/403, ...) to refuse (see auth/jwt.hpp).
    std::function<void(const http::request&)> authorize{};
    std::chrono::milliseconds interval{2'000};
    std::size_t max_batch = 100;                 // messages per answer
    std::size_t max_batch_bytes = 1024 * 1024;   // message bytes per answer (at least one message)
};

namespace poll {

// Sets a short poll answer's validators (its ETag, no-cache, the interval hint); true, with 304
// set, when the client already has this answer (If-None-Match, RFC 9110 §13.1.2).
inline bool not_modified(const http::request& req, http::response& res, const std::string& etag,
                         std::chrono::milliseconds interval) {
    res.header("ETag", etag).header("Cache-Control", "no-cache").header("X-Poll-Interval-Ms", std::to_string(interval.count()));
    if (auto inm = req.header("if-none-match"); inm && http::etag_list_matches(*inm, etag)) {
        res.status(304);
        return true;
    }
    return false;
}

template <class Policy, class Server>
auto short_poll_handler(Server& server, hub::topic_handle handle, short_poll_options o) {
    return [&server, handle = std::move(handle), o](http::request& req, http::response& res) {
        constexpr bool conflating = std::is_same_v<Policy, hub::backpressure::conflate>;
        if (o.authorize) o.authorize(req);
        server.current_thread().stats.short_polls.add();
        const hub::topic& topic = *handle;
        auto since = http::find_query_param(req.query_string(), "since");
        hub::resumption resume{false, topic.next_sequence()};
        auto cursor = since ? hub::parse_cursor(*since) : std::nullopt;
        if (cursor) resume = topic.resume(*cursor);
        std::uint64_t from = resume.recovered ? resume.from : topic.next_sequence();
        if (!resume.recovered && topic.next_sequence() > topic.oldest_retained())   // the latest state
            from = topic.next_sequence() - 1;
        bool recovered = resume.recovered || !since;
        bool whole_state = conflating && !resume.recovered;   // every key's latest, not a replay
        // The answer depends only on (from or "state", the topic's position, recovered): the tag.
        std::string etag = "\"" + hub::to_string(topic.position()) + "." +
                           (whole_state ? std::string("state") : std::to_string(from)) + (recovered ? "" : ".r") + "\"";
        if (not_modified(req, res, etag, o.interval)) return;
        std::string body;
        if (whole_state) append_latest_per_key(body, topic, recovered, {o.max_batch, o.max_batch_bytes}, 0);
        else append_batch(body, topic, from, recovered, {o.max_batch, o.max_batch_bytes}, 0, resume.recovered ? cursor->epoch : 0);
        res.json(std::move(body));
    };
}

} // namespace poll
} // namespace tether
