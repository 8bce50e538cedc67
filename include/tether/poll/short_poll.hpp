#pragma once
// Short polling over a topic (app.short_poll): GET answers at once with what is newer than
// ?since= (or, without it, the latest message as the current state), with a strong ETag, 304
// for If-None-Match (RFC 9110 §13.1.2), and a poll interval hint (X-Poll-Interval-Ms).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include <tether/http/etag.hpp>
#include <tether/http/query.hpp>
#include <tether/http/request.hpp>
#include <tether/http/response.hpp>
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

inline auto short_poll_handler(hub::topic_handle handle, short_poll_options o) {
    return [handle = std::move(handle), o](http::request& req, http::response& res) {
        if (o.authorize) o.authorize(req);
        const hub::topic& topic = *handle;
        auto since = http::find_query_param(req.query_string(), "since");
        hub::resumption resume{false, topic.next_sequence()};
        if (since) resume = topic.resume(*since);
        std::uint64_t from = resume.recovered ? resume.from : topic.next_sequence();
        if (!resume.recovered && topic.next_sequence() > topic.oldest_retained())   // the latest state
            from = topic.next_sequence() - 1;
        bool recovered = resume.recovered || !since;
        // The answer depends only on (from, the topic's position, recovered): that is the tag.
        std::string etag =
            "\"" + hub::to_string(topic.position()) + "." + std::to_string(from) + (recovered ? "" : ".r") + "\"";
        res.header("ETag", etag)
            .header("Cache-Control", "no-cache")
            .header("X-Poll-Interval-Ms", std::to_string(o.interval.count()));
        if (auto inm = req.header("if-none-match"); inm && http::etag_list_matches(*inm, etag)) {
            res.status(304);
            return;
        }
        std::string body;
        append_batch(body, topic, from, recovered, {o.max_batch, o.max_batch_bytes}, 0);
        res.json(std::move(body));
    };
}

} // namespace poll
} // namespace tether
